"""netlab plan: the kernel objects a lab-mode deploy would create."""

from __future__ import annotations

from pathlib import Path

from netlab.loading import load_text
from netlab.planning import assign_vnis, plan_objects
from netlab.validation import load_valid, validate

ROOT = Path(__file__).parent.parent


def test_two_host_overlay_plan() -> None:
    topo, addressing = load_valid(ROOT / "scenarios" / "two-host-overlay.yaml")
    objects = plan_objects(topo, addressing)
    vxlans = [o for o in objects if o.kind == "vxlan"]
    assert [o.namespace for o in vxlans] == ["nl-two-host-overlay-o-ov-h1", "nl-two-host-overlay-o-ov-h2"]
    veths = {o.namespace: o.detail for o in objects if o.kind == "veth"}
    assert veths["nl-two-host-overlay-s-c1"].startswith("10.0.9.2/24 mac 02:42:0a:00:09:02")
    assert any(o.kind == "netns" and o.namespace.endswith("underlay") for o in objects)


def test_every_namespace_carries_the_lab_identity() -> None:
    topo, addressing = load_valid(ROOT / "scenarios" / "three-host-mix.yaml")
    for obj in plan_objects(topo, addressing):
        assert obj.namespace.startswith("nl-three-host-mix-")


def test_default_route_only_via_non_internal_networks() -> None:
    topo = load_text("hosts: [h1]\nnetworks:\n  in: {internal: true}\n  out: {}\n"
                     "containers:\n  a: {networks: [in, out]}\n  b: {networks: [in]}\n")
    routes = [o for o in plan_objects(topo, validate(topo)) if o.kind == "route"]
    assert [(o.namespace, o.detail) for o in routes] == [("nl-lab-s-a", "via 172.18.0.1")]


def test_vni_allocation() -> None:
    topo = load_text("hosts: [h1]\nnetworks:\n  b: {driver: overlay}\n  a: {driver: overlay}\n"
                     "  c: {driver: overlay, options: {com.docker.network.driver.overlay.vxlanid_list: '256'}}\n")
    assert assign_vnis(topo) == {"c": 256, "a": 257, "b": 258}
