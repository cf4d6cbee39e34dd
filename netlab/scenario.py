"""Running a scenario's checks against a deployed lab: results, timings, progress; no rendering.

:func:`run_checks` evaluates each check of ``topo.expect`` with a prober
(:mod:`netlab.probes`) and returns a :class:`Report` of :class:`CheckResult`.
A check that cannot be run (e.g. an address nobody owns as a tcp target) is a
failed result whose detail says why, so one bad check never hides the others.
:func:`write_hosts` writes the hosts file of every sandbox (what the ``names``
check resolves against); :func:`prober_for` picks real traffic on the kernel
and the packet walker elsewhere. Front ends (``netlab test``, the pytest
plugin, :class:`netlab.Lab`) render the report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from netlab.backends import Backend
from netlab.checks import describe, evaluate
from netlab.errors import NetlabError
from netlab.harness_matrix import MatrixResult
from netlab.harness_model import DeployedLab
from netlab.model import Check
from netlab.probes import Prober, WalkProber

__all__ = ["CheckResult", "Progress", "Report", "prober_for", "run_check", "run_checks", "write_hosts"]

logger = logging.getLogger(__name__)

#: progress callback: (checks done, checks in all, what is being done)
Progress = Callable[[int, int, str], None]


def _quiet(done: int, total: int, label: str) -> None:
    del done, total, label


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's result: ``expected`` / ``observed`` in words, ``seconds`` it took, ``detail`` on why."""

    check: Check
    expected: str
    observed: str
    passed: bool
    seconds: float
    detail: str = ""
    matrix: MatrixResult | None = None

    @property
    def label(self) -> str:
        return describe(self.check)


@dataclass(slots=True)
class Report:
    """Every check's result for one lab."""

    lab: str
    backend: str
    prober: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [result for result in self.results if not result.passed]

    @property
    def matrix(self) -> MatrixResult | None:
        """The reachability matrix of a ``reachability: full`` check, if the scenario has one."""
        return next((r.matrix for r in self.results if r.matrix is not None), None)


def run_check(view: DeployedLab, prober: Prober, check: Check) -> CheckResult:
    """Evaluate one check and time it; a check that cannot be run is a failed result (``observed`` = error)."""
    start = time.perf_counter()
    try:
        outcome = evaluate(view, prober, check)
    except NetlabError as exc:
        logger.info("check %s (%s) cannot run: %s", check.path, describe(check), exc)
        return CheckResult(check, "-", "error", False, time.perf_counter() - start, str(exc))
    seconds = time.perf_counter() - start
    logger.info("check %s: expected %s, observed %s (%.3f s)", describe(check), outcome.expected, outcome.observed,
                seconds)
    return CheckResult(check, outcome.expected, outcome.observed, outcome.passed, seconds, outcome.detail,
                       outcome.matrix)


def run_checks(view: DeployedLab, prober: Prober, checks: Sequence[Check], backend: str,
               progress: Progress = _quiet) -> Report:
    """Run ``checks`` in order; ``progress`` is told before each check and after the last."""
    report = Report(view.lab, backend, prober.name)
    for index, check in enumerate(checks):
        progress(index, len(checks), describe(check))
        report.results.append(run_check(view, prober, check))
    progress(len(checks), len(checks), "done")
    return report


def write_hosts(view: DeployedLab, backend: Backend) -> int:
    """Write each sandbox's hosts file (:meth:`DeployedLab.hosts_entries`); returns how many were written.

    Sandboxes on the ``host`` driver share their host's namespace and have no
    named networks: nothing is written for them.
    """
    written = 0
    for sandbox in view.sandboxes:
        if view.shares_host_ns(sandbox):
            continue
        backend.write_hosts(view.sandbox_ns(sandbox), view.hosts_entries(sandbox))
        written += 1
    return written


def prober_for(backend: Backend, walker: Callable[[], WalkProber]) -> Prober:
    """Real traffic on the kernel backend (failures explained by ``walker()``, the packet walker over the lab's
    snapshot, asked for only when first needed); ``walker()`` itself elsewhere."""
    if backend.name == "kernel":
        from netlab.probes_kernel import KernelProber

        return KernelProber(backend, explainer=walker)
    return walker()
