"""The simulated backend: kernel objects in memory, kernel errnos on failure."""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path
from typing import Any

import pytest

from netlab.backends import (
    AddAddress,
    AddFdb,
    AddNeigh,
    AddRoute,
    ApplyRuleset,
    Backend,
    CreateBridge,
    CreateMacvlan,
    CreateNamespace,
    CreateVeth,
    CreateVxlan,
    DeleteFdb,
    DeleteLink,
    DeleteNamespace,
    DeleteNeigh,
    DeleteRoute,
    ExecResult,
    LinkState,
    SetMaster,
    SetSysctl,
    SetUp,
    Step,
)
from netlab.backends.simulated import SimulatedBackend, resulting_ruleset
from netlab.errors import BackendError, InvalidRequestError, NotSupportedError

H, A, B = "lab-host", "lab-a", "lab-b"
LO_MAC = "00:00:00:00:00:00"
BR_MAC, VA_MAC, EA_MAC, VB_MAC, EB_MAC = (f"02:00:00:00:00:{n:02x}" for n in (1, 0xA1, 0xA2, 0xB1, 0xB2))
TABLE = {"family": "inet", "name": "netlab-front"}
T = {"family": "inet", "table": "netlab-front"}
MASQ = [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                   "right": {"prefix": {"addr": "10.0.0.0", "len": 24}}}}, {"masquerade": None}]
RULESET: dict[str, Any] = {"nftables": [
    {"metainfo": {"json_schema_version": 1}},
    {"add": {"table": TABLE}},
    {"delete": {"table": TABLE}},
    {"add": {"table": TABLE}},
    {"add": {"chain": {**T, "name": "postrouting", "type": "nat", "hook": "postrouting", "prio": "srcnat"}}},
    {"add": {"chain": {**T, "name": "forward", "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}}},
    {"add": {"chain": {**T, "name": "isolation"}}},
    {"add": {"rule": {**T, "chain": "postrouting", "expr": MASQ}}},
    {"add": {"rule": {**T, "chain": "forward", "expr": [{"accept": None}]}}},
    {"add": {"rule": {**T, "chain": "postrouting", "handle": 7, "expr": [{"counter": None}]}}},
]}
EXPECTED_RULESET = [
    {"table": TABLE},
    {"chain": {**T, "name": "postrouting", "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}},
    {"chain": {**T, "name": "forward", "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
    {"chain": {**T, "name": "isolation"}},
    {"rule": {**T, "chain": "postrouting", "expr": MASQ}},
    {"rule": {**T, "chain": "postrouting", "expr": [{"counter": None}]}},
    {"rule": {**T, "chain": "forward", "expr": [{"accept": None}]}},
]

LAB: list[Step] = [
    CreateNamespace(H), CreateNamespace(A), CreateNamespace(B),
    SetUp(H, "lo"),
    CreateBridge(H, "br0", mtu=1500, mac=BR_MAC),
    AddAddress(H, "br0", "10.0.0.1/24"),
    CreateVeth(H, "vetha", A, "eth0", master="br0", mac=VA_MAC, peer_mac=EA_MAC),
    CreateVeth(H, "vethb", B, "eth0", master="br0", mac=VB_MAC, peer_mac=EB_MAC),
    SetSysctl(H, "net.ipv4.ip_forward", "1"),
    ApplyRuleset(H, RULESET),
]
for _ns, _ip in ((A, "10.0.0.2"), (B, "10.0.0.3")):
    LAB += [SetUp(_ns, "lo"), AddAddress(_ns, "eth0", f"{_ip}/24"), SetUp(_ns, "eth0"),
            AddRoute(_ns, "default", gateway="10.0.0.1")]


def lab() -> SimulatedBackend:
    backend = SimulatedBackend()
    backend.apply(LAB)
    return backend


def test_satisfies_backend_protocol() -> None:
    backend: Backend = SimulatedBackend()
    assert backend.name == "simulated" and backend.namespaces() == []
    backend.close()


LO_ADDR = ("lo", "127.0.0.1/8")  # the kernel gives lo this address when it comes up


def test_new_namespace_holds_only_lo_down() -> None:
    backend = SimulatedBackend()
    backend.apply([CreateNamespace("z"), CreateNamespace("y")])
    assert backend.namespaces() == ["y", "z"]
    state = backend.snapshot(["z"])["z"]
    assert state.links == {"lo": LinkState("lo", "loopback", False, LO_MAC, 65536, None)}
    assert state.links["lo"].ifindex == 1
    assert (state.addresses, state.routes, state.ruleset) == (set(), set(), None)
    assert state.sysctls == {"net.ipv4.ip_forward": "0"}


def test_snapshot_of_host_with_bridge_and_two_sandboxes() -> None:
    snap = lab().snapshot([H, A, B])
    host, a, b = snap[H], snap[A], snap[B]
    assert host.links == {
        "lo": LinkState("lo", "loopback", True, LO_MAC, 65536, None),
        "br0": LinkState("br0", "bridge", True, BR_MAC, 1500, None),
        "vetha": LinkState("vetha", "veth", True, VA_MAC, 1500, "br0", link=(A, "eth0")),
        "vethb": LinkState("vethb", "veth", True, VB_MAC, 1500, "br0", link=(B, "eth0")),
    }
    assert host.addresses == {("br0", "10.0.0.1/24"), ("lo", "127.0.0.1/8")}  # lo up gets 127.0.0.1
    assert host.routes == set()
    assert host.sysctls == {"net.ipv4.ip_forward": "1"}
    assert host.ruleset == EXPECTED_RULESET
    assert a.links == {"lo": LinkState("lo", "loopback", True, LO_MAC, 65536, None),
                       "eth0": LinkState("eth0", "veth", True, EA_MAC, 1500, None, link=(H, "vetha"))}
    assert b.links["eth0"] == LinkState("eth0", "veth", True, EB_MAC, 1500, None, link=(H, "vethb"))
    assert a.addresses - {("lo", "127.0.0.1/8")} == {("eth0", "10.0.0.2/24")}
    assert b.addresses - {("lo", "127.0.0.1/8")} == {("eth0", "10.0.0.3/24")}
    assert a.routes == {("default", "10.0.0.1", "eth0")} and b.routes == {("default", "10.0.0.1", "eth0")}
    assert a.sysctls == {"net.ipv4.ip_forward": "0"} and a.ruleset is None and b.ruleset is None


def test_veth_peer_is_left_down_and_the_ns_end_is_up() -> None:
    backend = SimulatedBackend()
    backend.apply([CreateNamespace("x"), CreateNamespace("y"), CreateVeth("x", "v0", "y", "v1")])
    snap = backend.snapshot(["x", "y"])
    assert snap["x"].links["v0"].up and not snap["y"].links["v1"].up
    assert snap["x"].links["v0"].mtu == 1500 and snap["x"].links["v0"].mac != snap["y"].links["v1"].mac
    for mac in (snap["x"].links["v0"].mac, snap["y"].links["v1"].mac):   # made up: unicast, locally administered
        assert mac is not None and re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", mac) and int(mac[:2], 16) & 3 == 2


def test_ifindex_allocation_is_per_namespace_and_never_reused() -> None:
    backend = lab()
    index = {ns: {n: link.ifindex for n, link in state.links.items()} for ns, state in backend.snapshot([H, A]).items()}
    assert index == {H: {"lo": 1, "br0": 2, "vetha": 3, "vethb": 4}, A: {"lo": 1, "eth0": 2}}
    backend.apply([DeleteLink(H, "vetha"), CreateVeth(H, "vethc", A, "eth1"),
                   CreateNamespace("solo"), CreateVeth("solo", "x0", "solo", "x1")])
    assert backend.snapshot([H])[H].links["vethc"].ifindex == 5
    assert backend.snapshot([A])[A].links["eth1"].ifindex == 3
    solo = backend.snapshot(["solo"])["solo"].links
    assert (solo["x1"].ifindex, solo["x0"].ifindex) == (2, 3)    # the peer is registered first


BASE: list[Step] = [
    CreateNamespace(H), CreateNamespace(A),
    CreateBridge(H, "br0"), AddAddress(H, "br0", "10.0.0.1/24"),
    CreateBridge(H, "br1", mac="02:00:00:00:01:01"), AddAddress(H, "br1", "10.1.0.1/24"),   # br1 stays up
    CreateVeth(H, "vetha", A, "eth0", master="br0"), AddAddress(A, "eth0", "10.0.0.2/24"),
    AddAddress(A, "lo", "127.0.0.1/8"),      # lo is down: its subnet is not connected
]
MISSING = "nowhere"
LONG = "x" * 16


@pytest.mark.parametrize(("step", "code"), [
    (CreateNamespace(H), errno.EEXIST),
    (CreateNamespace("a/b"), errno.EINVAL),
    (CreateBridge(MISSING, "br9"), errno.ENOENT),
    (CreateVeth(MISSING, "v9", A, "e9"), errno.ENOENT),
    (CreateVeth(H, "v9", MISSING, "e9"), errno.ENOENT),
    (AddAddress(MISSING, "eth0", "10.0.0.9/24"), errno.ENOENT),
    (SetUp(MISSING, "lo"), errno.ENOENT),
    (AddRoute(MISSING, "default", ifname="lo"), errno.ENOENT),
    (SetSysctl(MISSING, "net.ipv4.ip_forward", "1"), errno.ENOENT),
    (ApplyRuleset(MISSING, {"nftables": []}), errno.ENOENT),
    (CreateBridge(H, "br0"), errno.EEXIST),
    (CreateBridge(H, "vetha"), errno.EEXIST),
    (CreateBridge(H, LONG), errno.EINVAL),
    (CreateBridge(H, "a:b"), errno.EINVAL),
    (CreateBridge(H, "br9", mtu=67), errno.EINVAL),
    (CreateBridge(H, "br9", mtu=65536), errno.EINVAL),
    (CreateBridge(H, "br9", mac="02:00:00:00:00"), errno.EINVAL),
    (CreateVeth(H, "vetha", A, "e9"), errno.EEXIST),
    (CreateVeth(H, "v9", A, "eth0"), errno.EEXIST),
    (CreateVeth(H, "v9", H, "v9"), errno.EEXIST),
    (CreateVeth(H, "v9", A, "e9", master="br9"), errno.ENODEV),
    (CreateVeth(H, "v9", A, "e9", master="vetha"), errno.EOPNOTSUPP),
    (CreateVeth(H, "v9", A, "e9", master="lo"), errno.EOPNOTSUPP),
    (CreateVeth(H, LONG, A, "e9"), errno.EINVAL),
    (CreateVeth(H, "v9", A, LONG), errno.EINVAL),
    (CreateVeth(H, "v9", A, "e9", mtu=65536), errno.EINVAL),
    (CreateVeth(H, "v9", A, "e9", mtu=67), errno.EINVAL),
    (AddAddress(H, "nope", "10.0.0.9/24"), errno.ENODEV),
    (AddAddress(H, "br0", "10.0.0.1/24"), errno.EEXIST),
    (AddAddress(H, "br0", "10.0.0.1/33"), errno.EINVAL),
    (AddAddress(H, "br0", "fd00::1/64"), errno.EINVAL),
    (SetUp(H, "nope"), errno.ENODEV),
    (AddRoute(H, "10.9.0.0/16", ifname="nope"), errno.ENODEV),
    (AddRoute(H, "10.9.0.0/16", gateway="10.0.0.9", ifname="nope"), errno.ENODEV),
    (AddRoute(H, "10.9.0.0/16"), errno.ENODEV),
    (AddRoute(H, "10.9.0.0/16", gateway="10.7.0.1"), errno.ENETUNREACH),
    (AddRoute(A, "default", gateway="10.0.0.1"), errno.ENETUNREACH),      # eth0 is down
    (AddRoute(A, "default", gateway="127.0.0.2"), errno.ENETUNREACH),     # lo is down
    (AddRoute(H, "10.9.0.0/16", gateway="10.1.0.9", ifname="br0"), errno.ENETUNREACH),
    (AddRoute(A, "10.9.0.0/16", ifname="eth0"), errno.ENETDOWN),
    (AddRoute(H, "10.9.0.1/16", ifname="br0"), errno.EINVAL),
    (AddRoute(H, "default", gateway="10.0.0.300"), errno.EINVAL),
    (AddRoute(H, "10.8.0.0/16", gateway="10.0.0.9"), errno.EEXIST),
    (AddRoute(H, "10.8.0.0/16", ifname="br1"), errno.EEXIST),
    (DeleteRoute(H, "10.8.0.1/16"), errno.EINVAL),
    (DeleteLink(H, "lo"), errno.EOPNOTSUPP),
    (SetSysctl(H, "kernel.hostname", "x"), errno.EINVAL),
    (SetSysctl(H, "net.ipv4.ip_forward", "yes"), errno.EINVAL),
    (SetSysctl(H, "net/ipv4/ip_forward", "1"), errno.EINVAL),
    (ApplyRuleset(H, {"tables": []}), errno.EINVAL),
    (ApplyRuleset(H, {"nftables": [{"add": {"set": {**T, "name": "s"}}}]}), errno.EINVAL),
    (ApplyRuleset(H, {"nftables": [{"delete": {"chain": {**T, "name": "c"}}}]}), errno.EINVAL),
    (ApplyRuleset(H, {"nftables": [{"insert": {"rule": {**T, "chain": "c", "expr": []}}}]}), errno.EINVAL),
    (ApplyRuleset(H, {"nftables": [{"flush": {"ruleset": None}}]}), errno.EINVAL),
    # nft runs as a subprocess for the kernel backend, so every nft failure reads as EINVAL
    (ApplyRuleset(H, {"nftables": [{"delete": {"table": {"family": "ip", "name": "nope"}}}]}), errno.EINVAL),
    (ApplyRuleset(H, {"nftables": [{"add": {"chain": {**T, "name": "c"}}}]}), errno.EINVAL),
    (ApplyRuleset(H, {"nftables": [{"add": {"table": TABLE}}, {"add": {"rule": {**T, "chain": "c", "expr": []}}}]}),
     errno.EINVAL),
])
def test_errnos_and_nothing_changes_on_failure(step: Step, code: int) -> None:
    backend = SimulatedBackend()
    backend.apply([*BASE, SetUp(H, "br1"), SetUp(H, "br0"), AddRoute(H, "10.8.0.0/16", gateway="10.1.0.9")])
    before = backend.to_dict()
    with pytest.raises(BackendError) as caught:
        backend.apply([step])
    assert caught.value.errno == code
    where = step.peer_ns if isinstance(step, CreateVeth) and step.peer_ns == MISSING else step.ns
    assert f" in netns {where!r}: " in str(caught.value) and f"({errno.errorcode[code]})" in str(caught.value)
    assert backend.to_dict() == before


@pytest.mark.parametrize(("step", "message"), [
    (CreateBridge(H, "br0"), "create bridge 'br0' in netns 'lab-host': File exists (EEXIST)"),
    (CreateVeth(H, "v9", MISSING, "e9"),
     "create veth 'v9' (peer 'e9' in netns 'nowhere') in netns 'nowhere': No such file or directory (ENOENT)"),
    (AddAddress(H, "nope", "10.0.0.9/24"),
     "add address 10.0.0.9/24 to link 'nope' in netns 'lab-host': No such device (ENODEV)"),
    (AddRoute(A, "default", gateway="10.0.0.1"),
     "add route default via 10.0.0.1 in netns 'lab-a': Network is unreachable (ENETUNREACH)"),
    (SetUp(MISSING, "lo"), "bring up link 'lo' in netns 'nowhere': No such file or directory (ENOENT)"),
    (CreateNamespace(A), "create namespace in netns 'lab-a': File exists (EEXIST)"),
])
def test_error_messages_read_like_the_kernel_backend(step: Step, message: str) -> None:
    backend = SimulatedBackend()
    backend.apply(BASE)
    with pytest.raises(BackendError, match="^" + re.escape(message)):
        backend.apply([step])


def test_failing_create_veth_leaves_nothing_behind() -> None:
    backend = SimulatedBackend()
    backend.apply(BASE)
    with pytest.raises(BackendError):
        backend.apply([CreateVeth(H, "v9", A, "e9", master="vetha")])
    assert "v9" not in backend.snapshot([H])[H].links and "e9" not in backend.snapshot([A])[A].links
    backend.apply([CreateVeth(H, "v9", A, "e9", master="br0")])
    assert backend.snapshot([H])[H].links["v9"].ifindex == 5 and backend.snapshot([A])[A].links["e9"].ifindex == 3


def test_apply_stops_at_the_first_failure() -> None:
    backend = SimulatedBackend()
    with pytest.raises(BackendError):
        backend.apply([CreateNamespace("x"), CreateNamespace("x"), CreateNamespace("y")])
    assert backend.namespaces() == ["x"]


def test_unknown_step_is_not_supported() -> None:
    with pytest.raises(NotSupportedError):
        SimulatedBackend().apply([object()])  # type: ignore[list-item]


def test_deletes_are_idempotent() -> None:
    backend = lab()
    before = backend.to_dict()
    backend.apply([DeleteLink(H, "nope"), DeleteLink(MISSING, "eth0"), DeleteNamespace(MISSING),
                   DeleteRoute(H, "default"), DeleteRoute(MISSING, "default")])
    assert backend.to_dict() == before
    backend.apply([DeleteLink(H, "vetha"), DeleteLink(H, "vetha"), DeleteNamespace(B), DeleteNamespace(B)])
    assert backend.namespaces() == sorted([H, A])


def test_deleting_a_veth_end_takes_the_peer_its_addresses_and_routes() -> None:
    backend = lab()
    backend.apply([DeleteLink(A, "eth0")])
    snap = backend.snapshot([H, A])
    assert set(snap[H].links) == {"lo", "br0", "vethb"}
    assert set(snap[A].links) == {"lo"} and snap[A].addresses == {LO_ADDR} and snap[A].routes == set()


def test_deleting_a_namespace_destroys_the_peers_of_its_veths() -> None:
    backend = lab()
    backend.apply([AddRoute(H, "10.5.0.0/16", gateway="10.0.0.2"), DeleteNamespace(A)])
    assert backend.namespaces() == sorted([H, B])
    host = backend.snapshot([H])[H]
    assert set(host.links) == {"lo", "br0", "vethb"} and host.routes == {("10.5.0.0/16", "10.0.0.2", "br0")}
    assert backend.namespace(H).links["br0"].ports == ("vethb",)


def test_deleting_a_bridge_releases_its_ports_and_drops_its_routes() -> None:
    backend = lab()
    backend.apply([AddRoute(H, "10.5.0.0/16", gateway="10.0.0.2"), AddRoute(H, "10.6.0.0/16", ifname="vetha"),
                   DeleteLink(H, "br0")])
    host = backend.snapshot([H])[H]
    assert host.links["vetha"].master is None and host.links["vethb"].master is None and host.links["vetha"].up
    assert host.addresses == {LO_ADDR} and host.routes == {("10.6.0.0/16", None, "vetha")}


def test_routes_report_the_resolved_device() -> None:
    backend = SimulatedBackend()
    backend.apply(BASE)
    backend.apply([SetUp(H, "br0"), SetUp(H, "br1"), AddAddress(H, "br1", "10.0.0.129/25"),
                   AddRoute(H, "10.5.0.0/16", gateway="10.0.0.200"),               # longest prefix: br1
                   AddRoute(H, "10.6.0.0/16", gateway="10.0.0.200", ifname="br0"),
                   AddRoute(H, "0.0.0.0/0", ifname="br0")])
    assert backend.snapshot([H])[H].routes == {("10.5.0.0/16", "10.0.0.200", "br1"),
                                               ("10.6.0.0/16", "10.0.0.200", "br0"), ("default", None, "br0")}


def test_delete_route_removes_only_that_destination() -> None:
    backend = lab()
    backend.apply([AddRoute(A, "10.5.0.0/16", ifname="eth0"), DeleteRoute(A, "0.0.0.0/0"), DeleteRoute(A, "default")])
    assert backend.snapshot([A])[A].routes == {("10.5.0.0/16", None, "eth0")}
    backend.apply([AddRoute(A, "default", gateway="10.0.0.3")])      # the destination is free again
    assert backend.snapshot([A])[A].routes == {("10.5.0.0/16", None, "eth0"), ("default", "10.0.0.3", "eth0")}


def test_bridge_without_mac_or_mtu_follows_its_ports() -> None:
    backend = SimulatedBackend()
    backend.apply([CreateNamespace(H), CreateNamespace(A), CreateBridge(H, "br0"), CreateBridge(H, "br1", mac=BR_MAC),
                   CreateVeth(H, "v1", A, "e1", master="br0", mac="02:00:00:00:00:09", mtu=1450),
                   CreateVeth(H, "v2", A, "e2", master="br0", mac="02:00:00:00:00:05", mtu=1400),
                   CreateVeth(H, "v3", A, "e3", master="br1", mac="02:00:00:00:00:00")])
    links = backend.snapshot([H])[H].links
    assert (links["br0"].mac, links["br0"].mtu) == ("02:00:00:00:00:05", 1400)
    assert links["br1"].mac == BR_MAC
    backend = SimulatedBackend.from_dict(json.loads(json.dumps(backend.to_dict())))   # still follows after a reload
    backend.apply([DeleteLink(A, "e2")])
    assert (backend.snapshot([H])[H].links["br0"].mac, backend.snapshot([H])[H].links["br0"].mtu) == (
        "02:00:00:00:00:09", 1450)


def test_sysctls_are_stored_per_namespace_as_strings() -> None:
    backend = lab()
    backend.apply([SetSysctl(A, "net.ipv4.conf.all.rp_filter", " 2\n"), SetSysctl(A, "net.ipv4.ip_forward", "01\n")])
    assert backend.snapshot([A])[A].sysctls == {"net.ipv4.ip_forward": "1"}
    assert backend.namespace(A).sysctls["net.ipv4.conf.all.rp_filter"] == "2"
    assert backend.snapshot([B])[B].sysctls == {"net.ipv4.ip_forward": "0"}


def test_ruleset_applied_twice_gives_the_same_state() -> None:
    backend = lab()
    once = backend.snapshot([H])[H].ruleset
    backend.apply([ApplyRuleset(H, RULESET)])
    assert backend.snapshot([H])[H].ruleset == once == EXPECTED_RULESET
    assert resulting_ruleset(RULESET) == EXPECTED_RULESET


def test_ruleset_flush_and_delete_and_bare_objects() -> None:
    doc: dict[str, Any] = {"nftables": [{"table": {**TABLE, "handle": 3}}, {"chain": {**T, "name": "c"}},
                                        {"chain": {**T, "name": "d"}},
                                        {"rule": {**T, "chain": "c", "expr": [{"accept": None}]}},
                                        {"rule": {**T, "chain": "d", "expr": [{"drop": None}]}}]}
    assert resulting_ruleset(doc) == [{"table": TABLE}, {"chain": {**T, "name": "c"}}, {"chain": {**T, "name": "d"}},
                                      {"rule": {**T, "chain": "c", "expr": [{"accept": None}]}},
                                      {"rule": {**T, "chain": "d", "expr": [{"drop": None}]}}]
    flush_c = {"nftables": [*doc["nftables"], {"flush": {"chain": {**T, "name": "c"}}}]}
    assert resulting_ruleset(flush_c) == [{"table": TABLE}, {"chain": {**T, "name": "c"}},
                                          {"chain": {**T, "name": "d"}},
                                          {"rule": {**T, "chain": "d", "expr": [{"drop": None}]}}]
    flush_t = {"nftables": [*doc["nftables"], {"flush": {"table": TABLE}}]}
    assert resulting_ruleset(flush_t) == [{"table": TABLE}, {"chain": {**T, "name": "c"}},
                                          {"chain": {**T, "name": "d"}}]
    assert resulting_ruleset({"nftables": [*doc["nftables"], {"delete": {"table": TABLE}}]}) is None
    backend = lab()
    backend.apply([ApplyRuleset(H, {"nftables": [{"delete": {"table": TABLE}}]})])
    assert backend.snapshot([H])[H].ruleset is None
    with pytest.raises(BackendError, match="delete chain") as caught:
        resulting_ruleset({"nftables": [{"delete": {"chain": {**T, "name": "c"}}}]})
    assert caught.value.errno == errno.EINVAL


def test_to_dict_from_dict_round_trip_keeps_everything() -> None:
    backend = lab()
    data = json.loads(json.dumps(backend.to_dict()))
    assert data == backend.to_dict()
    copy = SimulatedBackend.from_dict(data)
    assert copy.snapshot([H, A, B]) == backend.snapshot([H, A, B])
    assert copy.namespace(H) == backend.namespace(H)
    copy.apply([DeleteLink(A, "eth0"), CreateVeth(H, "vethc", A, "eth9")])    # peers and counters survived
    assert set(copy.snapshot([H])[H].links) == {"lo", "br0", "vethb", "vethc"}
    assert copy.snapshot([H])[H].links["vethc"].ifindex == 5
    assert "vetha" in backend.snapshot([H])[H].links       # the original is untouched


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    backend = lab()
    backend.save(path)
    backend.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["world.json"]
    assert SimulatedBackend.load(path).to_dict() == backend.to_dict()
    assert SimulatedBackend.load(tmp_path / "none.json", missing_ok=True).namespaces() == []
    with pytest.raises(FileNotFoundError):
        SimulatedBackend.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InvalidRequestError):
        SimulatedBackend.load(tmp_path / "bad.json")


@pytest.mark.parametrize("state", [{}, {"format": "other"}, {"format": "netlab-simulated/1", "namespaces": {"x": {}}},
                                   []])
def test_from_dict_rejects_other_data(state: Any) -> None:
    with pytest.raises(InvalidRequestError):
        SimulatedBackend(state)


def test_namespace_view_for_the_packet_walker() -> None:
    backend = lab()
    host, a = backend.namespace(H), backend.namespace(A)
    assert host.links["br0"].ports == ("vetha", "vethb") and host.links["vetha"].peer == (A, "eth0")
    assert a.links["eth0"].peer == (H, "vetha") and a.links["eth0"].addresses == ("10.0.0.2/24",)
    assert a.connected == (("127.0.0.0/8", "lo", "127.0.0.1"), ("10.0.0.0/24", "eth0", "10.0.0.2"))
    assert a.lookup("10.0.0.3") == (None, "eth0") and a.lookup("8.8.8.8") == ("10.0.0.1", "eth0")
    assert host.lookup("8.8.8.8") is None and host.ruleset == EXPECTED_RULESET
    with pytest.raises(BackendError) as caught:
        backend.namespace(MISSING)
    assert caught.value.errno == errno.ENOENT


def test_snapshot_of_missing_namespace_is_enoent() -> None:
    with pytest.raises(BackendError) as caught:
        lab().snapshot([H, MISSING])
    assert caught.value.errno == errno.ENOENT


def test_exec_introspection_renders_the_state() -> None:
    backend = lab()
    brief = backend.exec(A, ["ip", "-br", "addr"])
    assert brief.returncode == 0 and brief.stderr == ""
    assert brief.stdout.splitlines() == [f"{'lo':<16} {'UNKNOWN':<14} 127.0.0.1/8",
                                         f"{'eth0@if3':<16} {'UP':<14} 10.0.0.2/24"]
    addr = backend.exec(A, ["ip", "addr"]).stdout
    assert "inet 10.0.0.2/24 brd 10.0.0.255 scope global eth0" in addr and f"link/ether {EA_MAC}" in addr
    assert "2: eth0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500" in addr
    assert backend.exec(A, ["ip", "route"]).stdout.splitlines() == [
        "default via 10.0.0.1 dev eth0", "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2"]
    link = backend.exec(H, ["ip", "link", "show"]).stdout
    assert "master br0 state UP mode DEFAULT" in link and "inet" not in link
    assert "10.0.0.1/24" in backend.exec(H, ["ip", "-br", "a"]).stdout


def test_exec_shows_down_and_carrierless_links() -> None:
    backend = SimulatedBackend()
    backend.apply([CreateNamespace("x"), CreateNamespace("y"), CreateVeth("x", "v0", "y", "v1"),
                   AddAddress("x", "v0", "10.9.0.1/24")])
    assert "v0@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN" in (
        backend.exec("x", ["ip", "addr"]).stdout)
    assert "1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN" in backend.exec("y", ["ip", "link"]).stdout
    assert backend.exec("x", ["ip", "route"]).stdout == (
        "10.9.0.0/24 dev v0 proto kernel scope link src 10.9.0.1 linkdown\n")


@pytest.mark.parametrize("argv", [["ping", "-c1", "10.0.0.1"], ["ip", "link", "set", "eth0", "down"], [],
                                  ["ip", "neigh", "flush", "all"], ["ip", "-br", "neigh"], ["sh", "-c", "ip addr"],
                                  ["bridge", "link"], ["bridge", "fdb", "add", "02:00:00:00:00:01"]])
def test_exec_of_anything_else_is_not_supported(argv: list[str]) -> None:
    with pytest.raises(NotSupportedError, match="--backend kernel"):
        lab().exec(A, argv)


def test_exec_in_missing_namespace_is_enoent() -> None:
    with pytest.raises(BackendError) as caught:
        lab().exec(MISSING, ["ip", "addr"])
    assert caught.value.errno == errno.ENOENT


# -- L2: vxlan, macvlan, bridge ports, fdb and neighbour entries ---------------------------------------------------
ZERO = "00:00:00:00:00:00"
H1, H2, O1, O2, C1, C2 = "ovl-h1", "ovl-h2", "ovl-sb1", "ovl-sb2", "ovl-c1", "ovl-c2"
VX, OV = "vx-000100", "ov-000100"
U1_MAC, U2_MAC, VX1_MAC, VX2_MAC, OV1_MAC, OV2_MAC = (f"02:00:00:00:10:{n:02x}" for n in (1, 2, 0x11, 0x12, 0x21, 0x22))
C1_MAC, C2_MAC = "02:42:0a:00:00:02", "02:42:0a:00:00:03"
V1_MAC, V2_MAC = "02:00:00:00:10:31", "02:00:00:00:10:32"

# two hosts joined by an underlay veth; on each, an overlay sandbox (bridge + vxlan whose socket stays in the host)
# and a container; each sandbox knows the other host's container (neighbour, unicast fdb) and floods to its VTEP
OVERLAY: list[Step] = [*(CreateNamespace(ns) for ns in (H1, H2, O1, O2, C1, C2)),
                       CreateVeth(H1, "eth0", H2, "eth0", mac=U1_MAC, peer_mac=U2_MAC), SetUp(H2, "eth0"),
                       AddAddress(H1, "eth0", "192.0.2.11/24"), AddAddress(H2, "eth0", "192.0.2.12/24")]
for _h, _o, _c, _vx, _ov, _veth, _cmac, _ip, _local, _remote, _peer_ip, _peer_mac in (
        (H1, O1, C1, VX1_MAC, OV1_MAC, V1_MAC, C1_MAC, "10.0.0.2", "192.0.2.11", "192.0.2.12", "10.0.0.3", C2_MAC),
        (H2, O2, C2, VX2_MAC, OV2_MAC, V2_MAC, C2_MAC, "10.0.0.3", "192.0.2.12", "192.0.2.11", "10.0.0.2", C1_MAC)):
    OVERLAY += [CreateBridge(_o, OV, mac=_ov), AddAddress(_o, OV, "10.0.0.1/24"),
                CreateVxlan(_h, VX, 100, _local, "eth0", target_ns=_o, mac=_vx), SetMaster(_o, VX, OV), SetUp(_o, VX),
                CreateVeth(_o, "veth0", _c, "eth0", master=OV, mac=_veth, peer_mac=_cmac, mtu=1450),
                AddAddress(_c, "eth0", f"{_ip}/24"), SetUp(_c, "eth0"),
                AddNeigh(_o, VX, _peer_ip, _peer_mac), AddFdb(_o, VX, _peer_mac, _remote),
                AddFdb(_o, VX, ZERO, _remote, append=True)]


def overlay() -> SimulatedBackend:
    backend = SimulatedBackend()
    backend.apply(OVERLAY)
    return backend


def test_snapshot_of_a_two_host_vxlan_overlay() -> None:
    snap = overlay().snapshot([H1, H2, O1, O2, C1])
    assert snap[O1].links == {
        "lo": LinkState("lo", "loopback", False, LO_MAC, 65536, None),
        OV: LinkState(OV, "bridge", True, OV1_MAC, 1450, None),      # follows its smallest port mtu
        VX: LinkState(VX, "vxlan", True, VX1_MAC, 1450, OV, info=(100, "192.0.2.11", 4789, False),
                      link=(H1, "eth0")),     # its UDP socket stays in the host it was created from
        "veth0": LinkState("veth0", "veth", True, V1_MAC, 1450, OV, link=(C1, "eth0")),
    }
    assert snap[O2].links[VX] == LinkState(VX, "vxlan", True, VX2_MAC, 1450, OV, info=(100, "192.0.2.12", 4789, False),
                                           link=(H2, "eth0"))
    assert snap[O2].links[OV] == LinkState(OV, "bridge", True, OV2_MAC, 1450, None)
    assert snap[O1].fdb == {(VX, C2_MAC, "192.0.2.12"), (VX, ZERO, "192.0.2.12")}
    assert snap[O2].fdb == {(VX, C1_MAC, "192.0.2.11"), (VX, ZERO, "192.0.2.11")}
    assert snap[O1].neighbours == {(VX, "10.0.0.3", C2_MAC)} and snap[O2].neighbours == {(VX, "10.0.0.2", C1_MAC)}
    assert snap[O1].addresses == {(OV, "10.0.0.1/24")}
    assert snap[H1].links == {"lo": LinkState("lo", "loopback", False, LO_MAC, 65536, None),   # the vxlan is not here
                              "eth0": LinkState("eth0", "veth", True, U1_MAC, 1500, None, link=(H2, "eth0"))}
    assert (snap[H1].fdb, snap[H1].neighbours, snap[C1].fdb, snap[C1].neighbours) == (set(), set(), set(), set())
    assert snap[C1].links["eth0"] == LinkState("eth0", "veth", True, C1_MAC, 1450, None, link=(O1, "veth0"))
    assert snap[H1].links["lo"].info is None and snap[O1].links[VX].ifindex == 3


def test_namespace_view_keeps_what_the_walker_needs_for_the_overlay() -> None:
    backend = overlay()
    backend.apply([AddFdb(O1, VX, ZERO, "192.0.2.13", append=True)])
    sandbox, host = backend.namespace(O1), backend.namespace(H1)
    vx = sandbox.links[VX]
    assert (vx.kind, vx.underlay_ns, vx.underlay_dev, vx.parent, vx.info) == (
        "vxlan", H1, "eth0", None, (100, "192.0.2.11", 4789, False))
    assert sandbox.links[OV].ports == (VX, "veth0") and sandbox.links[OV].underlay_ns is None
    assert host.vteps == ((O1, VX),) and sandbox.vteps == () and backend.namespace(H2).vteps == ((O2, VX),)
    assert host.lookup("192.0.2.12") == (None, "eth0")           # the underlay route the encapsulated UDP takes
    assert sandbox.fdb == ((VX, C2_MAC, "192.0.2.12"), (VX, ZERO, "192.0.2.12"), (VX, ZERO, "192.0.2.13"))
    assert sandbox.vxlan_destinations(VX, C2_MAC.upper()) == ("192.0.2.12",)
    assert sandbox.vxlan_destinations(VX, "ff:ff:ff:ff:ff:ff") == ("192.0.2.12", "192.0.2.13")   # flooded
    assert backend.namespace(O2).vxlan_destinations(VX, "02:42:0a:00:00:09") == ("192.0.2.11",)
    assert sandbox.neighbours == ((VX, "10.0.0.3", C2_MAC),)
    assert sandbox.neighbour(VX, "10.0.0.3") == C2_MAC and sandbox.neighbour(VX, "10.0.0.4") is None
    backend.apply([DeleteFdb(O1, VX, ZERO, "192.0.2.12"), DeleteFdb(O1, VX, ZERO, "192.0.2.13")])
    assert backend.namespace(O1).vxlan_destinations(VX, "ff:ff:ff:ff:ff:ff") == ()   # no flood entry: dropped


def test_vxlan_mtu_comes_from_the_underlay_and_is_capped_by_it() -> None:
    backend = SimulatedBackend()
    backend.apply([CreateNamespace(H), CreateNamespace(A),
                   CreateVeth(H, "u0", A, "u1"), CreateVeth(H, "j0", A, "j1", mtu=9000),
                   CreateVeth(H, "t0", A, "t1", mtu=100),
                   CreateVxlan(H, "vx1", 1, "192.0.2.1", "u0"),
                   CreateVxlan(H, "vx2", 2, "192.0.2.1", "u0", mtu=1400),
                   CreateVxlan(H, "vx3", 3, "192.0.2.1", "u0", mtu=1500),          # silently capped
                   CreateVxlan(H, "vx4", 4, "192.0.2.1", "j0", target_ns=A, port=8472, learning=True),
                   CreateVxlan(H, "vx5", 5, "192.0.2.1", "t0"),                     # 100 - 50, raised to 68
                   CreateVxlan(H, "vx6", 1, "192.0.2.1", "u0", port=4790),           # same vni, other port
                   CreateVxlan(H, "vx7", 0, "192.0.2.1", "u0", port=0)])             # both allowed: 0 is 8472
    host, a = backend.snapshot([H])[H].links, backend.snapshot([A])[A].links
    assert [host[n].mtu for n in ("vx1", "vx2", "vx3", "vx5", "vx6")] == [1450, 1400, 1450, 68, 1450]
    assert host["vx7"].info == (0, "192.0.2.1", 8472, False)
    assert a["vx4"] == LinkState("vx4", "vxlan", False, a["vx4"].mac, 8950, None, info=(4, "192.0.2.1", 8472, True),
                                 link=(H, "j0"))
    assert host["vx1"].link == (H, "u0")
    assert not host["vx1"].up and host["vx1"].info == (1, "192.0.2.1", 4789, False)
    for mac in (host["vx1"].mac, a["vx4"].mac):      # made up: unicast, locally administered
        assert mac is not None and re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", mac) and int(mac[:2], 16) & 3 == 2
    assert backend.namespace(H).links["vx1"].underlay_ns == H and backend.namespace(A).links["vx4"].underlay_ns == H
    assert backend.namespace(H).vteps == ((A, "vx4"), (H, "vx1"), (H, "vx2"), (H, "vx3"), (H, "vx5"), (H, "vx6"),
                                          (H, "vx7"))
    with pytest.raises(BackendError) as caught:        # port 0 is 8472, which vx4 has for vni 4
        backend.apply([CreateVxlan(H, "vx8", 4, "192.0.2.1", "u0", port=0)])
    assert caught.value.errno == errno.EEXIST


def test_macvlan_takes_its_parents_mtu_and_lives_in_the_target() -> None:
    backend = SimulatedBackend()
    backend.apply([CreateNamespace(H), CreateNamespace(A), CreateNamespace(B),
                   CreateVeth(H, "u0", A, "u1", mac=VA_MAC), CreateVeth(H, "j0", A, "j1", mtu=9000, mac=VB_MAC),
                   CreateMacvlan(H, "u0", A, "mv0", mac=EA_MAC),
                   CreateMacvlan(H, "j0", B, "eth0", mode="private", mtu=1400, mac=EB_MAC),
                   CreateMacvlan(H, "j0", B, "mv1", mode="vepa"),
                   CreateMacvlan(A, "mv0", B, "mv2", mac="02:00:00:00:00:77"),   # stacked: attaches to u0
                   CreateVeth(H, "p0", A, "p1", mac="02:00:00:00:00:99"),
                   CreateMacvlan(H, "p0", A, "pt", mode="passthru", mac="02:00:00:00:00:55")])
    a, b = backend.snapshot([A])[A].links, backend.snapshot([B])[B].links
    assert a["mv0"] == LinkState("mv0", "macvlan", False, EA_MAC, 1500, None, info=("bridge",), link=(H, "u0"))
    assert b["eth0"] == LinkState("eth0", "macvlan", False, EB_MAC, 1400, None, info=("private",), link=(H, "j0"))
    assert b["mv2"].link == (H, "u0")    # a macvlan on a macvlan hangs on the real device, as the kernel says
    assert b["mv1"].mtu == 9000 and b["mv1"].info == ("vepa",) and b["mv1"].mac not in (None, VB_MAC)
    assert b["mv2"].mtu == 1500 and a["pt"].mac == "02:00:00:00:00:99"    # passthru takes the parent's MAC
    host = backend.namespace(H)
    assert host.links["u0"].macvlans == ((A, "mv0"), (B, "mv2")) and host.links["j0"].macvlans == ((B, "eth0"),
                                                                                                  (B, "mv1"))
    assert backend.namespace(B).links["mv2"].parent == (H, "u0") and backend.namespace(A).links["mv0"].macvlans == ()
    assert "mv0" not in backend.snapshot([H])[H].links


def test_set_master_enslaves_moves_and_the_bridge_follows_its_ports() -> None:
    backend = SimulatedBackend()
    backend.apply([CreateNamespace(H), CreateNamespace(A), CreateBridge(H, "br0"), CreateBridge(H, "br1"),
                   CreateVeth(H, "u0", A, "u1", mac="02:00:00:00:00:09"),
                   CreateVxlan(H, "vx0", 7, "192.0.2.1", "u0", mac="02:00:00:00:00:05"),
                   SetMaster(H, "vx0", "br0"), SetMaster(H, "vx0", "br0"),       # the second is a no-op
                   CreateVeth(H, "v1", A, "e1", master="br0", mac="02:00:00:00:00:07")])
    links = backend.snapshot([H])[H].links
    assert links["vx0"].master == "br0" and (links["br0"].mtu, links["br0"].mac) == (1450, "02:00:00:00:00:05")
    backend.apply([SetMaster(H, "vx0", "br1")])
    links = backend.snapshot([H])[H].links
    assert links["vx0"].master == "br1" and (links["br0"].mtu, links["br0"].mac) == (1500, "02:00:00:00:00:07")
    assert (links["br1"].mtu, links["br1"].mac) == (1450, "02:00:00:00:00:05")
    assert backend.namespace(H).links["br1"].ports == ("vx0",)


def test_fdb_add_and_append_follow_the_vxlan_driver() -> None:
    backend = overlay()
    m1, mc = "02:42:0a:00:00:09", "01:00:5e:00:00:01"
    with pytest.raises(BackendError) as caught:        # appending what is there: EEXIST, as adding it again
        backend.apply([AddFdb(O1, VX, ZERO, "192.0.2.12", append=True)])
    assert caught.value.errno == errno.EEXIST
    backend.apply([AddFdb(O1, VX, C2_MAC.upper(), "192.0.2.99", append=True),  # unicast entry exists: no-op
                   AddFdb(O1, VX, m1, "192.0.2.13", append=True),              # a new MAC is created
                   AddFdb(O1, VX, mc, "192.0.2.12"), AddFdb(O1, VX, mc, "192.0.2.13", append=True)])
    assert backend.snapshot([O1])[O1].fdb == {(VX, C2_MAC, "192.0.2.12"), (VX, ZERO, "192.0.2.12"),
                                              (VX, m1, "192.0.2.13"), (VX, mc, "192.0.2.12"), (VX, mc, "192.0.2.13")}
    backend.apply([DeleteFdb(O1, VX, mc, "0.0.0.0"),                          # 0.0.0.0: every destination of mc
                   DeleteFdb(O1, VX, m1, "192.0.2.99"),                        # not that destination: nothing
                   DeleteFdb(O1, VX, C2_MAC.upper(), "192.0.2.12")])
    assert backend.snapshot([O1])[O1].fdb == {(VX, ZERO, "192.0.2.12"), (VX, m1, "192.0.2.13")}
    backend.apply([AddFdb(O1, VX, C2_MAC, "192.0.2.14")])                    # the MAC is free again
    assert (VX, C2_MAC, "192.0.2.14") in backend.snapshot([O1])[O1].fdb


L2BASE: list[Step] = [
    CreateNamespace(H), CreateNamespace(A), CreateNamespace(B),
    CreateBridge(H, "br0"), CreateBridge(H, "br1"), CreateVeth(H, "vetha", A, "eth0", master="br0"),
    CreateVeth(H, "u0", A, "u1"), CreateVeth(H, "p0", A, "p1"),
    CreateVxlan(H, "vx0", 100, "192.0.2.1", "u0"), CreateVxlan(H, "vx1", 101, "192.0.2.1", "u0", target_ns=A),
    CreateMacvlan(H, "u0", A, "mv0"), CreateMacvlan(H, "p0", A, "pt0", mode="passthru"),
    CreateMacvlan(H, "br0", H, "mvb"),
    AddFdb(H, "vx0", "02:00:00:00:00:0a", "192.0.2.2"), AddFdb(H, "vx0", ZERO, "192.0.2.2", append=True),
    AddNeigh(H, "vx0", "10.0.0.9", "02:00:00:00:00:0a"),
]
V = "192.0.2.1"


@pytest.mark.parametrize(("step", "code", "where"), [
    (CreateVxlan(MISSING, "vx9", 9, V, "u0"), errno.ENOENT, MISSING),
    (CreateVxlan(H, "vx9", 9, V, "u0", target_ns=MISSING), errno.ENOENT, MISSING),
    (CreateVxlan(H, "vx9", 9, V, "nope"), errno.ENODEV, H),
    (CreateVxlan(H, "vx9", 9, V, "u1"), errno.ENODEV, H),                     # the underlay is looked up in ns
    (CreateVxlan(H, "vx0", 9, V, "u0"), errno.EEXIST, H),
    (CreateVxlan(H, "eth0", 9, V, "u0", target_ns=A), errno.EEXIST, H),        # taken in the target
    (CreateVxlan(H, "vx9", 100, V, "u0"), errno.EEXIST, H),                    # vni 100 port 4789 over H's routing
    (CreateVxlan(H, "vx9", 101, V, "p0", target_ns=B), errno.EEXIST, H),       # vx1 lives in A but its socket in H
    (CreateVxlan(H, "vx9", 1 << 24, V, "u0"), errno.ERANGE, H),              # vxlan_validate says ERANGE
    (CreateVxlan(H, "vx9", -1, V, "u0"), errno.ERANGE, H),
    (CreateVxlan(H, "vx9", 9, V, "u0", port=-1), errno.EINVAL, H),
    (CreateVxlan(H, "vx9", 9, V, "u0", port=65536), errno.EINVAL, H),
    (CreateVxlan(H, "vx9", 9, V, "u0", mtu=65536), errno.EINVAL, H),
    (CreateVxlan(H, "vx9", 9, "192.0.2.300", "u0"), errno.EINVAL, H),
    (CreateVxlan(H, "vx9", 9, "fd00::1", "u0"), errno.EINVAL, H),
    (CreateVxlan(H, "vx9", 9, "239.1.1.1", "u0"), errno.EINVAL, H),
    (CreateVxlan(H, "vx9", 9, V, "u0", mac="02:00:00:00:00"), errno.EINVAL, H),
    (CreateVxlan(H, "vx9", 9, V, "u0", mac="01:00:5e:00:00:01"), errno.EADDRNOTAVAIL, H),
    (CreateVxlan(H, "vx9", 9, V, "u0", mac=ZERO), errno.EADDRNOTAVAIL, H),
    (CreateVxlan(H, "vx9", 9, V, "u0", mtu=67), errno.EINVAL, H),
    (CreateVxlan(H, LONG, 9, V, "u0"), errno.EINVAL, H),
    (CreateMacvlan(MISSING, "u0", A, "mv9"), errno.ENOENT, MISSING),
    (CreateMacvlan(H, "u0", MISSING, "mv9"), errno.ENOENT, MISSING),
    (CreateMacvlan(H, "nope", A, "mv9"), errno.ENODEV, H),
    (CreateMacvlan(H, "u0", A, "eth0"), errno.EEXIST, H),
    (CreateMacvlan(H, "u0", A, "mv9", mode="source"), errno.EINVAL, H),
    (CreateMacvlan(H, "u0", A, "mv9", mtu=1501), errno.EINVAL, H),
    (CreateMacvlan(A, "mv0", A, "mv9", mtu=1501), errno.EINVAL, A),          # checked against the real parent u0
    (CreateMacvlan(H, "lo", A, "mv9"), errno.EINVAL, H),
    (CreateMacvlan(H, "vetha", A, "mv9"), errno.EBUSY, H),                    # a bridge port
    (CreateMacvlan(H, "u0", A, "mv9", mac="33:33:00:00:00:01"), errno.EADDRNOTAVAIL, H),
    (CreateMacvlan(H, "u0", A, "mv9", mode="passthru"), errno.EINVAL, H),     # u0 has a macvlan already
    (CreateMacvlan(H, "p0", A, "mv9"), errno.EINVAL, H),                      # p0 has a passthru macvlan
    (CreateMacvlan(H, "u0", A, LONG), errno.EINVAL, H),
    (SetMaster(MISSING, "u0", "br0"), errno.ENOENT, MISSING),
    (SetMaster(H, "nope", "br0"), errno.ENODEV, H),
    (SetMaster(H, "vx0", "nope"), errno.ENODEV, H),
    (SetMaster(H, "vx0", "vetha"), errno.EOPNOTSUPP, H),
    (SetMaster(H, "vx0", "lo"), errno.EOPNOTSUPP, H),
    (SetMaster(H, "lo", "br0"), errno.EINVAL, H),
    (SetMaster(H, "br1", "br0"), errno.ELOOP, H),
    (SetMaster(H, "br0", "br0"), errno.ELOOP, H),
    (SetMaster(H, "u0", "br0"), errno.EBUSY, H),                              # u0 has macvlans on it
    (SetMaster(H, "mvb", "br0"), errno.EBUSY, H),                             # mvb sits on br0 itself
    (AddFdb(MISSING, "vx0", C1_MAC, "192.0.2.2"), errno.ENOENT, MISSING),
    (AddFdb(H, "nope", C1_MAC, "192.0.2.2"), errno.ENODEV, H),
    (AddFdb(H, "vetha", C1_MAC, "192.0.2.2"), errno.EOPNOTSUPP, H),
    (AddFdb(H, "br0", C1_MAC, "192.0.2.2"), errno.EOPNOTSUPP, H),
    (AddFdb(H, "lo", C1_MAC, "192.0.2.2"), errno.EOPNOTSUPP, H),
    (AddFdb(A, "mv0", C1_MAC, "192.0.2.2"), errno.EOPNOTSUPP, A),
    (AddFdb(H, "vx0", "02:42:0a:00:00", "192.0.2.2"), errno.EINVAL, H),
    (AddFdb(H, "vx0", C1_MAC, "192.0.2"), errno.EINVAL, H),
    (AddFdb(H, "vx0", "02:00:00:00:00:0a", "192.0.2.2"), errno.EEXIST, H),    # the same entry
    (AddFdb(H, "vx0", "02:00:00:00:00:0a", "192.0.2.2", append=True), errno.EEXIST, H),
    (AddFdb(H, "vx0", ZERO, "192.0.2.2", append=True), errno.EEXIST, H),      # a repeated append
    (AddFdb(H, "vx0", "02:00:00:00:00:0A", "192.0.2.3"), errno.EEXIST, H),    # the MAC has an entry
    (AddFdb(H, "vx0", ZERO, "192.0.2.3"), errno.EEXIST, H),                   # flood entries need append
    (AddNeigh(MISSING, "vx0", "10.0.0.8", C1_MAC), errno.ENOENT, MISSING),
    (AddNeigh(H, "nope", "10.0.0.8", C1_MAC), errno.ENODEV, H),
    (AddNeigh(H, "vx0", "10.0.0.300", C1_MAC), errno.EINVAL, H),
    (AddNeigh(H, "vx0", "fd00::8", C1_MAC), errno.EINVAL, H),
    (AddNeigh(H, "vx0", "10.0.0.8", "02-42-0a-00-00-02"), errno.EINVAL, H),
    (AddNeigh(H, "vx0", "10.0.0.9", "02:00:00:00:00:0a"), errno.EEXIST, H),
    (AddNeigh(H, "vx0", "10.0.0.9", C1_MAC), errno.EEXIST, H),               # (ifname, ip) is the key
    (DeleteFdb(H, "vx0", "zz", "192.0.2.2"), errno.EINVAL, H),
    (DeleteFdb(MISSING, "vx0", C1_MAC, "not-an-ip"), errno.EINVAL, MISSING),
    (DeleteNeigh(H, "vx0", "10.0.0.300"), errno.EINVAL, H),
])
def test_l2_errnos_and_nothing_changes_on_failure(step: Step, code: int, where: str) -> None:
    backend = SimulatedBackend()
    backend.apply(L2BASE)
    before = backend.to_dict()
    with pytest.raises(BackendError) as caught:
        backend.apply([step])
    assert caught.value.errno == code
    assert f" in netns {where!r}: " in str(caught.value) and f"({errno.errorcode[code]})" in str(caught.value)
    assert backend.to_dict() == before


@pytest.mark.parametrize(("step", "message"), [
    (CreateVxlan(H, "vx9", 9, V, "u0", target_ns=MISSING), "create vxlan 'vx9' (vni 9, local 192.0.2.1, dev 'u0') "
     "for netns 'nowhere' in netns 'nowhere': No such file or directory (ENOENT)"),
    (CreateVxlan(H, "vx9", 100, V, "u0"),
     "create vxlan 'vx9' (vni 100, local 192.0.2.1, dev 'u0') in netns 'lab-host': File exists (EEXIST)"),
    (CreateVxlan(H, "vx9", 1 << 24, V, "u0"), "create vxlan 'vx9' (vni 16777216, local 192.0.2.1, dev 'u0') in netns "
     "'lab-host': Numerical result out of range (ERANGE)"),
    (CreateMacvlan(H, "vetha", A, "mv9"), "create macvlan 'mv9' (parent 'vetha', mode bridge) for netns 'lab-a' "
     "in netns 'lab-host': Device or resource busy (EBUSY)"),
    (SetMaster(H, "vx0", "vetha"), "enslave link 'vx0' to bridge 'vetha' in netns 'lab-host': Operation not supported"),
    (AddFdb(H, "vetha", C1_MAC, "192.0.2.2"),
     f"add fdb entry {C1_MAC} dst 192.0.2.2 on link 'vetha' in netns 'lab-host': Operation not supported"),
    (AddFdb(H, "vx0", ZERO, "192.0.2.2", append=True),
     f"append fdb entry {ZERO} dst 192.0.2.2 on link 'vx0' in netns 'lab-host': File exists (EEXIST)"),
    (AddNeigh(H, "vx0", "10.0.0.9", C1_MAC),
     f"add neighbour 10.0.0.9 lladdr {C1_MAC} on link 'vx0' in netns 'lab-host': File exists (EEXIST)"),
    (DeleteNeigh(H, "vx0", "10.0.0.300"), "delete neighbour 10.0.0.300 on link 'vx0' in netns 'lab-host': Invalid"),
])
def test_l2_error_messages(step: Step, message: str) -> None:
    backend = SimulatedBackend()
    backend.apply(L2BASE)
    with pytest.raises(BackendError, match="^" + re.escape(message)):
        backend.apply([step])


def test_l2_deletes_are_idempotent() -> None:
    backend = SimulatedBackend()
    backend.apply(L2BASE)
    before = backend.to_dict()
    backend.apply([DeleteFdb(MISSING, "vx0", C1_MAC, "192.0.2.2"), DeleteFdb(H, "nope", C1_MAC, "192.0.2.2"),
                   DeleteFdb(H, "vetha", C1_MAC, "192.0.2.2"), DeleteFdb(H, "vx0", C1_MAC, "192.0.2.2"),
                   DeleteFdb(H, "vx0", ZERO, "192.0.2.9"), DeleteNeigh(MISSING, "vx0", "10.0.0.9"),
                   DeleteNeigh(H, "nope", "10.0.0.9"), DeleteNeigh(H, "vx0", "10.0.0.8")])
    assert backend.to_dict() == before
    gone: list[Step] = [DeleteFdb(H, "vx0", "02:00:00:00:00:0a", "192.0.2.2"), DeleteNeigh(H, "vx0", "10.0.0.9")]
    backend.apply(gone + gone)
    state = backend.snapshot([H])[H]
    assert state.fdb == {("vx0", ZERO, "192.0.2.2")} and state.neighbours == set()


def test_deleting_a_vxlan_drops_its_entries_and_frees_its_vni() -> None:
    backend = overlay()
    backend.apply([AddNeigh(O1, "veth0", "10.0.0.77", C2_MAC), DeleteLink(O1, VX)])
    sandbox = backend.snapshot([O1])[O1]
    assert set(sandbox.links) == {"lo", OV, "veth0"} and sandbox.fdb == set()
    assert sandbox.neighbours == {("veth0", "10.0.0.77", C2_MAC)}
    assert backend.namespace(O1).links[OV].ports == ("veth0",) and backend.namespace(H1).vteps == ()
    assert backend.exec(O1, ["bridge", "fdb"]).stdout == ""
    backend.apply([CreateVxlan(H1, VX, 100, "192.0.2.11", "eth0", target_ns=O1, mac=VX1_MAC),
                   DeleteLink(O1, "veth0")])
    assert backend.snapshot([O1])[O1].neighbours == set() and backend.snapshot([O1])[O1].fdb == set()


def test_deleting_the_underlay_device_or_namespace_destroys_the_vxlans() -> None:
    backend = overlay()
    backend.apply([DeleteLink(H1, "eth0")])           # takes its peer H2/eth0: both vxlans lose their underlay
    snap = backend.snapshot([O1, O2])
    assert VX not in snap[O1].links and VX not in snap[O2].links and snap[O1].fdb == snap[O2].fdb == set()
    assert snap[O1].neighbours == snap[O2].neighbours == set()
    backend = overlay()
    backend.apply([DeleteNamespace(O1)])              # deleting the device's namespace leaves the underlay alone
    assert backend.namespace(H1).vteps == () and backend.namespace(H2).vteps == ((O2, VX),)
    backend.apply([DeleteNamespace(H2)])              # H2's vxlan goes; so does H1/eth0, the veth peer of H2/eth0
    assert set(backend.snapshot([H1])[H1].links) == {"lo"} and set(backend.snapshot([O2])[O2].links) == {"lo", OV,
                                                                                                          "veth0"}
    backend = SimulatedBackend()                      # the underlay namespace alone takes the vxlans away
    backend.apply([CreateNamespace(H), CreateNamespace(A), CreateBridge(H, "ul"),
                   CreateVxlan(H, "vx0", 5, V, "ul", target_ns=A), AddFdb(A, "vx0", ZERO, "192.0.2.9", append=True),
                   DeleteNamespace(H)])
    assert set(backend.snapshot([A])[A].links) == {"lo"} and backend.snapshot([A])[A].fdb == set()


def test_deleting_the_parent_or_its_namespace_destroys_the_macvlans() -> None:
    steps: list[Step] = [CreateNamespace(H), CreateNamespace(A), CreateNamespace(B), CreateVeth(H, "u0", B, "u1"),
                         CreateMacvlan(H, "u0", A, "mv0"), CreateMacvlan(H, "u0", B, "mv1"),
                         AddNeigh(A, "mv0", "10.0.0.5", C1_MAC)]
    backend = SimulatedBackend()
    backend.apply([*steps, DeleteLink(H, "u0")])
    assert set(backend.snapshot([A])[A].links) == {"lo"} and set(backend.snapshot([B])[B].links) == {"lo"}
    assert backend.snapshot([A])[A].neighbours == set()
    backend = SimulatedBackend()
    backend.apply([*steps, DeleteNamespace(B)])       # u0's peer goes, and u0 with it: its macvlans too
    assert set(backend.snapshot([A])[A].links) == {"lo"} and set(backend.snapshot([H])[H].links) == {"lo"}
    backend = SimulatedBackend()
    backend.apply([*steps, DeleteNamespace(A)])       # the macvlan's own namespace: the parent stays
    assert set(backend.snapshot([H])[H].links) == {"lo", "u0"}
    assert backend.namespace(H).links["u0"].macvlans == ((B, "mv1"),)
    backend.apply([DeleteLink(B, "mv1")])
    assert backend.namespace(H).links["u0"].macvlans == ()


def test_l2_state_survives_a_round_trip() -> None:
    backend = overlay()
    backend.apply([CreateMacvlan(H1, "eth0", C1, "mv0", mode="vepa", mac="02:00:00:00:00:31")])
    data = json.loads(json.dumps(backend.to_dict()))
    assert data == backend.to_dict()
    copy = SimulatedBackend.from_dict(data)
    names = [H1, H2, O1, O2, C1, C2]
    assert copy.snapshot(names) == backend.snapshot(names)
    assert all(copy.namespace(ns) == backend.namespace(ns) for ns in names)
    with pytest.raises(BackendError) as caught:        # the vni is still taken over H1's routing
        copy.apply([CreateVxlan(H1, "vx9", 100, "192.0.2.11", "eth0")])
    assert caught.value.errno == errno.EEXIST
    copy.apply([DeleteLink(H1, "eth0")])               # the cascades still know underlays and parents
    assert VX not in copy.snapshot([O1])[O1].links and "mv0" not in copy.snapshot([C1])[C1].links
    assert VX in backend.snapshot([O1])[O1].links      # the original is untouched


def test_state_saved_before_l2_steps_still_loads() -> None:
    data = lab().to_dict()
    for state in data["namespaces"].values():
        del state["fdb"], state["neighbours"]
        for link in state["links"]:
            del link["info"], link["underlay"], link["parent"]
    assert SimulatedBackend.from_dict(data).snapshot([H, A, B]) == lab().snapshot([H, A, B])


def test_exec_shows_fdb_neighbours_and_stacked_links() -> None:
    backend = overlay()
    backend.apply([CreateMacvlan(H1, "eth0", C1, "mv0", mac="02:00:00:00:00:31"), SetUp(C1, "mv0"),
                   CreateVeth(H2, "d0", H2, "d1"), CreateMacvlan(H2, "d0", H2, "mv1"), SetUp(H2, "mv1")])
    fdb = [f"{C2_MAC} dev {VX} dst 192.0.2.12 self permanent", f"{ZERO} dev {VX} dst 192.0.2.12 self permanent"]
    assert backend.exec(O1, ["bridge", "fdb"]).stdout.splitlines() == fdb
    assert backend.exec(O1, ["bridge", "fdb", "show"]).stdout.splitlines() == fdb
    assert backend.exec(O1, ["ip", "neigh"]) == ExecResult(0, f"10.0.0.3 dev {VX} lladdr {C2_MAC} PERMANENT\n", "")
    assert backend.exec(O2, ["ip", "neighbour", "show"]).stdout == f"10.0.0.2 dev {VX} lladdr {C1_MAC} PERMANENT\n"
    assert backend.exec(H1, ["ip", "n"]).stdout == "" and backend.exec(H1, ["bridge", "fdb"]).stdout == ""
    link = backend.exec(O1, ["ip", "link"]).stdout
    assert f"3: {VX}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue master {OV} state UNKNOWN" in link
    assert f"{'mv0@if2':<16} {'UP':<14} 02:00:00:00:00:31" in backend.exec(C1, ["ip", "-br", "link"]).stdout
    assert f"link/ether 02:00:00:00:00:31 brd ff:ff:ff:ff:ff:ff link-netns {H1}" in backend.exec(C1, ["ip", "l"]).stdout
    host2 = backend.exec(H2, ["ip", "link"]).stdout     # d0 is up but its peer is down: no carrier below mv1
    assert "mv1@d0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN" in host2
