"""netlab plan: the steps a lab-mode deploy would run, from the drivers themselves."""

from __future__ import annotations

from pathlib import Path

from netlab.drivers.overlay import assign_vnis
from netlab.loading import load_text
from netlab.planning import plan_objects
from netlab.validation import load_valid, validate

ROOT = Path(__file__).parent.parent


def test_two_host_overlay_plan() -> None:
    topo, addressing = load_valid(ROOT / "scenarios" / "two-host-overlay.yaml")
    steps = plan_objects(topo, addressing)
    vxlans = [s for s in steps if s.kind == "CreateVxlan"]
    assert [s.namespace for s in vxlans] == ["nl-two-host-overlay-h-h1", "nl-two-host-overlay-h-h2"]
    assert all("vni=256" in s.detail for s in vxlans)
    veth = next(s for s in steps if s.kind == "CreateVeth" and s.group == "ep/c1/ov")
    assert "peer_mac=02:42:0a:00:09:02" in veth.detail and "mtu=1450" in veth.detail
    assert any(s.kind == "AddFdb" and s.group == "peer/ov/c1@h2" for s in steps)
    assert any(s.group.startswith("net/docker_gwbridge") for s in steps)


def test_every_step_acts_in_a_lab_namespace() -> None:
    topo, addressing = load_valid(ROOT / "scenarios" / "three-host-mix.yaml")
    for step in plan_objects(topo, addressing):
        assert step.namespace.startswith("nl-three-host-mix-")


def test_default_route_only_via_non_internal_networks() -> None:
    topo = load_text("hosts: [h1]\nnetworks:\n  in: {internal: true}\n  out: {}\n"
                     "containers:\n  a: {networks: [in, out]}\n  b: {networks: [in]}\n")
    routes = [s for s in plan_objects(topo, validate(topo)) if s.kind == "AddRoute" and s.namespace.endswith("-s-a")
              or s.kind == "AddRoute" and s.namespace.endswith("-s-b")]
    assert [(s.namespace, s.detail) for s in routes] == [("nl-lab-s-a", "gateway=172.18.0.1")]


def test_vni_allocation() -> None:
    topo = load_text("hosts: [h1]\nnetworks:\n  b: {driver: overlay}\n  a: {driver: overlay}\n"
                     "  c: {driver: overlay, options: {com.docker.network.driver.overlay.vxlanid_list: '256'}}\n")
    assert assign_vnis(topo) == {"c": 256, "a": 257, "b": 258}
