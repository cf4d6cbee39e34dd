"""The harness on the real kernel: every check kind passing and failing with real traffic, nothing left behind."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from netlab.backends import DeleteLink
from netlab.backends.netns import run_in_namespace
from netlab.harness_listen import try_connect
from netlab.harness_matrix import expected_matrix
from netlab.labapi import Lab
from netlab.loading import load_text
from netlab.model import Topology
from netlab.validation import load_valid
from tests.kernel_helpers import lab_namespaces, topology, unique_lab
from tests.test_checks import RICH, RICH_REACHES

pytestmark = pytest.mark.kernel

LAB = """
hosts: [h1, h2]
networks:
  front: {host: h1, subnet: 10.81.1.0/24, mtu: 1400}
  quiet: {host: h1, subnet: 10.81.2.0/24, options: {com.docker.network.bridge.enable_icc: "false"}}
  vault: {host: h1, subnet: 10.81.3.0/24, internal: true}
  ov: {driver: overlay, subnet: 10.81.6.0/24}
containers:
  web: {host: h1, networks: {front: {ip: 10.81.1.10, aliases: [www]}}, ports: ["8080:80/tcp", "5353:53/udp"]}
  app: {host: h1, networks: [front, vault]}
  q1: {host: h1, networks: [quiet]}
  q2: {host: h1, networks: [quiet]}
  db: {host: h1, networks: {vault: {aliases: [data]}}}
  o1: {host: h1, networks: [ov]}
  o2: {host: h2, networks: [ov]}
"""

PASSING = """
expect:
  - reach: {from: app, to: www}
  - reach: {from: o1, to: o2}
  - reach: {from: app, to: db, network: vault}
  - isolated: {from: q1, to: q2}
  - isolated: {from: o1, to: web}
  - tcp: {from: app, to: web, port: 80}
  - tcp: {from: q1, to: q2, port: 80, expect: fail}
  - udp: {from: o2, to: o1, port: 53}
  - udp: {from: db, to: web, port: 53, expect: fail}
  - names: {from: app, names: [web, www, db, data]}
  - mtu: {from: o1, to: o2, expect: 1450}
  - mtu: {from: app, to: web, expect: 1400}
  - external: {from: o2}
  - external: {from: db, expect: fail}
  - published: {host: h1, port: 8080, from: internet}
  - published: {host: h1, port: 5353, protocol: udp, from: h2}
  - published: {host: h1, port: 8081, from: internet, expect: fail}
  - reachability: full
"""

FAILING = """
expect:
  - reach: {from: q1, to: q2}
  - isolated: {from: app, to: web}
  - tcp: {from: app, to: db, port: 5432, expect: fail}
  - udp: {from: db, to: web, port: 53}
  - names: {from: db, names: [web]}
  - mtu: {from: app, to: web, expect: 1500}
  - external: {from: db}
  - published: {host: h1, port: 8080, from: internet, expect: fail}
"""


@pytest.fixture(scope="module")
def lab(kernel_reason: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One kernel lab for the module (the `kernel_ok` rule: skipped without root, a failure in CI)."""
    if kernel_reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"kernel tests must run in CI, but: {kernel_reason}")
        pytest.skip(kernel_reason)
    topo = topology(LAB)
    with Lab.up(topo, backend="kernel", state_dir=tmp_path_factory.mktemp("state")) as deployed:
        yield deployed
    assert lab_namespaces(topo.name) == []


def checks_of(text: str) -> list:  # type: ignore[type-arg]
    return list(load_text(LAB + text).expect)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_every_check_kind_passes_against_real_traffic(lab: Lab) -> None:
    fds = open_fds()
    report = lab.run_checks(checks_of(PASSING))
    failed = [(r.label, r.expected, r.observed, r.detail) for r in report.failures]
    assert failed == []
    assert report.prober == "kernel traffic" and len(report.results) == 18
    assert report.matrix is not None and report.matrix.pairs > 0
    assert not [t.name for t in threading.enumerate() if t.name.startswith("listen-")]
    assert open_fds() == fds  # every raw socket, listener and client was closed


