"""Controller on the simulated backend: up, reconcile, down, journal recovery, libnetwork verbs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from netlab.backends import DeleteNamespace, Step
from netlab.backends.simulated import SimulatedBackend
from netlab.controller import Controller
from netlab.errors import ConflictError, NotFoundError, ValidationError
from netlab.loading import load_text
from netlab.model import Topology
from netlab.naming import lab_prefix
from netlab.store import SqliteStore
from netlab.validation import load_valid

ROOT = Path(__file__).parent.parent

LAB = """
name: t
hosts: [h1]
networks:
  front: {subnet: 10.0.1.0/24}
  back: {internal: true}
containers:
  web: {networks: {front: {aliases: [www]}}, ports: ["8080:80"]}
  app: {networks: [front, back]}
"""


class Crash(Exception):
    """Stands for SIGKILL: the process stops between two steps."""


class CrashingBackend(SimulatedBackend):
    def __init__(self, after: int) -> None:
        super().__init__()
        self.left = after

    def apply(self, steps: Sequence[Step]) -> None:
        for step in steps:
            if self.left == 0:
                raise Crash()
            self.left -= 1
            super().apply([step])


@pytest.fixture
def store() -> SqliteStore:
    return SqliteStore(":memory:")


def lab_namespaces(backend: SimulatedBackend, lab: str = "t") -> list[str]:
    return [ns for ns in backend.namespaces() if ns.startswith(lab_prefix(lab))]


def deploy(text: str = LAB, store: SqliteStore | None = None,
           backend: SimulatedBackend | None = None) -> tuple[Controller, SimulatedBackend]:
    backend = backend or SimulatedBackend()
    controller = Controller("t", backend, store or SqliteStore(":memory:"))
    controller.up(load_text(text))
    return controller, backend


class TestUp:
    def test_creates_every_namespace(self) -> None:
        _, backend = deploy()
        assert lab_namespaces(backend) == sorted(
            ["nl-t-underlay", "nl-t-internet", "nl-t-h-h1", "nl-t-s-web", "nl-t-s-app"])

    def test_sandbox_interfaces_addresses_and_routes(self) -> None:
        _, backend = deploy()
        app = backend.snapshot(["nl-t-s-app"])["nl-t-s-app"]
        assert set(app.links) == {"lo", "eth0", "eth1"}
        assert ("eth0", "10.0.1.2/24") in app.addresses
        assert app.links["eth0"].mac == "02:42:0a:00:01:02"
        assert app.routes == {("default", "10.0.1.1", "eth0")}
        host = backend.snapshot(["nl-t-h-h1"])["nl-t-h-h1"]
        assert {"br-front", "br-back", "eth0"} <= set(host.links)
        assert ("br-front", "10.0.1.1/24") in host.addresses
        assert host.sysctls["net.ipv4.ip_forward"] == "1"
        assert host.ruleset is not None

    def test_internal_network_gives_no_default_route(self) -> None:
        _, backend = deploy("name: t\nhosts: [h1]\nnetworks: {in: {internal: true}}\n"
                            "containers: {db: {networks: [in]}}\n")
        assert backend.snapshot(["nl-t-s-db"])["nl-t-s-db"].routes == set()

    def test_up_twice_changes_nothing(self) -> None:
        controller, backend = deploy()
        before = backend.snapshot(lab_namespaces(backend))
        change = controller.up(load_text(LAB))
        assert change.created == [] and change.removed == [] and change.updated == []
        assert backend.snapshot(lab_namespaces(backend)) == before

    def test_invalid_model_touches_nothing(self) -> None:
        controller, backend = deploy()
        before = backend.snapshot(lab_namespaces(backend))
        with pytest.raises(ValidationError):
            controller.up(load_text(LAB.replace("10.0.1.0/24", "10.0.1.7/24")))
        assert backend.snapshot(lab_namespaces(backend)) == before

    def test_wrong_lab_name(self, store: SqliteStore) -> None:
        with pytest.raises(ConflictError):
            Controller("other", SimulatedBackend(), store).up(load_text(LAB))


class TestReconcile:
    def test_adding_a_container_touches_nothing_else(self) -> None:
        controller, backend = deploy()
        before = backend.snapshot(lab_namespaces(backend))
        change = controller.up(load_text(LAB + "  aaa: {networks: [front]}\n"))
        assert set(change.created) == {"ns/sbx/aaa", "ep/aaa/front", "route/aaa"}
        assert change.updated == ["rules/h1"] or change.updated == []
        after = backend.snapshot(lab_namespaces(backend))
        for ns in ("nl-t-s-web", "nl-t-s-app"):
            assert after[ns] == before[ns]
            assert {n: lk.ifindex for n, lk in after[ns].links.items()} == {
                n: lk.ifindex for n, lk in before[ns].links.items()}
        # the newcomer sorts first but does not take anybody's address
        assert ("eth0", "10.0.1.4/24") in after["nl-t-s-aaa"].addresses

    def test_removing_a_container(self) -> None:
        controller, backend = deploy()
        text = LAB.replace("  app: {networks: [front, back]}\n", "")
        change = controller.up(load_text(text))
        assert set(change.removed) >= {"ns/sbx/app", "ep/app/front", "ep/app/back"}
        assert "nl-t-s-app" not in backend.namespaces()
        assert "ve-app-0" not in backend.snapshot(["nl-t-h-h1"])["nl-t-h-h1"].links

    def test_removing_a_network_from_a_container_keeps_its_other_interface(self) -> None:
        controller, backend = deploy()
        before = backend.snapshot(["nl-t-s-app"])["nl-t-s-app"].links["eth0"]
        controller.up(load_text(LAB.replace("app: {networks: [front, back]}", "app: {networks: [front]}")))
        links = backend.snapshot(["nl-t-s-app"])["nl-t-s-app"].links
        assert set(links) == {"lo", "eth0"} and links["eth0"].ifindex == before.ifindex

    def test_changing_a_subnet_rebuilds_that_network_and_its_endpoints(self) -> None:
        controller, backend = deploy()
        change = controller.up(load_text(LAB.replace("10.0.1.0/24", "10.0.2.0/24")))
        assert {"net/front@h1", "ep/web/front", "ep/app/front"} <= set(change.created)
        assert "ns/sbx/web" in change.kept
        assert ("eth0", "10.0.2.2/24") in backend.snapshot(["nl-t-s-app"])["nl-t-s-app"].addresses


class TestDown:
    def test_down_removes_everything_and_twice_is_fine(self, store: SqliteStore) -> None:
        controller, backend = deploy(store=store)
        assert len(controller.down()) == 5
        assert lab_namespaces(backend) == []
        assert store.lab("t") is None and store.objects("t") == []
        assert controller.down() == []

    def test_two_labs_side_by_side(self, store: SqliteStore) -> None:
        backend = SimulatedBackend()
        Controller("t", backend, store).up(load_text(LAB))
        other = load_text(LAB.replace("name: t", "name: u"))
        Controller("u", backend, store).up(other)
        Controller("t", backend, store).down()
        assert lab_namespaces(backend, "t") == []
        assert len(lab_namespaces(backend, "u")) == 5


def total_steps() -> int:
    backend = CrashingBackend(10_000)
    Controller("t", backend, SqliteStore(":memory:")).up(load_text(LAB))
    return 10_000 - backend.left


FRACTIONS = [0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 0.99]


def test_journal_records_intent_before_each_group_is_done(store: SqliteStore) -> None:
    deploy(store=store)
    entries = store.journal("t", limit=1000)
    for key in ("ns/underlay", "ns/sbx/web", "ep/web/front", "rules/h1"):
        assert entries.index((key, "create", "intent")) < entries.index((key, "create", "done"))


class TestCrashRecovery:
    @pytest.mark.parametrize("fraction", FRACTIONS)
    def test_killed_deploy_is_undone_by_down(self, fraction: float, store: SqliteStore) -> None:
        backend = CrashingBackend(int(total_steps() * fraction))
        with pytest.raises(Crash):
            Controller("t", backend, store).up(load_text(LAB))
        backend.left = -1
        Controller("t", backend, store).down()
        assert lab_namespaces(backend) == []

    @pytest.mark.parametrize("fraction", FRACTIONS[1:])
    def test_killed_deploy_is_finished_by_up(self, fraction: float, store: SqliteStore) -> None:
        backend = CrashingBackend(int(total_steps() * fraction))
        with pytest.raises(Crash):
            Controller("t", backend, store).up(load_text(LAB))
        backend.left = -1
        Controller("t", backend, store).up(load_text(LAB))
        _, fresh = deploy()
        assert backend.snapshot(lab_namespaces(backend)) == fresh.snapshot(lab_namespaces(fresh))


class TestVerbs:
    def test_network_sandbox_join_leave(self, store: SqliteStore) -> None:
        backend = SimulatedBackend()
        controller = Controller("t", backend, store)
        controller.add_host("h1")
        controller.new_network("front", subnet="10.9.0.0/24")
        controller.new_sandbox("web", host="h1")
        endpoint = controller.join("web", "front")
        assert endpoint.network == "front"
        assert ("eth0", "10.9.0.2/24") in backend.snapshot(["nl-t-s-web"])["nl-t-s-web"].addresses
        with pytest.raises(ConflictError, match="already connected"):
            controller.join("web", "front")
        with pytest.raises(ConflictError, match="active endpoints"):
            controller.delete_network("front")
        with pytest.raises(ConflictError, match="already exists"):
            controller.new_network("front")
        controller.leave("web", "front")
        assert "eth0" not in backend.snapshot(["nl-t-s-web"])["nl-t-s-web"].links
        with pytest.raises(NotFoundError):
            controller.leave("web", "front")
        controller.delete_network("front")
        assert controller.networks() == []
        with pytest.raises(NotFoundError):
            controller.network_by_name("front")

    def test_lookup_before_deploy(self, store: SqliteStore) -> None:
        with pytest.raises(NotFoundError, match="not deployed"):
            Controller("t", SimulatedBackend(), store).deployed()


class TestStatus:
    def test_status_reports_addresses_and_state(self) -> None:
        controller, backend = deploy()
        data = controller.status()
        assert {h["name"]: h["state"] for h in data["hosts"]} == {"h1": "up"}
        eps = {(e["sandbox"], e["network"]): e for e in data["endpoints"]}
        assert eps[("app", "front")]["ip"] == "10.0.1.2/24" and eps[("app", "back")]["interface"] == "eth1"
        backend.apply([DeleteNamespace("nl-t-s-app")])
        states = {s["name"]: s["state"] for s in controller.status()["sandboxes"]}
        assert states == {"web": "up", "app": "missing"}


def test_scenario_files_deploy_on_the_simulator(tmp_path: Path) -> None:
    for name in ("single-host-bridge", "two-bridges-isolated", "two-host-bridges"):
        topo, _ = load_valid(ROOT / "scenarios" / f"{name}.yaml")
        controller = Controller(topo.name, SimulatedBackend(), SqliteStore(tmp_path / f"{name}.db"))
        controller.up(topo)
        assert isinstance(controller.deployed(), Topology)
        controller.down()


class TestUnderlay:
    def test_without_internet_namespace(self) -> None:
        _, backend = deploy(LAB.replace("name: t\n", "name: t\nunderlay: {internet: false}\n"))
        assert "nl-t-internet" not in backend.namespaces()
        assert "nl-t-underlay" in backend.namespaces()

    def test_underlay_mtu_sets_overlay_mtu(self) -> None:
        text = ("name: t\nunderlay: {subnet: 198.51.100.0/24, mtu: 9000}\nhosts: [h1, h2]\n"
                "networks: {ov: {driver: overlay}}\n"
                "containers: {a: {host: h1, networks: [ov]}, b: {host: h2, networks: [ov]}}\n")
        _, backend = deploy(text)
        a = backend.snapshot(["nl-t-s-a"])["nl-t-s-a"]
        assert a.links["eth0"].mtu == 8950
        host = backend.snapshot(["nl-t-h-h1"])["nl-t-h-h1"]
        assert ("eth0", "198.51.100.11/24") in host.addresses and host.links["eth0"].mtu == 9000
        overlay = backend.snapshot(["nl-t-o-ov-h1"])["nl-t-o-ov-h1"]
        assert overlay.fdb == {("vx-000100", "00:00:00:00:00:00", "198.51.100.12"),
                               ("vx-000100", "02:42:0a:00:00:03", "198.51.100.12")}
        assert overlay.neighbours == {("vx-000100", "10.0.0.3", "02:42:0a:00:00:03")}
