"""Whole-topology addressing: defaults, statics, subnet choice, determinism, problems, properties."""

from __future__ import annotations

import json
import re
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.addressing import (
    Addressing,
    EndpointAddress,
    NetworkAddress,
    _hosts_by_network,
    allocate,
    plan_addresses,
)
from netlab.errors import (
    NotFoundError,
    ValidationError,
)
from netlab.model import Topology, Underlay
from netlab.pools import DEFAULT_LOCAL_POOLS, mac_from_ip

N = IPv4Network
A = IPv4Address
I = IPv4Interface  # noqa: E741

MAC_RE = re.compile(r"^02:42(:[0-9a-f]{2}){4}$")



def one_host(*networks: str, driver: str = "bridge") -> Topology:
    """A one-host topology with the given auto-subnet networks, each with sandbox ``<net>-c``."""
    topo = Topology("t")
    topo.add_host("h1")
    for name in networks:
        topo.add_network(name, driver)
        topo.add_sandbox(f"{name}-c", host="h1")
        topo.connect(f"{name}-c", name)
    return topo


# -- default pools ---------------------------------------------------------------
class TestPlanDefaults:
    def test_first_auto_local_network(self) -> None:
        plan = allocate(one_host("front"))
        assert plan.networks["front"] == NetworkAddress(N("172.17.0.0/16"), A("172.17.0.1"), None)
        assert plan.address_of("front-c", "front") == EndpointAddress(I("172.17.0.2/16"), "02:42:ac:11:00:02")

    def test_sixteenth_auto_local_network_gets_first_slash_20(self) -> None:
        names = [f"net{i:02d}" for i in range(16)]
        plan = allocate(one_host(*names))
        subnets = [plan.networks[name].subnet for name in names]
        assert subnets == list(DEFAULT_LOCAL_POOLS)[:16]
        assert plan.networks["net15"].subnet == N("192.168.0.0/20")
        assert plan.networks["net15"].gateway == A("192.168.0.1")
        assert plan.address_of("net15-c", "net15").ip == I("192.168.0.2/20")

    def test_overlay_gets_first_global_pool(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_host("h2")
        topo.add_network("ov", "overlay")
        for i, host in enumerate(("h1", "h2")):
            topo.add_sandbox(f"c{i}", host=host)
            topo.connect(f"c{i}", "ov")
        plan = allocate(topo)
        assert plan.networks["ov"].subnet == N("10.0.0.0/24")
        assert plan.networks["ov"].gateway == A("10.0.0.1")
        assert plan.address_of("c0", "ov").ip == I("10.0.0.2/24")
        assert plan.address_of("c1", "ov").ip == I("10.0.0.3/24")

    def test_null_and_host_networks_get_nothing(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_network("none", "null")
        topo.add_network("hostnet", "host")
        topo.add_network("front")
        topo.add_sandbox("c", host="h1")
        for net in ("none", "hostnet", "front"):
            topo.connect("c", net)
        plan = allocate(topo)
        assert set(plan.networks) == {"front"}
        assert set(plan.endpoints) == {("c", "front")}
        # null/host take no pool, so front still gets the first one
        assert plan.networks["front"].subnet == N("172.17.0.0/16")

    def test_unknown_driver_uses_ipam(self) -> None:
        topo = one_host("plug", driver="weave")
        assert allocate(topo).networks["plug"].subnet == N("172.17.0.0/16")

    def test_given_mac_is_kept(self) -> None:
        topo = one_host("front")
        topo.update_endpoint("front-c", "front", mac="02:00:00:00:00:01")
        assert allocate(topo).address_of("front-c", "front").mac == "02:00:00:00:00:01"

    def test_empty_topology(self) -> None:
        assert plan_addresses(Topology("empty")) == (Addressing({}, {}), [])


# -- plan_addresses: static addresses, gateway, ip_range -----------------------------
class TestPlanStaticAndGateway:
    def make(self, **net: str) -> Topology:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_network("n", subnet=net.pop("subnet", "10.0.0.0/24"), **net)
        for name in ("a", "b", "c", "d"):
            topo.add_sandbox(name, host="h1")
        return topo

    def test_static_reservations_respected(self) -> None:
        topo = self.make()
        topo.connect("a", "n")
        topo.connect("b", "n")
        topo.connect("c", "n", ip="10.0.0.2")
        topo.connect("d", "n", ip="10.0.0.3")
        plan = allocate(topo)
        assert plan.networks["n"].gateway == A("10.0.0.1")
        assert plan.address_of("c", "n").ip == I("10.0.0.2/24")
        assert plan.address_of("d", "n").ip == I("10.0.0.3/24")
        assert plan.address_of("a", "n").ip == I("10.0.0.4/24")
        assert plan.address_of("b", "n").ip == I("10.0.0.5/24")

    def test_static_on_first_address_pushes_gateway(self) -> None:
        topo = self.make()
        topo.connect("a", "n", ip="10.0.0.1")
        topo.connect("b", "n")
        plan = allocate(topo)
        assert plan.address_of("a", "n").ip == I("10.0.0.1/24")
        assert plan.networks["n"].gateway == A("10.0.0.2")
        assert plan.address_of("b", "n").ip == I("10.0.0.3/24")

    def test_explicit_gateway(self) -> None:
        topo = self.make(gateway="10.0.0.254")
        topo.connect("a", "n")
        plan = allocate(topo)
        assert plan.networks["n"].gateway == A("10.0.0.254")
        assert plan.address_of("a", "n").ip == I("10.0.0.1/24")

    def test_ip_range_for_dynamic_only(self) -> None:
        topo = self.make(ip_range="10.0.0.128/25")
        topo.connect("a", "n")
        topo.connect("b", "n")
        topo.connect("c", "n", ip="10.0.0.5")
        plan = allocate(topo)
        assert plan.networks["n"] == NetworkAddress(N("10.0.0.0/24"), A("10.0.0.1"), N("10.0.0.128/25"))
        assert plan.address_of("a", "n").ip == I("10.0.0.128/24")
        assert plan.address_of("b", "n").ip == I("10.0.0.129/24")
        assert plan.address_of("c", "n").ip == I("10.0.0.5/24")

    def test_duplicate_static_first_sandbox_wins(self) -> None:
        topo = self.make()
        topo.connect("b", "n", ip="10.0.0.9")
        topo.connect("a", "n", ip="10.0.0.9")
        topo.connect("c", "n")
        plan, problems = plan_addresses(topo)
        assert problems == []
        assert plan.address_of("a", "n").ip == I("10.0.0.9/24")
        assert ("b", "n") not in plan.endpoints
        assert plan.address_of("c", "n").ip == I("10.0.0.2/24")

    @pytest.mark.parametrize("bad", ["10.0.1.9", "10.0.0.0", "10.0.0.255", "nonsense", "", "10.0.0.9/24"])
    def test_unusable_static_is_skipped(self, bad: str) -> None:
        topo = self.make()
        topo.connect("a", "n", ip=bad)
        topo.connect("b", "n")
        plan, problems = plan_addresses(topo)
        assert problems == []
        assert ("a", "n") not in plan.endpoints
        assert plan.address_of("b", "n").ip == I("10.0.0.2/24")

    @pytest.mark.parametrize("bad", ["10.0.1.1", "10.0.0.255", "gw", "10.0.0.7"])
    def test_unusable_gateway_falls_back_to_first_free(self, bad: str) -> None:
        topo = self.make(gateway=bad)
        topo.connect("a", "n", ip="10.0.0.7")
        topo.connect("b", "n")
        plan, problems = plan_addresses(topo)
        assert problems == []
        assert plan.networks["n"].gateway == A("10.0.0.1")
        assert plan.address_of("b", "n").ip == I("10.0.0.2/24")

    @pytest.mark.parametrize("bad", ["10.0.1.0/25", "10.0.0.1/25", "range", "10.0.0.0/23"])
    def test_unusable_ip_range_is_ignored(self, bad: str) -> None:
        topo = self.make(ip_range=bad)
        topo.connect("a", "n")
        plan, problems = plan_addresses(topo)
        assert problems == []
        assert plan.networks["n"].ip_range is None
        assert plan.address_of("a", "n").ip == I("10.0.0.2/24")

    @pytest.mark.parametrize("bad", ["10.0.0.1/24", "10.0.0.0", "banana", "", "2001:db8::/64", "10.0.0.0/33"])
    def test_unusable_subnet_means_no_entry(self, bad: str) -> None:
        topo = self.make(subnet=bad)
        topo.connect("a", "n")
        plan, problems = plan_addresses(topo)
        assert problems == []
        assert plan == Addressing({}, {})


# -- plan_addresses: automatic subnet choice -----------------------------------------
class TestPlanSubnetChoice:
    def test_avoids_explicit_subnet_on_same_host(self) -> None:
        topo = one_host("auto")
        topo.add_network("fixed", subnet="172.17.200.0/24")
        assert allocate(topo).networks["auto"].subnet == N("172.18.0.0/16")

    def test_avoids_underlay(self) -> None:
        topo = Topology("t", underlay=Underlay("172.17.0.0/24"))
        topo.add_host("h1")
        topo.add_network("auto")
        assert allocate(topo).networks["auto"].subnet == N("172.18.0.0/16")

    def test_overlay_avoids_underlay(self) -> None:
        topo = Topology("t", underlay=Underlay("10.0.0.0/23"))
        topo.add_network("ov", "overlay")
        assert allocate(topo).networks["ov"].subnet == N("10.0.2.0/24")

    def test_bridges_on_different_hosts_reuse_the_same_subnet(self) -> None:
        topo = Topology("t")
        for host in ("h1", "h2", "h3"):
            topo.add_host(host)
            topo.add_network(f"br-{host}", host=host)
            topo.add_network(f"second-{host}", host=host)
        plan = allocate(topo)
        for host in ("h1", "h2", "h3"):
            assert plan.networks[f"br-{host}"].subnet == N("172.17.0.0/16")
            assert plan.networks[f"second-{host}"].subnet == N("172.18.0.0/16")

    def test_host_inferred_from_sandboxes(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_host("h2")
        topo.add_network("a")
        topo.add_network("b")
        topo.add_sandbox("x", host="h1")
        topo.add_sandbox("y", host="h2")
        topo.connect("x", "a")
        topo.connect("y", "b")
        plan = allocate(topo)
        assert plan.networks["a"].subnet == plan.networks["b"].subnet == N("172.17.0.0/16")
        topo.add_sandbox("z", host="h1")
        topo.connect("z", "b")  # now b is on h1 too
        assert allocate(topo).networks["b"].subnet == N("172.18.0.0/16")

    def test_overlay_avoids_other_overlays_and_networks_on_its_hosts(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_host("h2")
        topo.add_network("a-ov", "overlay")
        topo.add_network("b-ov", "overlay")  # no sandboxes anywhere
        topo.add_network("local", host="h1", subnet="10.0.2.0/23")
        topo.add_network("elsewhere", host="h2", subnet="10.0.4.0/24")
        topo.add_sandbox("c", host="h1")
        topo.connect("c", "a-ov")
        plan = allocate(topo)
        assert plan.networks["a-ov"].subnet == N("10.0.0.0/24")
        # b-ov is on no host: it avoids everything in the topology
        assert plan.networks["b-ov"].subnet == N("10.0.1.0/24")
        topo.add_network("c-ov", "overlay")
        topo.add_sandbox("d", host="h1")
        topo.connect("d", "c-ov")
        # c-ov (on h1) avoids both overlays and h1's 10.0.2.0/23, but not h2's 10.0.4.0/24
        plan = allocate(topo)
        assert plan.networks["c-ov"].subnet == N("10.0.4.0/24")

    def test_local_network_avoids_overlay_on_its_host(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_host("h2")
        topo.add_network("ov", "overlay", subnet="172.17.0.0/16")
        topo.add_network("br", host="h1")
        topo.add_network("other", host="h2")
        topo.add_sandbox("c", host="h1")
        topo.connect("c", "ov")
        plan = allocate(topo)
        assert plan.networks["br"].subnet == N("172.18.0.0/16")
        assert plan.networks["other"].subnet == N("172.17.0.0/16")

    def test_hostless_network_overlaps_nothing(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_host("h2")
        topo.add_network("a", host="h1")
        topo.add_network("b", host="h2", subnet="172.18.0.0/16")
        topo.add_network("z")  # two hosts, no host of its own, no sandboxes
        plan = allocate(topo)
        assert plan.networks["a"].subnet == N("172.17.0.0/16")
        assert plan.networks["z"].subnet == N("172.19.0.0/16")

    def test_later_networks_avoid_a_hostless_one(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_host("h2")
        topo.add_network("a-floating")  # processed first, present on no host
        topo.add_network("b", host="h1")
        topo.add_network("c", host="h2", subnet="172.18.0.0/16")
        topo.add_network("d", host="h2")
        plan = allocate(topo)
        assert plan.networks["a-floating"].subnet == N("172.17.0.0/16")
        assert plan.networks["b"].subnet == N("172.18.0.0/16")
        assert plan.networks["d"].subnet == N("172.19.0.0/16")

    def test_explicit_overlaps_are_used_as_given(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_network("a", subnet="10.0.0.0/16")
        topo.add_network("b", subnet="10.0.0.0/24")
        topo.add_sandbox("c", host="h1")
        topo.connect("c", "a")
        topo.connect("c", "b")
        plan, problems = plan_addresses(topo)
        assert problems == []
        assert plan.networks["a"].subnet == N("10.0.0.0/16")
        assert plan.networks["b"].subnet == N("10.0.0.0/24")
        assert plan.address_of("c", "a").ip == I("10.0.0.2/16")
        assert plan.address_of("c", "b").ip == I("10.0.0.2/24")


# -- plan_addresses: determinism ---------------------------------------------------
def _build(order: int) -> Topology:
    """The same topology, built in two different insertion orders."""
    hosts = ["h1", "h2"]
    nets = [
        ("zeta", "bridge", {"host": "h1"}),
        ("alpha", "bridge", {}),
        ("ov", "overlay", {}),
        ("fixed", "bridge", {"subnet": "10.5.0.0/24", "ip_range": "10.5.0.64/26"}),
    ]
    sandboxes = [("web", "h1"), ("db", "h2"), ("cache", "h1"), ("api", "h2")]
    connects = [
        ("web", "zeta", None),
        ("web", "ov", None),
        ("db", "ov", None),
        ("cache", "alpha", None),
        ("api", "alpha", None),
        ("db", "fixed", "10.5.0.70"),
        ("api", "fixed", None),
        ("cache", "ov", None),
    ]
    if order:
        hosts, nets, sandboxes, connects = hosts[::-1], nets[::-1], sandboxes[::-1], connects[::-1]
    topo = Topology("t")
    for host in hosts:
        topo.add_host(host)
    for name, driver, options in nets:
        topo.add_network(name, driver, **options)
    for name, host in sandboxes:
        topo.add_sandbox(name, host=host)
    for sandbox, net, ip in connects:
        topo.connect(sandbox, net, ip=ip)
    return topo


class TestPlanDeterminism:
    def test_insertion_order_does_not_matter(self) -> None:
        forward, backward = plan_addresses(_build(0)), plan_addresses(_build(1))
        assert forward == backward
        assert json.dumps(forward[0].to_dict()) == json.dumps(backward[0].to_dict())

    def test_expected_layout(self) -> None:
        plan = allocate(_build(1))
        assert plan.networks["alpha"].subnet == N("172.17.0.0/16")  # on h2 (api) and h1 (cache)
        assert plan.networks["zeta"].subnet == N("172.18.0.0/16")  # h1 also has alpha
        assert plan.networks["ov"].subnet == N("10.0.0.0/24")
        assert plan.address_of("api", "alpha").ip == I("172.17.0.2/16")
        assert plan.address_of("cache", "alpha").ip == I("172.17.0.3/16")
        assert plan.address_of("cache", "ov").ip == I("10.0.0.2/24")
        assert plan.address_of("db", "ov").ip == I("10.0.0.3/24")
        assert plan.address_of("web", "ov").ip == I("10.0.0.4/24")
        assert plan.address_of("api", "fixed").ip == I("10.5.0.64/24")
        assert plan.address_of("db", "fixed").ip == I("10.5.0.70/24")

    def test_planning_does_not_modify_the_topology(self) -> None:
        topo = _build(0)
        before = [(ep.sandbox, ep.network, ep.ip) for ep in topo.endpoints]
        plan_addresses(topo)
        assert [(ep.sandbox, ep.network, ep.ip) for ep in topo.endpoints] == before
        assert topo.network("alpha").subnet is None


# -- plan_addresses: problems ----------------------------------------------------------
class TestPlanProblems:
    def test_pool_exhausted(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_network("small", subnet="10.0.0.0/29")  # 6 usable, 1 for the gateway
        for i in range(8):
            topo.add_sandbox(f"c{i}", host="h1")
            topo.connect(f"c{i}", "small")
        plan, problems = plan_addresses(topo)
        assert len(problems) == 1
        problem = problems[0]
        assert (problem.path, problem.code) == ("networks.small", "pool-exhausted")
        assert "8" in problem.message and "5" in problem.message and "10.0.0.0/29" in problem.message
        assert "subnet" in problem.hint and "ip_range" in problem.hint
        assert problem.line is None and problem.file is None
        assert [plan.address_of(f"c{i}", "small").ip.ip for i in range(5)] == [A(f"10.0.0.{i}") for i in range(2, 7)]
        assert ("c5", "small") not in plan.endpoints
        with pytest.raises(ValidationError) as info:
            allocate(topo)
        assert info.value.problems == problems

    def test_ip_range_exhausted(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_network("n", subnet="10.0.0.0/24", ip_range="10.0.0.8/30")
        for i in range(5):
            topo.add_sandbox(f"c{i}", host="h1")
            topo.connect(f"c{i}", "n")
        problems = plan_addresses(topo)[1]
        assert [p.code for p in problems] == ["pool-exhausted"]
        assert "ip_range 10.0.0.8/30" in problems[0].message
        assert "5" in problems[0].message and "4" in problems[0].message

    def test_no_room_for_the_gateway(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_network("tiny", subnet="10.0.0.0/30")
        for i, ip in enumerate(("10.0.0.1", "10.0.0.2", None)):
            topo.add_sandbox(f"c{i}", host="h1")
            topo.connect(f"c{i}", "tiny", ip=ip)
        plan, problems = plan_addresses(topo)
        assert [(p.path, p.code) for p in problems] == [("networks.tiny", "pool-exhausted")]
        assert "gateway" in problems[0].message
        assert plan == Addressing({}, {})

    def test_no_available_pool_for_the_32nd_network(self) -> None:
        names = [f"net{i:02d}" for i in range(32)]
        plan, problems = plan_addresses(one_host(*names))
        assert [(p.path, p.code) for p in problems] == [("networks.net31", "no-available-pool")]
        assert "could not find an available, non-overlapping IPv4 address pool" in problems[0].message
        assert "subnet" in problems[0].hint
        assert len(plan.networks) == 31
        assert "net31" not in plan.networks
        assert ("net31-c", "net31") not in plan.endpoints

    def test_one_problem_per_network_sorted(self) -> None:
        topo = Topology("t")
        topo.add_host("h1")
        topo.add_network("b", subnet="10.0.1.0/30")
        topo.add_network("a", subnet="10.0.0.0/30")
        for i in range(4):
            topo.add_sandbox(f"c{i}", host="h1")
            topo.connect(f"c{i}", "a")
            topo.connect(f"c{i}", "b")
        problems = plan_addresses(topo)[1]
        assert [(p.path, p.code) for p in problems] == [
            ("networks.a", "pool-exhausted"),
            ("networks.b", "pool-exhausted"),
        ]


# -- Addressing ----------------------------------------------------------------------
class TestAddressing:
    def test_address_of_missing(self) -> None:
        with pytest.raises(NotFoundError, match="'web'.*'front'"):
            Addressing().address_of("web", "front")

    def test_to_dict_is_json_safe_and_sorted(self) -> None:
        topo = one_host("b-net", "a-net")
        topo.update_network("a-net", subnet="10.0.0.0/24", ip_range="10.0.0.128/25")
        data = allocate(topo).to_dict()
        assert json.loads(json.dumps(data)) == data
        assert data == {
            "networks": {
                "a-net": {"subnet": "10.0.0.0/24", "gateway": "10.0.0.1", "ip_range": "10.0.0.128/25"},
                "b-net": {"subnet": "172.17.0.0/16", "gateway": "172.17.0.1", "ip_range": None},
            },
            "endpoints": {
                "a-net-c": {"a-net": {"ip": "10.0.0.128/24", "mac": "02:42:0a:00:00:80"}},
                "b-net-c": {"b-net": {"ip": "172.17.0.2/16", "mac": "02:42:ac:11:00:02"}},
            },
        }


# -- property-based tests ------------------------------------------------------------
SUBNETS = [
    "10.0.0.0/24",
    "10.0.0.0/29",
    "10.0.0.0/30",
    "10.0.0.0/31",
    "10.0.0.4/32",
    "10.0.0.0/16",
    "172.17.0.0/16",
    "192.168.1.0/28",
    "10.0.0.1/24",
    "bogus",
    "",
    "2001:db8::/64",
]
ADDRESSES = [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.5",
    "10.0.0.0",
    "10.0.0.255",
    "10.0.0.3",
    "172.17.0.2",
    "172.17.0.1",
    "192.168.1.1",
    "192.168.1.15",
    "10.0.1.1",
    "junk",
    "",
    "10.0.0.2/24",
]
RANGES = ["10.0.0.0/28", "10.0.0.128/25", "10.0.0.4/30", "172.17.5.0/24", "192.168.1.8/29", "x", "10.0.0.1/28"]


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    topo = Topology("prop", underlay=Underlay(draw(st.sampled_from(["192.0.2.0/24", "172.17.0.0/16", "bad"]))))
    hosts = [f"h{i}" for i in range(draw(st.integers(0, 3)))]
    for host in hosts:
        topo.add_host(host)
    maybe_host = st.none() | st.sampled_from(hosts) if hosts else st.none()
    networks = [f"n{i}" for i in range(draw(st.integers(0, 6)))]
    for name in networks:
        options: dict[str, str] = {}
        subnet = draw(st.none() | st.sampled_from(SUBNETS))
        if subnet is not None:
            options["subnet"] = subnet
        gateway = draw(st.none() | st.sampled_from(ADDRESSES))
        if gateway is not None:
            options["gateway"] = gateway
        ip_range = draw(st.none() | st.sampled_from(RANGES))
        if ip_range is not None:
            options["ip_range"] = ip_range
        driver = draw(st.sampled_from(["bridge", "bridge", "overlay", "macvlan", "null", "host", "custom"]))
        net_host = draw(maybe_host) if driver != "overlay" else None
        topo.add_network(name, driver, host=net_host, **options)
    sandboxes = [f"s{i}" for i in range(draw(st.integers(0, 10)))]
    for name in sandboxes:
        topo.add_sandbox(name, host=draw(maybe_host))
    if networks:
        for name in sandboxes:
            for net in draw(st.sets(st.sampled_from(networks), max_size=3)):
                ip = draw(st.none() | st.sampled_from(ADDRESSES) | st.ip_addresses(v=4).map(str))
                topo.connect(name, net, ip=ip)
    return topo


def _check_invariants(topo: Topology, plan: Addressing) -> None:
    static: dict[str, set[str]] = {}
    for net_name in plan.networks:
        static[net_name] = {ep.ip for ep in topo.endpoints_on(net_name) if ep.ip is not None}
    for name, net in plan.networks.items():
        assert topo.network(name).driver not in ("null", "host")
        assert net.gateway in net.subnet
        assert net.gateway not in (net.subnet.network_address, net.subnet.broadcast_address)
        if net.ip_range is not None:
            assert net.ip_range.subnet_of(net.subnet)
    seen: dict[str, set[IPv4Address]] = {}
    for (sandbox, network), ep in plan.endpoints.items():
        net = plan.networks[network]
        record = topo.endpoint(sandbox, network)
        address = ep.ip.ip
        assert ep.ip.network == net.subnet
        assert address not in (net.subnet.network_address, net.subnet.broadcast_address)
        assert address != net.gateway
        assert address not in seen.setdefault(network, set()), f"duplicate {address} on {network}"
        seen[network].add(address)
        if record.ip is not None:
            assert str(address) == record.ip
        else:
            assert str(address) not in static[network]
            if net.ip_range is not None:
                assert address in net.ip_range
        if record.mac is None:
            assert MAC_RE.match(ep.mac)
            assert ep.mac == mac_from_ip(address)


class TestPlanProperties:
    @settings(max_examples=100, deadline=None)
    @given(topologies())
    def test_never_raises_and_invariants_hold(self, topo: Topology) -> None:
        plan, problems = plan_addresses(topo)
        _check_invariants(topo, plan)
        assert problems == sorted(problems)
        assert {p.code for p in problems} <= {"pool-exhausted", "no-available-pool"}
        assert len({p.path for p in problems}) == len(problems)
        assert plan_addresses(topo) == (plan, problems)

    @settings(max_examples=50, deadline=None)
    @given(topologies())
    def test_auto_subnets_never_overlap_neighbours(self, topo: Topology) -> None:
        plan, _ = plan_addresses(topo)
        underlay = topo.underlay.subnet
        for name, net in plan.networks.items():
            record = topo.network(name)
            if record.subnet is not None:
                continue
            if record.driver == "macvlan" and underlay in ("192.0.2.0/24", "172.17.0.0/16"):
                assert net.subnet == N(underlay)  # on the underlay's wire by design
                continue
            if underlay == "192.0.2.0/24" or underlay == "172.17.0.0/16":
                assert not net.subnet.overlaps(N(underlay))
            mine = set(topo.network_hosts(name))
            for other, other_net in plan.networks.items():
                if other == name:
                    continue
                theirs = set(topo.network_hosts(other))
                both_global = record.scope == "global" and topo.network(other).scope == "global"
                if not mine or not theirs or both_global or mine & theirs:
                    assert not net.subnet.overlaps(other_net.subnet), (name, other)

    @settings(max_examples=50, deadline=None)
    @given(topologies())
    def test_host_mirror_agrees_with_the_model(self, topo: Topology) -> None:
        networks = topo.networks
        endpoints = {net.name: topo.endpoints_on(net.name) for net in networks}
        mirror = _hosts_by_network(topo, networks, endpoints)
        assert mirror == {net.name: frozenset(topo.network_hosts(net.name)) for net in networks}


# -- performance ---------------------------------------------------------------------
def _big_topology() -> Topology:
    topo = Topology("big")
    for h in range(10):
        topo.add_host(f"h{h}")
    nets: list[tuple[str, str | None]] = []
    for n in range(50):
        if n % 5 == 0:
            topo.add_network(f"ov{n:02d}", "overlay")
            nets.append((f"ov{n:02d}", None))
        else:
            topo.add_network(f"br{n:02d}", host=f"h{n % 10}")
            nets.append((f"br{n:02d}", f"h{n % 10}"))
    for i in range(10_000):
        net, host = nets[i % 50]
        topo.add_sandbox(f"s{i:05d}", host=host or f"h{i % 10}")
        topo.connect(f"s{i:05d}", net)
    return topo


class TestScale:
    """Speed is measured by benchmarks/bench_model.py; here only the result at scale."""

    def test_ten_thousand_endpoints(self) -> None:
        topo = _big_topology()
        plan, problems = plan_addresses(topo)
        assert problems == []
        assert len(plan.networks) == 50
        assert len(plan.endpoints) == 10_000


class TestMacvlanOnTheUnderlay:
    def test_shares_the_underlay_and_skips_hosts_and_internet(self) -> None:
        topo = Topology("mv")
        for host in ("h1", "h2"):
            topo.add_host(host)
        topo.add_network("mv", "macvlan")
        for index, host in enumerate(("h1", "h2", "h1")):
            topo.add_sandbox(f"c{index}", host=host)
            topo.connect(f"c{index}", "mv")
        plan, problems = plan_addresses(topo)
        assert problems == []
        assert plan.networks["mv"] == NetworkAddress(N("192.0.2.0/24"), A("192.0.2.1"), None)
        got = sorted(str(plan.address_of(f"c{i}", "mv").ip) for i in range(3))
        assert got == ["192.0.2.2/24", "192.0.2.3/24", "192.0.2.4/24"]

    def test_host_addresses_are_never_handed_out(self) -> None:
        topo = Topology("mv")
        topo.add_host("h1")
        topo.add_network("mv", "macvlan", ip_range="192.0.2.8/29")
        for index in range(5):
            topo.add_sandbox(f"c{index}", host="h1")
            topo.connect(f"c{index}", "mv")
        plan, problems = plan_addresses(topo)
        addresses = {str(plan.address_of(f"c{i}", "mv").ip.ip) for i in range(5)}
        assert "192.0.2.11" not in addresses and len(addresses) == 5 and problems == []



def test_two_macvlan_networks_on_one_wire_never_share_an_address() -> None:
    topo = Topology("wire")
    for host in ("h1", "h2"):
        topo.add_host(host)
    topo.add_network("wire1", driver="macvlan", host="h1")
    topo.add_network("wire2", driver="macvlan", host="h2")
    for i in range(5):
        topo.add_sandbox(f"a{i}", host="h1")
        topo.connect(f"a{i}", "wire1")
        topo.add_sandbox(f"b{i}", host="h2")
        topo.connect(f"b{i}", "wire2")
    addressing = allocate(topo)
    ips = [str(addr.ip.ip) for addr in addressing.endpoints.values()]
    assert len(ips) == 10 and len(set(ips)) == 10
    assert not set(ips) & {"192.0.2.1", "192.0.2.11", "192.0.2.12"}