def test_every_check_kind_fails_when_reality_differs(lab: Lab) -> None:
    report = lab.run_checks(checks_of(FAILING))
    assert [(r.check.kind, r.passed) for r in report.results] == [
        ("reach", False), ("isolated", False), ("tcp", False), ("udp", False), ("names", False), ("mtu", False),
        ("external", False), ("published", False)]
    by_kind = {r.check.kind: r for r in report.results}
    assert by_kind["reach"].observed == "no answer" and by_kind["isolated"].observed == "reachable"
    assert by_kind["tcp"].observed == "connects" and by_kind["published"].observed == "answers"
    assert by_kind["mtu"].observed == "1400"
    assert by_kind["names"].observed == "web=unresolved" and "not a container or alias" in by_kind["names"].detail


def test_listeners_release_their_ports(lab: Lab) -> None:
    assert lab.check("tcp", **{"from": "app", "to": "web", "port": 9000}).passed
    assert lab.check("udp", **{"from": "app", "to": "web", "port": 9000}).passed
    ns = lab.view.sandbox_ns("web")

    def bind_again() -> None:  # EADDRINUSE if a listener were still there
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the server's side of a closed connection
            tcp.bind(("0.0.0.0", 9000))                                 # may wait in TIME_WAIT; a listener may not
            tcp.listen(1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("0.0.0.0", 9000))

    run_in_namespace(ns, bind_again)
    # nothing answers there any more: any answer at all would do (token None), and none comes
    assert not try_connect(lab.view.sandbox_ns("app"), "10.81.1.10", 9000, "tcp", None, timeout=1.0)
    assert not try_connect(lab.view.sandbox_ns("app"), "10.81.1.10", 9000, "udp", None, timeout=1.0)


def test_reachability_detects_a_broken_lab(kernel_ok: None, tmp_path: Path) -> None:
    topo = topology(LAB)
    with Lab.up(topo, backend="kernel", state_dir=tmp_path) as broken:
        assert broken.check("reachability").passed
        broken.backend.apply([DeleteLink(broken.view.sandbox_ns("o2"), "eth0")])  # o2 loses its overlay interface
        result = broken.check("reachability")
    assert not result.passed and result.observed == "2 pair(s) differ"
    assert result.detail.splitlines() == [
        "o1 -> o2 10.81.6.3 (ov): expected reachable, observed no answer",
        "o2 -> o1 10.81.6.2 (ov): expected reachable, observed no answer"]


def test_the_model_matches_the_kernel_on_every_driver(kernel_ok: None, tmp_path: Path) -> None:
    topo = topology(RICH)
    with Lab.up(topo, backend="kernel", state_dir=tmp_path) as rich:
        result = rich.matrix()
    assert lab_namespaces(topo.name) == []
    assert result.disagreements() == []
    observed = {src: {f"{c.sandbox}@{c.network}" for c, got in zip(result.columns, row, strict=True)
                      if got and c.sandbox != src}
                for src, row in zip(result.sources, result.observed, strict=True)}
    assert observed == RICH_REACHES
    assert expected_matrix(rich.view).expected == result.expected


def test_lab_api_and_teardown_on_error(kernel_ok: None, tmp_path: Path) -> None:
    topo: Topology = topology(LAB)
    with pytest.raises(RuntimeError, match="boom"), Lab.up(topo, backend="kernel", state_dir=tmp_path) as lab:
        assert lab.ping("app", "web") and not lab.ping("q1", "q2") and lab.ping("o2", "internet")
        assert "10.81.1.10" in lab.exec("web", ["ip", "-br", "addr"]).stdout
        raise RuntimeError("boom")
    assert lab_namespaces(topo.name) == []


SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_passes_on_the_kernel(path: Path, kernel_ok: None, tmp_path: Path) -> None:
    topo, _ = load_valid(path)
    topo.name = unique_lab()
    with Lab.up(topo, backend="kernel", state_dir=tmp_path) as real:
        report = real.run_checks()
    assert lab_namespaces(topo.name) == []
    assert report.results, f"{path.name} has no checks"
    assert [(r.label, r.expected, r.observed, r.detail) for r in report.failures] == []
