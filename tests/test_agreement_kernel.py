"""Agreement: for every scenario in scenarios/, the simulator predicts exactly the reachability real traffic shows.

Each scenario is deployed on the kernel under a unique lab name. Its full
matrix (every sandbox x every address of every sandbox) is observed with real
pings (:class:`~netlab.probes_kernel.KernelProber`) and compared with:

* the packet walker over a simulated deploy of the same model and addresses
  (:meth:`netlab.Lab.twin`): the simulator's prediction;
* the packet walker over the kernel lab's own snapshot: what the walker reads
  from the real state must predict the same;
* the model's implication (:mod:`netlab.harness_matrix`).

Any disagreement is a bug in one of them; the assertion names every
disagreeing pair.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab.harness_matrix import expected_matrix
from netlab.harness_model import Column
from netlab.labapi import Lab
from netlab.loading import load_text
from netlab.model import Topology
from netlab.probes_kernel import KernelProber
from netlab.validation import load_valid
from tests.kernel_helpers import lab_namespaces, unique_lab
from tests.test_checks import RICH

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel_ok")]

ROOT = Path(__file__).parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def differences(label: str, sources: list[str], columns: list[Column], observed: list[list[bool]],
                other: list[list[bool]] | list[list[bool | None]]) -> list[str]:
    lines = []
    for src, real, claimed in zip(sources, observed, other, strict=True):
        for col, got, said in zip(columns, real, claimed, strict=True):
            if said is not None and src != col.sandbox and got != said:
                lines.append(f"{label}: {src} -> {col.sandbox} {col.ip} ({col.network}): kernel "
                             f"{'reachable' if got else 'no answer'}, {label} {'reachable' if said else 'no answer'}")
    return lines


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 6


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_simulator_and_kernel_agree(path: Path, tmp_path: Path) -> None:
    topo, _ = load_valid(path)
    assert_agreement(topo, path.name, tmp_path)


def test_simulator_and_kernel_agree_on_every_driver(tmp_path: Path) -> None:
    """The host and null drivers, macvlan, ICC off, internal and unmasqueraded bridges in one lab."""
    assert_agreement(load_text(RICH), "the rich lab of tests/test_checks.py", tmp_path)


def assert_agreement(topo: Topology, what: str, tmp_path: Path) -> None:
    topo.name = unique_lab()
    with Lab.up(topo, backend="kernel", state_dir=tmp_path) as real:
        view = real.view
        model = expected_matrix(view)
        sources = [view.sandbox_ns(s) for s in model.sources]
        targets = [(view.sandbox_ns(c.sandbox), c.ip) for c in model.columns]
        observed = KernelProber(real.backend).matrix(sources, targets)
        read_back = real.walker().matrix(sources, targets)
        with real.twin() as simulated:
            predicted = simulated.walker().matrix(sources, targets)
    assert lab_namespaces(topo.name) == []
    assert model.pairs > 0
    wrong = (differences("simulator", model.sources, model.columns, observed, predicted)
             + differences("walker on the kernel snapshot", model.sources, model.columns, observed, read_back)
             + differences("model", model.sources, model.columns, observed, model.expected))
    assert not wrong, f"{what}: {len(wrong)} disagreement(s):\n" + "\n".join(wrong)
