"""The harness on the simulator: the packet walker answers the same checks as real traffic does; the Lab API."""

from __future__ import annotations

from pathlib import Path

import pytest

import netlab
from netlab.errors import BackendError, InvalidRequestError, NotFoundError, NotSupportedError, ValidationError
from netlab.labapi import Lab
from netlab.loading import load_text
from netlab.probes import Listener, WalkProber
from netlab.runtime import open_backend, open_store
from netlab.validation import load_valid
from tests.test_scenario_kernel import FAILING, LAB, PASSING

ROOT = Path(__file__).parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture
def sim(tmp_path: Path) -> Lab:
    return Lab.up(load_text("name: simlab\n" + LAB + PASSING), backend="sim", state_dir=tmp_path)


def labs_in(state: Path) -> list[str]:
    store = open_store(state)
    try:
        return store.labs()
    finally:
        store.close()


def test_the_walker_passes_what_real_traffic_passes(sim: Lab) -> None:
    with sim:
        report = sim.run_checks()
    assert [(r.label, r.observed, r.detail) for r in report.failures] == []
    assert report.prober == "walker (simulated snapshot)" and len(report.results) == 18
    assert report.matrix is not None and report.matrix.disagreements() == []


def test_the_walker_fails_what_real_traffic_fails(sim: Lab) -> None:
    with sim:
        report = sim.run_checks(list(load_text(LAB + FAILING).expect))
    assert [r.passed for r in report.results] == [False] * 8
    by_kind = {r.check.kind: r for r in report.results}
    assert by_kind["mtu"].observed == "1400" and by_kind["tcp"].observed == "connects"
    assert "DROPPED" in by_kind["reach"].detail  # the walk says where and why


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_passes_on_the_simulator(path: Path, tmp_path: Path) -> None:
    with Lab.up(path, backend="sim", state_dir=tmp_path) as lab:
        report = lab.run_checks()
    assert report.results, f"{path.name} has no checks"
    assert [(r.label, r.expected, r.observed, r.detail) for r in report.failures] == []
    assert labs_in(tmp_path) == []


def test_progress_is_reported_per_check(sim: Lab) -> None:
    calls: list[tuple[int, int, str]] = []
    first_three = list(load_text(LAB + PASSING).expect)[:3]
    with sim:
        sim.run_checks(first_three, progress=lambda done, total, label: calls.append((done, total, label)))
    assert calls == [(0, 3, "reach app -> www"), (1, 3, "reach o1 -> o2"), (2, 3, "reach app -> db on vault"),
                     (3, 3, "done")]


def test_lab_api_on_the_simulator(tmp_path: Path) -> None:
    with netlab.Lab.up(load_text("name: api\n" + LAB), state_dir=tmp_path) as lab:
        assert lab.backend.name == "simulated" and lab.name == "api"
        assert lab.ping("app", "www") and not lab.ping("q1", "q2") and lab.ping("o2", "internet")
        assert lab.ping("app", "db", network="vault")
        found = lab.trace("app", "web", port="80/tcp")
        assert found.ok and found.final_port == 80
        assert not lab.trace("q1", "q2").ok
        assert "10.81.1.10/24" in lab.exec("web", ["ip", "-br", "addr"]).stdout
        assert lab.exec("app", ["getent", "hosts", "www"]).stdout.split() == ["10.81.1.10", "web", "www"]
        with pytest.raises(NotSupportedError):
            lab.exec("app", ["ping", "-c1", "10.81.1.10"])
        assert lab.check("tcp", src="app", to="web", port=443).passed
        assert not lab.check("reach", src="q1", to="q2").passed
        matrix = lab.matrix()
        assert matrix.disagreements() == [] and matrix.pairs > 0
        assert labs_in(tmp_path) == ["api"]
    assert labs_in(tmp_path) == []


def test_the_walk_prober_needs_a_listener_on_the_port(sim: Lab) -> None:
    with sim:
        prober = WalkProber(sim.backend, sim.namespaces())
        app, web = sim.view.sandbox_ns("app"), sim.view.sandbox_ns("web")
        assert prober.connect(app, "10.81.1.10", 80, "tcp", Listener(web, 80, "tcp"))
        assert not prober.connect(app, "10.81.1.10", 80, "tcp", None)
        assert not prober.connect(app, "10.81.1.10", 80, "tcp", Listener(web, 81, "tcp"))
        assert not prober.connect(app, "10.81.1.10", 80, "tcp", Listener(web, 80, "udp"))
        assert not prober.connect(app, "10.81.1.10", 80, "tcp", Listener(app, 80, "tcp"))


def test_the_lab_is_taken_down_when_the_block_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="inside"), Lab.up(load_text("name: oops\n" + LAB), state_dir=tmp_path):
        assert labs_in(tmp_path) == ["oops"]
        raise RuntimeError("inside")
    assert labs_in(tmp_path) == []


def test_an_invalid_scenario_deploys_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Lab.up(load_text("name: bad\n" + LAB.replace("overlay", "overlya")), state_dir=tmp_path)
    assert labs_in(tmp_path) == []


def test_keep_attach_and_twin(tmp_path: Path) -> None:
    topo, _ = load_valid(ROOT / "scenarios" / "three-host-mix.yaml")
    with Lab.up(topo, name="kept", keep=True, state_dir=tmp_path) as lab:
        assert lab.name == "kept" and topo.name == "three-host-mix"  # the caller's model is not renamed
    with Lab.attach("kept", state_dir=tmp_path) as again:
        assert again.ping("lb", "web2")
        with again.twin() as twin:
            assert twin.store is not again.store and twin.view.addressing == again.view.addressing
            assert twin.matrix().observed == again.matrix().observed
        with pytest.raises(InvalidRequestError, match="deployed on the simulated backend, not kernel"):
            Lab.attach("kept", state_dir=tmp_path, backend="kernel")
        again.down()
    with pytest.raises(NotFoundError, match="lab 'kept' is not deployed"):
        Lab.attach("kept", state_dir=tmp_path)


def test_a_deploy_that_fails_half_way_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import netlab.labapi

    def broken(view: object, backend: object) -> int:
        raise BackendError("hosts file: disk full", 28)

    monkeypatch.setattr(netlab.labapi, "write_hosts", broken)
    with pytest.raises(BackendError, match="disk full"):
        Lab.up(load_text("name: half\n" + LAB), state_dir=tmp_path)
    assert labs_in(tmp_path) == []
    store = open_store(tmp_path)
    try:
        backend = open_backend("sim", store)
        assert [ns for ns in backend.namespaces() if ns.startswith("nl-half-")] == []
    finally:
        store.close()


def test_refresh_sees_a_container_moved_through_the_controller(tmp_path: Path) -> None:
    text = ("name: mover\nhosts: [h1, h2]\nnetworks:\n  ov: {driver: overlay, subnet: 10.88.0.0/24}\n"
            "containers:\n  a: {host: h1, networks: [ov]}\n  b: {host: h2, networks: [ov]}\n")
    with netlab.Lab.up(load_text(text), state_dir=tmp_path) as lab:
        assert lab.ping("a", "b")
        lab.controller.new_sandbox("c", host="h2")
        lab.controller.join("c", "ov")
        with pytest.raises(NotFoundError):
            lab.ping("a", "c")              # the cached view does not know c yet
        lab.refresh()
        assert lab.ping("a", "c") and lab.ping("c", "a")
        assert lab.exec("a", ["getent", "hosts", "c"]).returncode == 0
