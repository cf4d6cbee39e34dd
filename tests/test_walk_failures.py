"""The packet walker explains what breaks a lab: links down, FDB entries gone, routes gone, forwarding off."""

from __future__ import annotations

from dataclasses import replace

from netlab.backends import AddAddress, DeleteFdb, DeleteRoute, SetSysctl, Snapshot
from netlab.backends.walk import World, trace
from tests.test_walk import deploy, snapshot

C1_MAC, C2_MAC, FLOOD = "02:42:0a:00:09:02", "02:42:0a:00:09:03", "00:00:00:00:00:00"


def link_down(snap: Snapshot, ns: str, dev: str) -> Snapshot:
    state = snap[ns]
    state.links[dev] = replace(state.links[dev], up=False)
    return snap


class TestLinkDown:
    def test_the_destinations_link_is_named(self) -> None:
        backend, p = deploy("two-host-overlay")
        world = World.from_snapshot(link_down(snapshot(backend), f"{p}s-c2", "eth0"))
        t = trace(world, f"{p}s-c1", "10.0.9.3")
        assert not t.delivered and t.drop is not None
        assert (t.drop.ns, t.drop.obj, t.drop.rule) == (f"{p}s-c2", "eth0", None)
        assert t.drop.reason.startswith("link eth0 is down") and "ARP request for 10.0.9.3" in t.drop.reason

    def test_the_sources_own_link_takes_its_routes_along(self) -> None:
        backend, p = deploy("single-host-bridge")
        world = World.from_snapshot(link_down(snapshot(backend), f"{p}s-app", "eth0"))
        t = trace(world, f"{p}s-app", "10.10.1.10")
        assert t.drop is not None and (t.drop.ns, t.drop.obj) == (f"{p}s-app", "eth0")
        assert "link eth0 is down, so route 10.10.1.0/24 dev eth0 is gone" in t.drop.reason

    def test_a_bridge_down_stops_everything_on_it(self) -> None:
        backend, p = deploy("single-host-bridge")
        world = World.from_snapshot(link_down(snapshot(backend), f"{p}h-h1", "br-front"))
        t = trace(world, f"{p}s-app", "10.10.1.10")
        assert t.drop is not None and (t.drop.ns, t.drop.obj) == (f"{p}h-h1", "br-front")
        assert "bridge br-front is down" in t.drop.reason

    def test_an_up_link_elsewhere_does_not_matter(self) -> None:
        backend, p = deploy("single-host-bridge")
        world = World.from_snapshot(link_down(snapshot(backend), f"{p}s-db", "eth0"))
        assert trace(world, f"{p}s-app", "10.10.1.10").ok
        assert not trace(world, f"{p}s-app", "10.10.1.3").ok


class TestFdb:
    def test_without_its_own_entry_a_peer_is_still_reached_by_the_flood_entry(self) -> None:
        backend, p = deploy("two-host-overlay")
        backend.apply([DeleteFdb(f"{p}o-ov-h1", "vx-000100", C2_MAC, "192.0.2.12")])
        t = trace(World.from_snapshot(snapshot(backend)), f"{p}s-c1", "10.0.9.3")
        assert t.ok      # vxlan_xmit falls back to the all-zero entry, as the kernel does
        assert any(h.action.startswith(f"vxlan encap vni 256: flood entry {C2_MAC}") for h in t.hops)

    def test_without_any_entry_the_vxlan_device_is_named(self) -> None:
        backend, p = deploy("two-host-overlay")
        backend.apply([DeleteFdb(f"{p}o-ov-h1", "vx-000100", C2_MAC, "192.0.2.12"),
                       DeleteFdb(f"{p}o-ov-h1", "vx-000100", FLOOD, "192.0.2.12")])
        t = trace(World.from_snapshot(snapshot(backend)), f"{p}s-c1", "10.0.9.3")
        assert not t.delivered and t.drop is not None
        assert (t.drop.ns, t.drop.obj, t.drop.rule) == (f"{p}o-ov-h1", "vx-000100", None)
        assert "no flood entry" in t.drop.reason

    def test_a_missing_way_back_blocks_the_arp_reply(self) -> None:
        backend, p = deploy("two-host-overlay")
        backend.apply([DeleteFdb(f"{p}o-ov-h2", "vx-000100", C1_MAC, "192.0.2.11"),
                       DeleteFdb(f"{p}o-ov-h2", "vx-000100", FLOOD, "192.0.2.11")])
        t = trace(World.from_snapshot(snapshot(backend)), f"{p}s-c1", "10.0.9.3")
        assert t.drop is not None and (t.drop.ns, t.drop.obj) == (f"{p}o-ov-h2", "vx-000100")
        assert f"no FDB entry for {C1_MAC}" in t.drop.reason and "the reply to the ARP request" in t.drop.reason


class TestRouting:
    def test_a_removed_default_route(self) -> None:
        backend, p = deploy("single-host-bridge")
        backend.apply([DeleteRoute(f"{p}s-app", "default")])
        t = trace(World.from_snapshot(snapshot(backend)), f"{p}s-app", "192.0.2.1")
        assert t.drop is not None
        assert (t.drop.ns, t.drop.obj, t.drop.reason, t.drop.rule) == (
            f"{p}s-app", "routing table", "no route to 192.0.2.1", None)

    def test_forwarding_off_on_the_host(self) -> None:
        backend, p = deploy("icc-off")
        backend.apply([SetSysctl(f"{p}h-h1", "net.ipv4.ip_forward", "0")])
        t = trace(World.from_snapshot(snapshot(backend)), f"{p}s-worker", "192.0.2.1")
        assert t.drop is not None and (t.drop.ns, t.drop.obj) == (f"{p}h-h1", "br-quiet")
        assert "net.ipv4.ip_forward is 0" in t.drop.reason

    def test_a_packet_from_one_of_its_own_addresses_is_a_martian(self) -> None:
        backend, p = deploy("icc-off")
        backend.apply([AddAddress(f"{p}internet", "lo", "192.0.2.11/32")])   # the host's masquerade address
        world = World.from_snapshot(snapshot(backend))
        t = trace(world, f"{p}s-worker", "192.0.2.1")
        assert t.drop is not None and (t.drop.ns, t.drop.obj) == (f"{p}internet", "eth0")
        assert "martian source: 192.0.2.11" in t.drop.reason
        assert trace(world, f"{p}s-worker", "192.0.2.1").drop == t.drop    # the memoised walk agrees
