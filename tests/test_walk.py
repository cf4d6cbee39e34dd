"""The packet walker on simulated labs: reachability, isolation, NAT, overlays, macvlan, MTU, explanations."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab.backends import Snapshot
from netlab.backends.simulated import SimulatedBackend
from netlab.backends.walk import Probe, Trace, World, matrix, path_mtu, trace
from netlab.controller import Controller
from netlab.errors import InvalidRequestError, NotFoundError
from netlab.naming import lab_prefix
from netlab.store import SqliteStore
from netlab.validation import load_valid

ROOT = Path(__file__).parent.parent


def deploy(scenario: str) -> tuple[SimulatedBackend, str]:
    """A scenario of ``scenarios/`` brought up on the simulator: (backend, namespace prefix)."""
    topo, _ = load_valid(ROOT / "scenarios" / f"{scenario}.yaml")
    backend = SimulatedBackend()
    Controller(topo.name, backend, SqliteStore(":memory:")).up(topo)
    return backend, lab_prefix(topo.name)


def snapshot(backend: SimulatedBackend) -> Snapshot:
    return backend.snapshot(backend.namespaces())


def world_of(scenario: str) -> tuple[World, str]:
    backend, prefix = deploy(scenario)
    return World.from_snapshot(snapshot(backend)), prefix


def actions(t: Trace) -> list[str]:
    return [hop.action for hop in t.hops]


class TestBridge:
    def test_same_bridge_is_reachable_through_the_bridge(self) -> None:
        world, p = world_of("single-host-bridge")
        t = trace(world, f"{p}s-app", "10.10.1.10")
        assert t.ok and t.delivered
        assert (t.final_ns, t.final_ip, t.final_port) == (f"{p}s-web", "10.10.1.10", None)
        assert t.hops[0].ns == f"{p}s-app" and t.hops[0].action == "route 10.10.1.0/24 dev eth0"
        assert "bridge br-front -> ve-web-0" in actions(t)
        assert t.reply is not None and t.reply.final_ns == f"{p}s-app" and t.reply.final_ip == "10.10.1.2"
        assert t.drop is None

    def test_two_bridges_are_isolated_by_the_forward_policy(self) -> None:
        world, p = world_of("two-bridges-isolated")
        t = trace(world, f"{p}s-r1", "10.20.2.2")
        assert not t.delivered and not t.ok
        assert t.drop is not None
        assert (t.drop.ns, t.drop.obj, t.drop.rule) == (f"{p}h-h1", "nft chain forward", "policy drop")

    def test_a_container_on_both_bridges_reaches_both(self) -> None:
        world, p = world_of("two-bridges-isolated")
        assert trace(world, f"{p}s-router", "10.20.2.2").ok
        assert trace(world, f"{p}s-router", "10.20.1.2").ok

    def test_icc_off_drop_names_the_rule(self) -> None:
        world, p = world_of("icc-off")
        t = trace(world, f"{p}s-worker", "10.40.1.10", Probe("tcp", 80))
        assert t.drop is not None and t.drop.ns == f"{p}h-h1"
        assert t.drop.rule == 'iifname "br-quiet" oifname "br-quiet" drop'
        assert actions(t)[-1] == "bridge br-quiet -> ve-web-0"     # dropped by br_netfilter's forward hook

    def test_icc_off_still_lets_answers_to_the_outside_back_in(self) -> None:
        world, p = world_of("icc-off")
        assert trace(world, f"{p}s-worker", "192.0.2.1").ok
        assert trace(world, f"{p}s-peer1", "10.40.2.3", Probe("udp", 53)).ok

    def test_internal_network_cannot_reach_the_internet_namespace(self) -> None:
        world, p = world_of("published-ports")
        t = trace(world, f"{p}s-secret", "192.0.2.1")
        assert not t.delivered and t.drop is not None
        assert (t.drop.ns, t.drop.rule) == (f"{p}s-secret", None)
        assert "no route to 192.0.2.1" in t.drop.reason

    def test_masquerade_to_the_internet_and_back(self) -> None:
        world, p = world_of("icc-off")
        t = trace(world, f"{p}s-worker", "192.0.2.1")
        assert t.ok and t.final_ns == f"{p}internet"
        assert any(a.startswith("nft postrouting: masquerade") for a in actions(t))
        assert t.reply is not None
        assert t.reply.dst == "192.0.2.11"        # the internet saw the host's underlay address
        assert t.reply.final_ip == "10.40.1.2"    # conntrack gave the answer back to the container
        assert any("conntrack: answer goes back to 10.40.1.2" in h.action for h in t.reply.hops)

    def test_published_port_dnats_to_the_container(self) -> None:
        world, p = world_of("published-ports")
        t = trace(world, f"{p}internet", "192.0.2.11", Probe("tcp", 8080))
        assert t.ok
        assert (t.final_ns, t.final_ip, t.final_port) == (f"{p}s-web", "10.60.1.2", 80)
        assert any(a.startswith("nft prerouting: dnat to 10.60.1.2:80") for a in actions(t))
        assert t.reply is not None
        assert any("answer leaves from 192.0.2.11:8080" in h.action for h in t.reply.hops)

    def test_published_udp_port_from_another_host(self) -> None:
        world, p = world_of("published-ports")
        t = trace(world, f"{p}h-h1", "192.0.2.12", Probe("udp", 5353))
        assert t.ok and (t.final_ns, t.final_port) == (f"{p}s-dns", 53)

    def test_unpublished_port_reaches_only_the_host(self) -> None:
        world, p = world_of("published-ports")
        t = trace(world, f"{p}internet", "192.0.2.11", Probe("tcp", 9999))
        assert (t.final_ns, t.final_ip, t.final_port) == (f"{p}h-h1", "192.0.2.11", 9999)

    def test_no_forwarding_between_hosts_through_the_internet(self) -> None:
        world, p = world_of("published-ports")
        t = trace(world, f"{p}s-dns", "10.60.1.2")
        assert t.drop is not None and t.drop.ns == f"{p}internet" and "ip_forward is 0" in t.drop.reason


class TestOverlay:
    def test_across_hosts_through_vxlan_and_the_underlay(self) -> None:
        world, p = world_of("two-host-overlay")
        t = trace(world, f"{p}s-c1", "10.0.9.3")
        assert t.ok and t.final_ns == f"{p}s-c2"
        steps = actions(t)
        assert any(a.startswith("vxlan encap vni 256") and a.endswith("-> 192.0.2.12") for a in steps)
        assert any(a.startswith("vxlan decap vni 256") for a in steps)
        assert any(h.ns == f"{p}underlay" and h.device == "ul" for h in t.hops)
        assert t.reply is not None and any(a.startswith("vxlan encap") for a in (h.action for h in t.reply.hops))

    def test_same_subnet_overlays_do_not_leak(self) -> None:
        world, p = world_of("overlay-same-subnet")
        blue = trace(world, f"{p}s-b1", "10.70.0.20")
        green = trace(world, f"{p}s-g1", "10.70.0.10")
        assert blue.ok and blue.final_ns == f"{p}s-b2"
        assert green.ok and green.final_ns == f"{p}s-g2"
        # 10.70.0.20 is b2 on blue and g1 on green: who answers depends on the overlay asked through
        rows = matrix(world, [f"{p}s-b1", f"{p}s-g2"], [(f"{p}s-g1", "10.70.0.20"), (f"{p}s-b2", "10.70.0.20")])
        assert rows == [[False, True], [True, False]]

    def test_internal_overlay_has_no_way_out(self) -> None:
        world, p = world_of("overlay-same-subnet")
        assert trace(world, f"{p}s-s1", "10.71.0.3").ok
        assert not trace(world, f"{p}s-s1", "192.0.2.1").delivered

    def test_overlays_are_isolated_from_each_other(self) -> None:
        world, p = world_of("multihost-demo")
        t = trace(world, f"{p}s-web1", "10.10.20.2")
        assert not t.delivered and t.drop is not None and t.drop.ns == f"{p}internet"


class TestMacvlan:
    def test_across_hosts_and_on_one_host(self) -> None:
        world, p = world_of("macvlan-hosts")
        across = trace(world, f"{p}s-m1", "192.0.2.4")
        assert across.ok and across.final_ns == f"{p}s-m3"
        assert any(h.ns == f"{p}underlay" for h in across.hops)
        same = trace(world, f"{p}s-m1", "192.0.2.3")
        assert same.ok and not any(h.ns == f"{p}underlay" for h in same.hops)

    def test_a_macvlan_never_reaches_its_own_parent(self) -> None:
        world, p = world_of("macvlan-hosts")
        t = trace(world, f"{p}s-m1", "192.0.2.11")
        assert not t.delivered and t.drop is not None
        assert t.drop.rule is None and "never reaches its own parent" in t.drop.reason

    def test_the_internet_reaches_macvlans_without_nat(self) -> None:
        world, p = world_of("macvlan-hosts")
        t = trace(world, f"{p}internet", "192.0.2.2")
        assert t.ok and t.reply is not None and t.reply.dst == "192.0.2.1"


class TestMtu:
    def test_overlay_limit_is_the_container_mtu(self) -> None:
        world, p = world_of("two-host-overlay")
        src = f"{p}s-c1"
        assert trace(world, src, "10.0.9.3", Probe(size=1450, df=True)).ok
        too_big = trace(world, src, "10.0.9.3", Probe(size=1451, df=True))
        assert not too_big.delivered and too_big.drop is not None
        assert (too_big.drop.ns, too_big.drop.obj, too_big.drop.rule) == (src, "eth0", None)
        assert "1451 bytes" in too_big.drop.reason and "MTU 1450" in too_big.drop.reason
        assert path_mtu(world, src, "10.0.9.3") == 1450

    def test_without_df_a_big_packet_is_fragmented(self) -> None:
        world, p = world_of("two-host-overlay")
        t = trace(world, f"{p}s-c1", "10.0.9.3", Probe(size=4000))
        assert t.ok and any(a.startswith("fragmented to the MTU 1450") for a in actions(t))

    def test_macvlan_path_mtu_is_the_underlay_mtu(self) -> None:
        world, p = world_of("macvlan-hosts")
        assert path_mtu(world, f"{p}s-m1", "192.0.2.4") == 1500

    def test_unreachable_has_no_path_mtu(self) -> None:
        world, p = world_of("two-bridges-isolated")
        assert path_mtu(world, f"{p}s-r1", "10.20.2.2") is None


class TestExplain:
    def test_explain_lists_the_hops_and_the_verdict(self) -> None:
        world, p = world_of("two-bridges-isolated")
        text = trace(world, f"{p}s-r1", "10.20.2.2").explain()
        lines = text.splitlines()
        assert lines[0] == f"{p}s-r1 -> 10.20.2.2  icmp, 84 bytes"
        assert lines[1] == f"  {p}s-r1  eth0  route default via 10.20.1.1 dev eth0"
        assert lines[-1] == (f"  DROPPED in {p}h-h1 at nft chain forward: dropped by the forward chain "
                             "(policy drop) [rule: policy drop]")

    def test_explain_of_a_success_shows_the_answer(self) -> None:
        world, p = world_of("single-host-bridge")
        text = trace(world, f"{p}s-app", "10.10.1.10").explain()
        assert f"delivered to 10.10.1.10 in {p}s-web" in text
        assert text.splitlines()[-1] == f"  reply back in {p}s-app: OK"


class TestBadInput:
    def test_unknown_source_namespace(self) -> None:
        world, _ = world_of("single-host-bridge")
        with pytest.raises(NotFoundError, match="nl-nope"):
            trace(world, "nl-nope", "10.10.1.10")
        with pytest.raises(NotFoundError, match="nl-nope"):
            matrix(world, ["nl-nope"], [])

    def test_bad_destination(self) -> None:
        world, p = world_of("single-host-bridge")
        with pytest.raises(InvalidRequestError, match="not an IPv4 address"):
            trace(world, f"{p}s-app", "10.10.1")

    @pytest.mark.parametrize(("kwargs", "message"), [
        ({"proto": "sctp"}, "protocol"), ({"proto": "tcp"}, "needs a port"), ({"proto": "icmp", "port": 1}, "no port"),
        ({"size": 27}, "outside"), ({"proto": "udp", "port": 70000}, "needs a port"),
    ])
    def test_bad_probe(self, kwargs: dict[str, object], message: str) -> None:
        with pytest.raises(InvalidRequestError, match=message):
            Probe(**kwargs)  # type: ignore[arg-type]
