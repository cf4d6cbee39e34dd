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
    AddRoute,
    ApplyRuleset,
    Backend,
    CreateBridge,
    CreateNamespace,
    CreateVeth,
    DeleteLink,
    DeleteNamespace,
    DeleteRoute,
    LinkState,
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
        "vetha": LinkState("vetha", "veth", True, VA_MAC, 1500, "br0"),
        "vethb": LinkState("vethb", "veth", True, VB_MAC, 1500, "br0"),
    }
    assert host.addresses == {("br0", "10.0.0.1/24"), ("lo", "127.0.0.1/8")}  # lo up gets 127.0.0.1
    assert host.routes == set()
    assert host.sysctls == {"net.ipv4.ip_forward": "1"}
    assert host.ruleset == EXPECTED_RULESET
    assert a.links == {"lo": LinkState("lo", "loopback", True, LO_MAC, 65536, None),
                       "eth0": LinkState("eth0", "veth", True, EA_MAC, 1500, None)}
    assert b.links["eth0"] == LinkState("eth0", "veth", True, EB_MAC, 1500, None)
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
                                  ["ip", "neigh"], ["sh", "-c", "ip addr"], ["bridge", "link"]])
def test_exec_of_anything_else_is_not_supported(argv: list[str]) -> None:
    with pytest.raises(NotSupportedError, match="--backend kernel"):
        lab().exec(A, argv)


def test_exec_in_missing_namespace_is_enoent() -> None:
    with pytest.raises(BackendError) as caught:
        lab().exec(MISSING, ["ip", "addr"])
    assert caught.value.errno == errno.ENOENT
