"""The kernel backend: real namespaces, links, FDB/neighbour entries, routes, sysctls and nftables, never in root.

Every kernel test works in namespaces named ``nl-kbt<pid>-...`` that this module
creates and always deletes (fixture teardown, even on failure). A module fixture
records the machine's own namespace (links, addresses, routes, nft ruleset,
``ip_forward``) before the first kernel test and checks it is unchanged after the
last one. Kernel tests skip with the probe's reason when namespaces cannot be
created, except when ``CI`` is set: there a failing probe fails them.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from netlab.backends import (
    AddAddress,
    AddFdb,
    AddNeigh,
    AddRoute,
    ApplyRuleset,
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
    LinkState,
    SetMaster,
    SetSysctl,
    SetUp,
    Step,
)
from netlab.backends import netns as nsutil
from netlab.backends.kernel import KernelBackend, normalize_ruleset, probe
from netlab.errors import BackendError, NotSupportedError

PREFIX = f"nl-kbt{os.getpid()}-"
RTMGRP_LINK, RTMGRP_NEIGH = 1, 4


def root_events(groups: int, work: Callable[[], object]) -> bytes:
    """The raw netlink events of ``groups`` seen in the machine's own namespace while ``work()`` runs (read-only)."""
    monitor = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)   # NETLINK_ROUTE, read-only listener
    try:
        monitor.bind((0, groups))
        monitor.setblocking(False)
        work()
        time.sleep(0.05)
        seen = b""
        while True:
            try:
                seen += monitor.recv(65536)
            except BlockingIOError:
                return seen
    finally:
        monitor.close()


# -- fixtures ---------------------------------------------------------------------------------------------------------
def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in value.items()
                if k not in ("packets", "bytes", "valid_life_time", "preferred_life_time", "stats64")}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def _root_state() -> dict[str, Any]:
    """The machine's own namespace as the tools see it (from this, the main test thread)."""
    state: dict[str, Any] = {}
    for key, argv in {"link": ["ip", "-j", "link"], "addr": ["ip", "-j", "addr"], "route": ["ip", "-j", "route"],
                      "route6": ["ip", "-j", "-6", "route"], "nft": ["nft", "-j", "list", "ruleset"]}.items():
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        state[key] = _strip_volatile(json.loads(proc.stdout)) if proc.returncode == 0 else proc.stderr
    with open("/proc/sys/net/ipv4/ip_forward", encoding="ascii") as f:
        state["ip_forward"] = f.read()
    return state


@pytest.fixture(scope="module")
def kernel_required() -> None:
    reason = probe()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"kernel probe failed under CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def root_guard(kernel_required: None) -> Iterator[None]:
    """The machine's namespace is identical before and after all kernel tests; none of our namespaces remain."""
    before = _root_state()
    yield
    after = _root_state()
    leftovers = [n for n in os.listdir(nsutil.NETNS_RUN_DIR) if n.startswith(PREFIX)] \
        if os.path.isdir(nsutil.NETNS_RUN_DIR) else []
    assert leftovers == []
    assert after == before


class Lab:
    """A backend plus the namespace names a test hands out; all of them are deleted afterwards."""

    def __init__(self, backend: KernelBackend, tag: str) -> None:
        self.backend, self.tag = backend, tag
        self.names: list[str] = []

    def ns(self, label: str) -> str:
        name = f"{PREFIX}{self.tag}-{label}"
        self.names.append(name)
        return name

    def cleanup(self) -> None:
        try:
            self.backend.apply([DeleteNamespace(n) for n in self.names])
        finally:  # even if the backend is broken: only our own names, via the same plumbing
            for name in self.names:
                nsutil.delete_namespace(name)
            self.backend.close()


@pytest.fixture
def lab(root_guard: None, request: pytest.FixtureRequest) -> Iterator[Lab]:
    tag = format(abs(hash(request.node.name)) % 0xFFFFF, "x")
    the_lab = Lab(KernelBackend(), tag)
    try:
        yield the_lab
    finally:
        the_lab.cleanup()


def two_sandboxes(lab: Lab) -> tuple[str, str, str, list[Step]]:
    """A host namespace with bridge br0 (10.7.0.1/24) and two sandboxes on it (10.7.0.2, 10.7.0.3)."""
    host, a, b = lab.ns("host"), lab.ns("a"), lab.ns("b")
    steps: list[Step] = [CreateNamespace(host), CreateBridge(host, "br0", mac="02:00:00:00:07:01"),
                         AddAddress(host, "br0", "10.7.0.1/24"), CreateNamespace(a), CreateNamespace(b)]
    for sandbox, n in ((a, 2), (b, 3)):
        steps += [CreateVeth(host, f"veth{n}", sandbox, "eth0", master="br0", mac=f"02:00:00:00:07:f{n}",
                             peer_mac=f"02:00:00:00:07:0{n}", mtu=1450),
                  AddAddress(sandbox, "eth0", f"10.7.0.{n}/24"), SetUp(sandbox, "eth0"), SetUp(sandbox, "lo"),
                  AddRoute(sandbox, "default", gateway="10.7.0.1")]
    return host, a, b, steps


def ping(backend: KernelBackend, ns: str, ip: str) -> bool:
    return backend.exec(ns, ["ping", "-c1", "-W1", ip], timeout=10).returncode == 0


def errno_of(fn: Callable[[], object]) -> int | None:
    with pytest.raises(BackendError) as caught:
        fn()
    return caught.value.errno


# -- rulesets ---------------------------------------------------------------------------------------------------------
def ruleset(drop: bool = True) -> dict[str, Any]:
    """netlab-style document: add/delete/add each table, then its chains and rules."""
    f, n = {"family": "inet", "table": "netlab"}, {"family": "ip", "table": "netlab-nat"}
    rules = [{"match": {"op": "==", "left": {"ct": {"key": "state"}}, "right": {"set": ["related", "established"]}}},
             {"accept": None}]
    drop_rule = [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "br-a"}},
                 {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "br-b"}},
                 {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                            "right": {"prefix": {"addr": "10.8.1.0", "len": 24}}}},
                 {"counter": None}, {"drop": None}]
    table, nat = {"family": "inet", "name": "netlab"}, {"family": "ip", "name": "netlab-nat"}
    doc: list[dict[str, Any]] = [
        {"add": {"table": table}}, {"delete": {"table": table}}, {"add": {"table": table}},
        {"add": {"chain": {**f, "name": "forward", "type": "filter", "hook": "forward", "prio": 0,
                           "policy": "accept"}}},
        {"add": {"rule": {**f, "chain": "forward", "expr": rules}}},
    ]
    if drop:
        doc.append({"add": {"rule": {**f, "chain": "forward", "expr": drop_rule}}})
    doc += [
        {"add": {"table": nat}}, {"delete": {"table": nat}}, {"add": {"table": nat}},
        {"add": {"chain": {**n, "name": "prerouting", "type": "nat", "hook": "prerouting", "prio": -100}}},
        {"add": {"chain": {**n, "name": "postrouting", "type": "nat", "hook": "postrouting", "prio": 100}}},
        {"add": {"rule": {**n, "chain": "prerouting", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}},
            {"dnat": {"addr": "10.8.2.2", "port": 80}}]}}},
        {"add": {"rule": {**n, "chain": "postrouting", "expr": [
            {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "eth9"}}, {"masquerade": None}]}}},
    ]
    return {"nftables": doc}


REMOVE_TABLES = {"nftables": [{"add": {"table": {"family": "inet", "name": "netlab"}}},
                              {"delete": {"table": {"family": "inet", "name": "netlab"}}},
                              {"add": {"table": {"family": "ip", "name": "netlab-nat"}}},
                              {"delete": {"table": {"family": "ip", "name": "netlab-nat"}}}]}


class TestNormalizeRuleset:
    """Pure data: no kernel needed."""

    def test_commands_replay_to_a_listing(self) -> None:
        out = normalize_ruleset(ruleset())
        assert out is not None
        assert [next(iter(o)) for o in out] == ["table", "chain", "rule", "rule", "table", "chain", "chain", "rule",
                                                "rule"]
        assert out[1]["chain"]["policy"] == "accept" and out[6]["chain"]["policy"] == "accept"
        ct = out[2]["rule"]["expr"][0]["match"]["right"]
        assert ct == {"set": ["established", "related"]}
        assert {"counter": None} in out[3]["rule"]["expr"]

    def test_listing_side_rewrites(self) -> None:
        listing = {"nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "ip", "name": "t", "handle": 3}},
            {"chain": {"family": "ip", "table": "t", "name": "c", "handle": 1, "type": "filter", "hook": "input",
                       "prio": 0, "policy": "accept"}},
            {"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 2, "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},
                {"match": {"op": "==", "left": {"ct": {"key": "state"}}, "right": {"|": ["new", "invalid"]}}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                           "right": "10.0.0.1"}},
                {"counter": {"packets": 7, "bytes": 420}},
                {"reject": {"type": "icmp", "expr": "port-unreachable"}}]}}]}
        given = {"nftables": [
            {"add": {"table": {"family": "ip", "name": "t"}}},
            {"add": {"chain": {"family": "ip", "table": "t", "name": "c", "type": "filter", "hook": "input",
                               "prio": "filter"}}},
            {"add": {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                           "right": {"set": [22]}}},
                {"match": {"op": "==", "left": {"ct": {"key": "state"}}, "right": ["invalid", "new"]}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                           "right": {"prefix": {"addr": "10.0.0.1", "len": 32}}}},
                {"counter": None}, {"reject": None}]}}}]}
        assert normalize_ruleset(listing) == normalize_ruleset(given)

    def test_flush_delete_insert_and_empty(self) -> None:
        t = {"family": "inet", "table": "x"}
        doc = {"nftables": [{"add": {"table": {"family": "inet", "name": "x"}}},
                            {"add": {"chain": {**t, "name": "c"}}},
                            {"add": {"rule": {**t, "chain": "c", "expr": [{"accept": None}]}}},
                            {"flush": {"table": {"family": "inet", "name": "x"}}},
                            {"add": {"rule": {**t, "chain": "c", "expr": [{"drop": None}]}}},
                            {"insert": {"rule": {**t, "chain": "c", "expr": [{"return": None}]}}}]}
        out = normalize_ruleset(doc)
        assert out is not None and [o["rule"]["expr"] for o in out if "rule" in o] == [[{"return": None}],
                                                                                     [{"drop": None}]]
        assert normalize_ruleset({"nftables": [{"metainfo": {}}]}) is None
        assert normalize_ruleset(REMOVE_TABLES) is None
        assert normalize_ruleset(None) is None


# -- kernel tests -----------------------------------------------------------------------------------------------------
@pytest.mark.kernel
def test_two_sandboxes_ping_through_a_bridge_and_snapshot_is_exact(lab: Lab) -> None:
    """Host bridge + two sandboxes: a real ping works; the snapshot lists exactly what the steps made."""
    host, a, b, steps = two_sandboxes(lab)
    lab.backend.apply([*steps, SetSysctl(host, "net.ipv4.ip_forward", "1")])
    assert ping(lab.backend, a, "10.7.0.3") and ping(lab.backend, b, "10.7.0.2")
    assert set(lab.names) <= set(lab.backend.namespaces())
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert all(name in listed for name in lab.names)

    snap = lab.backend.snapshot([host, a, b])
    assert snap[host].links == {
        "lo": LinkState("lo", "loopback", False, "00:00:00:00:00:00", 65536),
        "br0": LinkState("br0", "bridge", True, "02:00:00:00:07:01", 1450),
        "veth2": LinkState("veth2", "veth", True, "02:00:00:00:07:f2", 1450, "br0", link=(a, "eth0")),
        "veth3": LinkState("veth3", "veth", True, "02:00:00:00:07:f3", 1450, "br0", link=(b, "eth0")),
    }
    assert snap[host].addresses == {("br0", "10.7.0.1/24")}
    assert snap[host].routes == set()
    assert snap[host].sysctls == {"net.ipv4.ip_forward": "1"}
    assert snap[host].ruleset is None
    for sandbox, n in ((a, 2), (b, 3)):
        assert snap[sandbox].links == {"lo": LinkState("lo", "loopback", True, "00:00:00:00:00:00", 65536),
                                       "eth0": LinkState("eth0", "veth", True, f"02:00:00:00:07:0{n}", 1450,
                                                         link=(host, f"veth{n}"))}
        assert snap[sandbox].links["lo"].ifindex == 1
        assert snap[sandbox].addresses == {("lo", "127.0.0.1/8"), ("eth0", f"10.7.0.{n}/24")}
        assert snap[sandbox].routes == {("default", "10.7.0.1", "eth0")}
        assert snap[sandbox].sysctls == {"net.ipv4.ip_forward": "0"}

    # DeleteRoute / DeleteLink, both idempotent
    lab.backend.apply([AddRoute(a, "10.50.0.0/16", ifname="eth0"), DeleteRoute(a, "default"),
                       DeleteRoute(a, "default"), DeleteLink(host, "veth3"), DeleteLink(host, "veth3")])
    snap = lab.backend.snapshot([host, a, b])
    assert snap[a].routes == {("10.50.0.0/16", None, "eth0")}
    assert "veth3" not in snap[host].links and "eth0" not in snap[b].links  # the peer went along


@pytest.mark.kernel
def test_errors_carry_the_kernel_errno(lab: Lab) -> None:
    host, a, b, steps = two_sandboxes(lab)
    missing = lab.ns("missing")
    apply = lab.backend.apply
    apply(steps)
    cases: list[tuple[Step, int]] = [
        (CreateNamespace(a), errno.EEXIST),
        (CreateBridge(host, "br0"), errno.EEXIST),
        (AddAddress(a, "eth0", "10.7.0.2/24"), errno.EEXIST),
        (CreateVeth(host, "veth2", a, "eth9"), errno.EEXIST),
        (CreateVeth(host, "vethx", a, "eth0"), errno.EEXIST),           # peer name taken in the peer namespace
        (AddRoute(a, "default", gateway="10.7.0.1"), errno.EEXIST),
        (AddAddress(a, "nope", "10.7.0.9/24"), errno.ENODEV),
        (SetUp(a, "nope"), errno.ENODEV),
        (AddRoute(a, "10.9.0.0/16", ifname="nope"), errno.ENODEV),
        (CreateVeth(host, "vethy", b, "eth1", master="nope"), errno.ENODEV),
        (AddRoute(a, "10.9.0.0/16", gateway="10.99.0.1"), errno.ENETUNREACH),
        (AddRoute(a, "10.9.0.1/16", ifname="eth0"), errno.EINVAL),
        (AddAddress(a, "eth0", "10.7.0.9/33"), errno.EINVAL),
        (SetSysctl(a, "kernel.hostname", "x"), errno.EINVAL),
        (SetSysctl(a, "net.ipv4.ip_forward", "yes"), errno.EINVAL),
        (SetSysctl(a, "net.ipv4.no_such_key", "1"), errno.ENOENT),
        (DeleteLink(a, "lo"), errno.EOPNOTSUPP),
        (CreateBridge(missing, "br0"), errno.ENOENT),
        (SetUp(missing, "lo"), errno.ENOENT),
        (CreateVeth(host, "vethz", missing, "eth0"), errno.ENOENT),
        (CreateVeth(missing, "vethz", a, "eth0"), errno.ENOENT),
        (SetSysctl(missing, "net.ipv4.ip_forward", "1"), errno.ENOENT),
        (ApplyRuleset(missing, ruleset()), errno.ENOENT),
    ]
    for step, code in cases:
        assert errno_of(lambda step=step: apply([step])) == code, step  # type: ignore[misc]
    with pytest.raises(BackendError, match=r"^create veth 'vethz' \(peer 'eth0' in netns '.*-missing'\) in netns "
                                           r"'.*-missing': No such file or directory \(ENOENT\)$"):
        apply([CreateVeth(host, "vethz", missing, "eth0")])
    with pytest.raises(BackendError, match=r"add address 10.7.0.9/24 to link 'nope' in netns '.*-a': "
                                           r"No such device \(ENODEV\)"):
        apply([AddAddress(a, "nope", "10.7.0.9/24")])
    assert errno_of(lambda: lab.backend.exec(missing, ["true"])) == errno.ENOENT
    assert errno_of(lambda: lab.backend.snapshot([missing])) == errno.ENOENT
    assert errno_of(lambda: apply([CreateNamespace("bad/name")])) == errno.EINVAL
    with pytest.raises(NotSupportedError):
        apply([CreateNamespace(lab.ns("never")), "not a step"])  # type: ignore[list-item]
    assert lab.names[-1] not in lab.backend.namespaces()               # nothing ran

    # stop at the first failure; deletes are idempotent (a namespace that is gone included)
    with pytest.raises(BackendError):
        apply([CreateBridge(host, "br1"), SetUp(a, "nope"), CreateBridge(host, "br2")])
    links = lab.backend.snapshot([host])[host].links
    assert "br1" in links and "br2" not in links
    apply([DeleteLink(a, "nope"), DeleteRoute(a, "10.99.0.0/16"), DeleteNamespace(missing), DeleteNamespace(missing),
           DeleteLink(missing, "eth0"), DeleteRoute(missing, "default")])
    apply([DeleteNamespace(b), DeleteNamespace(b)])
    assert b not in lab.backend.namespaces()


@pytest.mark.kernel
def test_optional_sysctl_is_skipped_only_when_the_key_is_missing(lab: Lab) -> None:
    host, _, _, steps = two_sandboxes(lab)
    lab.backend.apply([*steps, SetSysctl(host, "net.ipv4.nl_no_such_key", "1", optional=True),
                       SetSysctl(host, "net.ipv4.ip_forward", "1", optional=True)])
    forward = subprocess.run(["ip", "netns", "exec", host, "cat", "/proc/sys/net/ipv4/ip_forward"],
                             capture_output=True, text=True, check=True).stdout
    assert forward.strip() == "1"
    assert errno_of(lambda: lab.backend.apply([SetSysctl(host, "net.ipv4.ip_forward", "yes", optional=True)])) \
        == errno.EINVAL
    missing = f"{host}-missing"
    assert errno_of(lambda: lab.backend.apply([SetSysctl(missing, "net.ipv4.nl_no_such_key", "1",
                                                         optional=True)])) == errno.ENOENT


@pytest.mark.kernel
def test_ruleset_drops_between_bridges_and_reads_back(lab: Lab) -> None:
    """A drop rule between two bridges of a router namespace stops a ping; the snapshot shows the ruleset."""
    router, a, b = lab.ns("router"), lab.ns("a"), lab.ns("b")
    steps: list[Step] = [CreateNamespace(router), CreateNamespace(a), CreateNamespace(b),
                         SetSysctl(router, "net.ipv4.ip_forward", "1")]
    for side, sandbox in (("a", a), ("b", b)):
        net = "1" if side == "a" else "2"
        steps += [CreateBridge(router, f"br-{side}"), AddAddress(router, f"br-{side}", f"10.8.{net}.1/24"),
                  CreateVeth(router, f"v{side}", sandbox, "eth0", master=f"br-{side}"),
                  AddAddress(sandbox, "eth0", f"10.8.{net}.2/24"), SetUp(sandbox, "eth0"),
                  AddRoute(sandbox, "default", gateway=f"10.8.{net}.1")]
    lab.backend.apply(steps)
    assert ping(lab.backend, a, "10.8.2.2")

    doc = ruleset()
    lab.backend.apply([ApplyRuleset(router, doc)])
    assert not ping(lab.backend, a, "10.8.2.2")
    shown = lab.backend.snapshot([router])[router].ruleset
    assert shown == normalize_ruleset(doc)
    assert shown is not None and len([o for o in shown if "rule" in o]) == 4

    lab.backend.apply([ApplyRuleset(router, doc), ApplyRuleset(router, doc)])   # idempotent
    assert lab.backend.snapshot([router])[router].ruleset == shown
    lab.backend.apply([ApplyRuleset(router, ruleset(drop=False))])
    assert ping(lab.backend, a, "10.8.2.2")
    lab.backend.apply([ApplyRuleset(router, REMOVE_TABLES), ApplyRuleset(router, {"nftables": []})])
    assert lab.backend.snapshot([router])[router].ruleset is None

    bad = {"nftables": [{"add": {"chain": {"family": "inet", "table": "nope", "name": "c"}}}]}
    with pytest.raises(BackendError, match=rf"apply ruleset in netns '{router}': nft failed: .*Error") as caught:
        lab.backend.apply([ApplyRuleset(router, bad)])
    assert caught.value.errno == errno.EINVAL


@pytest.mark.kernel
def test_normalisation_matches_what_nft_lists_back(lab: Lab) -> None:
    """Expressions nft rewrites on the way back normalise to the same form as the document given."""
    ns = lab.ns("nft")
    t = {"family": "inet", "table": "x"}

    def match(left: Any, right: Any, op: str = "==") -> dict[str, Any]:
        return {"match": {"op": op, "left": left, "right": right}}

    ct, dport = {"ct": {"key": "state"}}, {"payload": {"protocol": "tcp", "field": "dport"}}
    saddr = {"payload": {"protocol": "ip", "field": "saddr"}}
    doc = {"nftables": [
        {"add": {"table": {"family": "inet", "name": "x"}}},
        {"add": {"chain": {**t, "name": "fwd", "type": "filter", "hook": "forward", "prio": 0}}},
        {"add": {"chain": {**t, "name": "sub"}}},
        {"add": {"rule": {**t, "chain": "fwd", "expr": [match(ct, ["related", "invalid", "new"], "in"),
                                                         {"accept": None}]}}},
        {"add": {"rule": {**t, "chain": "fwd", "expr": [match(ct, ["new", "invalid"]), {"drop": None}]}}},
        {"add": {"rule": {**t, "chain": "fwd", "comment": "c", "expr": [
            match(dport, {"set": [443, 80]}), match(saddr, {"set": ["10.2.0.5", {"prefix": {"addr": "10.3.0.0",
                                                                                             "len": 16}}]}),
            {"counter": None}, {"jump": {"target": "sub"}}]}}},
        {"add": {"rule": {**t, "chain": "fwd", "expr": [match(dport, {"set": [22]}), {"reject": None}]}}},
        {"add": {"rule": {**t, "chain": "sub", "expr": [match(saddr, {"prefix": {"addr": "10.4.0.1", "len": 32}}),
                                                         {"return": None}]}}},
        {"insert": {"rule": {**t, "chain": "sub", "expr": [{"log": {"prefix": "x "}}]}}},
    ]}
    lab.backend.apply([CreateNamespace(ns), ApplyRuleset(ns, doc)])
    raw = json.loads(lab.backend.exec(ns, ["nft", "-j", "list", "ruleset"]).stdout)
    assert normalize_ruleset(raw) == lab.backend.snapshot([ns])[ns].ruleset == normalize_ruleset(doc)
    assert raw != doc   # nft did rewrite things


@pytest.mark.kernel
def test_create_veth_never_touches_the_root_namespace(lab: Lab) -> None:
    """Listen for link events in the machine's namespace while veths are made: none of ours may show up."""
    host, a, b, steps = two_sandboxes(lab)
    seen = root_events(RTMGRP_LINK, lambda: (lab.backend.apply(steps), lab.backend.apply([DeleteLink(host, "veth2")])))
    for name in (b"veth2", b"veth3", b"br0"):
        assert name + b"\0" not in seen
    root_links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout)
    assert not {"veth2", "veth3", "br0"} & {link["ifname"] for link in root_links}


@pytest.mark.kernel
def test_sockets_are_cached_checked_and_released(lab: Lab) -> None:
    """Deleting a namespace frees it (its veth's peer vanishes); a namespace re-created behind our back is noticed."""
    host, a, b, steps = two_sandboxes(lab)
    lab.backend.apply(steps)
    lab.backend.apply([DeleteNamespace(b)])
    deadline = time.monotonic() + 5
    while "veth3" in lab.backend.snapshot([host])[host].links:   # gone once the namespace is really freed
        assert time.monotonic() < deadline, "namespace kept alive by an open socket"
        time.sleep(0.02)

    with KernelBackend() as other:   # delete and re-create `a` behind the first backend's back
        other.apply([DeleteNamespace(a), CreateNamespace(a), CreateBridge(a, "brx")])
    assert set(lab.backend.snapshot([a])[a].links) == {"lo", "brx"}

    errors: list[BaseException] = []

    def from_another_thread() -> None:
        try:
            lab.backend.apply([CreateBridge(a, "bry")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=from_another_thread)
    thread.start()
    thread.join()
    assert errors == [] and "bry" in lab.backend.snapshot([a])[a].links
    lab.backend.close()
    assert "bry" in lab.backend.snapshot([a])[a].links   # usable again after close()


@pytest.mark.kernel
def test_root_namespace_cannot_be_named(lab: Lab) -> None:
    """Even if the machine's namespace is mounted under /run/netns, the backend refuses it (EPERM)."""
    alias = lab.ns("alias")
    os.close(os.open(nsutil.namespace_path(alias), os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    try:
        subprocess.run(["mount", "--bind", "/proc/self/ns/net", nsutil.namespace_path(alias)], check=True)
        # only steps that would change nothing even if the guard failed (missing link, missing key)
        assert errno_of(lambda: lab.backend.apply([SetUp(alias, "nl-no-such")])) == errno.EPERM
        assert errno_of(lambda: lab.backend.apply([SetSysctl(alias, "net.ipv4.nl_no_such", "1")])) == errno.EPERM
        assert errno_of(lambda: lab.backend.snapshot([alias])) == errno.EPERM
        assert errno_of(lambda: lab.backend.exec(alias, ["true"])) == errno.EPERM
    finally:
        nsutil.delete_namespace(alias)   # unmounts the alias only; the machine's namespace is untouched


@pytest.mark.kernel
def test_one_hundred_containers(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """Time 100 container-like setups (netns, veth on a host bridge, address, up, default route). Printed only."""
    host = lab.ns("host")
    boxes = [lab.ns(f"c{i}") for i in range(100)]
    phases: dict[str, list[Step]] = {
        "CreateNamespace": [CreateNamespace(host), *(CreateNamespace(c) for c in boxes)],
        "CreateBridge+AddAddress": [CreateBridge(host, "br0"), AddAddress(host, "br0", "10.100.0.1/16")],
        "CreateVeth": [CreateVeth(host, f"v{i}", c, "eth0", master="br0") for i, c in enumerate(boxes)],
        "AddAddress": [AddAddress(c, "eth0", f"10.100.{i // 250}.{i % 250 + 2}/16") for i, c in enumerate(boxes)],
        "SetUp": [SetUp(c, name) for c in boxes for name in ("lo", "eth0")],
        "AddRoute": [AddRoute(c, "default", gateway="10.100.0.1") for c in boxes],
    }
    took: dict[str, float] = {}
    for phase, steps in phases.items():
        start = time.perf_counter()
        lab.backend.apply(steps)
        took[phase] = time.perf_counter() - start
    start = time.perf_counter()
    snap = lab.backend.snapshot([host, *boxes])
    took_snapshot = time.perf_counter() - start
    assert len(snap[host].links) == 102 and all(snap[c].routes == {("default", "10.100.0.1", "eth0")} for c in boxes)
    assert ping(lab.backend, boxes[0], "10.100.0.101")
    start = time.perf_counter()
    lab.backend.apply([DeleteNamespace(n) for n in [host, *boxes]])
    took_delete = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n100 containers set up in {sum(took.values()):.3f} s; per step: "
              + ", ".join(f"{p} {1000 * t / len(phases[p]):.2f} ms" for p, t in took.items())
              + f"; snapshot of 101 namespaces {took_snapshot:.3f} s; delete 101 namespaces {took_delete:.3f} s")


# -- overlay (vxlan) and macvlan --------------------------------------------------------------------------------------
VNI, VX, OV = 256, "vx-000100-net1", "ov-000100-net1"   # libnetwork's names for VNI 256 of network "net1..."
FLOOD = "00:00:00:00:00:00"


def vtep(n: int) -> str:
    return f"192.168.50.{n}"


def container_mac(n: int) -> str:
    return f"02:42:0a:63:00:0{n + 1}"   # libnetwork's 02:42 + IPv4 (10.99.0.n+1)


def udp_ports(text: str) -> set[int]:
    """Local ports of the sockets in a ``/proc/net/udp`` listing."""
    return {int(line.split()[1].split(":")[1], 16) for line in text.splitlines()[1:] if line.strip()}


def underlay(lab: Lab, hosts: int = 2) -> tuple[str, list[str], list[Step]]:
    """An underlay namespace with bridge br0 and ``hosts`` host namespaces, each with uplink eth0 at 192.168.50.n."""
    under, names = lab.ns("under"), [lab.ns(f"h{n}") for n in range(1, hosts + 1)]
    steps: list[Step] = [CreateNamespace(under), *(CreateNamespace(h) for h in names), CreateBridge(under, "br0")]
    for n, host in enumerate(names, 1):
        steps += [CreateVeth(under, f"up{n}", host, "eth0", master="br0", peer_mac=f"02:00:c0:a8:32:0{n}"),
                  AddAddress(host, "eth0", f"{vtep(n)}/24"), SetUp(host, "eth0"), SetUp(host, "lo")]
    return under, names, steps


def overlay(lab: Lab) -> tuple[list[str], list[str], list[str], list[Step], list[Step]]:
    """Two hosts on an underlay; per host an overlay namespace (bridge OV with the gateway 10.99.0.1/24, vxlan VX
    made from the host namespace) and a container (10.99.0.2 on host 1, 10.99.0.3 on host 2, MTU 1450).

    Returns hosts, overlay namespaces, containers, the build steps, and the peer steps (flood entry, static FDB
    entry and neighbour entry for the remote container, on both sides).
    """
    _, hosts, steps = underlay(lab)
    ovls, boxes = [lab.ns("ov1"), lab.ns("ov2")], [lab.ns("c1"), lab.ns("c2")]
    peers: list[Step] = []
    for n, (host, ovl, box) in enumerate(zip(hosts, ovls, boxes, strict=True), 1):
        steps += [CreateNamespace(ovl), CreateNamespace(box),
                  CreateBridge(ovl, OV, mac=f"02:00:0a:63:01:0{n}"), AddAddress(ovl, OV, "10.99.0.1/24"),
                  CreateVxlan(host, VX, VNI, vtep(n), "eth0", target_ns=ovl, mac=f"02:00:0a:63:02:0{n}"),
                  SetMaster(ovl, VX, OV), SetUp(ovl, VX),
                  CreateVeth(ovl, f"veth{n}", box, "eth0", master=OV, mac=f"02:00:0a:63:03:0{n}",
                             peer_mac=container_mac(n), mtu=1450),
                  AddAddress(box, "eth0", f"10.99.0.{n + 1}/24"), SetUp(box, "eth0"), SetUp(box, "lo")]
        remote = 3 - n
        peers += [AddFdb(ovl, VX, FLOOD, vtep(remote), append=True),
                  AddFdb(ovl, VX, container_mac(remote), vtep(remote)),
                  AddNeigh(ovl, VX, f"10.99.0.{remote + 1}", container_mac(remote))]
    return hosts, ovls, boxes, steps, peers


@pytest.mark.kernel
def test_vxlan_overlay_between_two_hosts(lab: Lab) -> None:
    """Two hosts, an overlay namespace each with a vxlan made from the host: containers ping across, the MTU is
    1450, the vxlan's UDP socket is in the host namespace, and the snapshot shows vxlan, FDB and neighbours exactly.
    """
    with open("/proc/net/udp", encoding="ascii") as f:
        root_udp = udp_ports(f.read())
    hosts, ovls, (c1, c2), steps, peers = overlay(lab)
    lab.backend.apply([*steps, *peers])
    assert ping(lab.backend, c1, "10.99.0.3") and ping(lab.backend, c2, "10.99.0.2")
    big = ["ping", "-c1", "-W1", "-M", "do", "-s"]
    assert lab.backend.exec(c1, [*big, "1422", "10.99.0.3"], timeout=10).returncode == 0   # 1422 + 28 = 1450
    too_big = lab.backend.exec(c1, [*big, "1423", "10.99.0.3"], timeout=10)
    assert too_big.returncode != 0 and "mtu=1450" in too_big.stderr

    # the vxlan lives in the overlay namespace, its socket in the host's (the underlay), nothing in the machine's
    for host, ovl in zip(hosts, ovls, strict=True):
        assert 4789 in udp_ports(lab.backend.exec(host, ["cat", "/proc/net/udp"]).stdout)
        assert 4789 not in udp_ports(lab.backend.exec(ovl, ["cat", "/proc/net/udp"]).stdout)
    with open("/proc/net/udp", encoding="ascii") as f:
        assert udp_ports(f.read()) == root_udp

    snap = lab.backend.snapshot([*hosts, *ovls, c1, c2])
    for n, (host, ovl, box) in enumerate(zip(hosts, ovls, (c1, c2), strict=True), 1):
        remote = 3 - n
        assert set(snap[host].links) == {"lo", "eth0"}
        assert snap[host].links["eth0"].link == (lab.ns("under"), f"up{n}")   # a namespace outside the snapshot
        assert snap[ovl].links == {
            "lo": LinkState("lo", "loopback", False, "00:00:00:00:00:00", 65536),
            OV: LinkState(OV, "bridge", True, f"02:00:0a:63:01:0{n}", 1450),
            VX: LinkState(VX, "vxlan", True, f"02:00:0a:63:02:0{n}", 1450, OV, info=(VNI, vtep(n), 4789, False),
                          link=(host, "eth0")),   # the socket stays in the host it was made from
            f"veth{n}": LinkState(f"veth{n}", "veth", True, f"02:00:0a:63:03:0{n}", 1450, OV, link=(box, "eth0")),
        }
        assert snap[ovl].addresses == {(OV, "10.99.0.1/24")}
        assert snap[ovl].fdb == {(VX, FLOOD, vtep(remote)), (VX, container_mac(remote), vtep(remote))}
        assert snap[ovl].neighbours == {(VX, f"10.99.0.{remote + 1}", container_mac(remote))}
        assert snap[host].fdb == set() and snap[host].neighbours == set()   # ARP learnt there is not permanent
    assert snap[c1].links["eth0"] == LinkState("eth0", "veth", True, container_mac(1), 1450, link=(ovls[0], "veth1"))
    assert snap[c1].neighbours == set() and snap[c1].fdb == set()

    # a second remote VTEP for the flood entry; then take host 1's peer entries away again (twice: idempotent)
    ov1 = ovls[0]
    lab.backend.apply([AddFdb(ov1, VX, FLOOD, "192.168.50.9", append=True)])
    assert lab.backend.snapshot([ov1])[ov1].fdb == {(VX, FLOOD, vtep(2)), (VX, FLOOD, "192.168.50.9"),
                                                    (VX, container_mac(2), vtep(2))}
    removals: list[Step] = [DeleteFdb(ov1, VX, FLOOD, "192.168.50.9"), DeleteFdb(ov1, VX, container_mac(2), vtep(2)),
                            DeleteNeigh(ov1, VX, "10.99.0.3")]
    lab.backend.apply([*removals, *removals])
    after = lab.backend.snapshot([ov1])[ov1]
    assert after.fdb == {(VX, FLOOD, vtep(2))} and after.neighbours == set()
    assert ping(lab.backend, c1, "10.99.0.3")      # unknown unicast still goes to the flood entry
    lab.backend.apply([DeleteFdb(ov1, VX, FLOOD, vtep(2)), DeleteFdb(ov1, VX, FLOOD, vtep(2))])
    assert lab.backend.snapshot([ov1])[ov1].fdb == set()
    assert not ping(lab.backend, c1, "10.99.0.3")  # host 1 no longer knows where host 2 is


@pytest.mark.kernel
def test_overlay_steps_errors(lab: Lab) -> None:
    """Duplicates are EEXIST (a repeated flood entry too, which the kernel would take silently), missing links
    ENODEV, missing namespaces ENOENT; deletes of what is not there succeed, also in a namespace that is gone."""
    hosts, (ov1, ov2), (c1, _), steps, peers = overlay(lab)
    h1, missing = hosts[0], lab.ns("missing")
    apply = lab.backend.apply
    apply([*steps, *peers])
    cases: list[tuple[Step, int]] = [
        (AddFdb(ov1, VX, FLOOD, vtep(2), append=True), errno.EEXIST),
        (AddFdb(ov1, VX, FLOOD, vtep(2)), errno.EEXIST),
        (AddFdb(ov1, VX, container_mac(2), vtep(2)), errno.EEXIST),
        (AddFdb(ov1, VX, container_mac(2).upper(), "192.168.50.7"), errno.EEXIST),   # one dst per unicast MAC
        (AddNeigh(ov1, VX, "10.99.0.3", container_mac(2)), errno.EEXIST),
        (AddNeigh(ov1, VX, "10.99.0.3", "02:00:00:00:00:01"), errno.EEXIST),
        (CreateVxlan(h1, VX, 257, vtep(1), "eth0", target_ns=ov1), errno.EEXIST),     # name taken in the target
        (CreateVxlan(h1, "vx-other", VNI, vtep(1), "eth0", target_ns=c1), errno.EEXIST),  # VNI taken on that host
        (CreateMacvlan(h1, "eth0", ov1, VX), errno.EEXIST),
        (SetMaster(c1, "eth0", "lo"), errno.EOPNOTSUPP),                              # not a bridge
        (AddFdb(ov1, "nope", FLOOD, vtep(2), append=True), errno.ENODEV),
        (AddNeigh(ov1, "nope", "10.99.0.9", container_mac(2)), errno.ENODEV),
        (SetMaster(ov1, "nope", OV), errno.ENODEV),
        (SetMaster(ov1, VX, "nope"), errno.ENODEV),
        (CreateVxlan(h1, "vx-x", 300, vtep(1), "nope", target_ns=ov1), errno.ENODEV),
        (CreateMacvlan(h1, "nope", c1, "mv0"), errno.ENODEV),
        (CreateVxlan(h1, "vx-x", 300, vtep(1), "eth0", target_ns=missing), errno.ENOENT),
        (CreateVxlan(missing, "vx-x", 300, vtep(1), "eth0", target_ns=ov1), errno.ENOENT),
        (CreateMacvlan(h1, "eth0", missing, "mv0"), errno.ENOENT),
        (AddFdb(missing, VX, FLOOD, vtep(2), append=True), errno.ENOENT),
        (AddNeigh(missing, VX, "10.99.0.3", container_mac(2)), errno.ENOENT),
        (SetMaster(missing, VX, OV), errno.ENOENT),
        (CreateVxlan(h1, "vx-x", 1 << 24, vtep(1), "eth0", target_ns=ov1), errno.ERANGE),
        (CreateVxlan(h1, "vx-x", 300, "nope", "eth0", target_ns=ov1), errno.EINVAL),
        (CreateMacvlan(h1, "eth0", c1, "mv0", mode="sideways"), errno.EINVAL),
        (AddFdb(ov1, VX, "02:00:00:00:00", vtep(2)), errno.EINVAL),
        (AddNeigh(ov1, VX, "10.99.0.300", container_mac(2)), errno.EINVAL),
        (DeleteFdb(ov1, VX, FLOOD, "not-an-ip"), errno.EINVAL),
    ]
    for step, code in cases:
        assert errno_of(lambda step=step: apply([step])) == code, step  # type: ignore[misc]
    with pytest.raises(BackendError, match=r"^append fdb entry 00:00:00:00:00:00 dst 192\.168\.50\.2 on link "
                                           rf"'{VX}' in netns '.*-ov1': File exists \(EEXIST\)$"):
        apply([AddFdb(ov1, VX, FLOOD, vtep(2), append=True)])
    with pytest.raises(BackendError, match=rf"^create vxlan 'vx-x' \(vni 300, local 192\.168\.50\.1, dev 'eth0'\) "
                                           rf"for netns '{missing}' in netns '{missing}': .*\(ENOENT\)$"):
        apply([CreateVxlan(h1, "vx-x", 300, vtep(1), "eth0", target_ns=missing)])

    apply([DeleteFdb(ov1, VX, "02:00:00:00:00:99", vtep(2)),       # no such MAC
           DeleteFdb(ov1, VX, container_mac(2), "192.168.50.7"),    # that MAC, another dst: left alone
           DeleteFdb(ov1, "nope", FLOOD, vtep(2)), DeleteNeigh(ov1, VX, "10.99.0.77"),
           DeleteNeigh(ov1, "nope", "10.99.0.3"),
           DeleteFdb(missing, VX, FLOOD, vtep(2)), DeleteNeigh(missing, VX, "10.99.0.3")])
    snap = lab.backend.snapshot([ov1, ov2, c1])
    assert snap[ov1].fdb == {(VX, FLOOD, vtep(2)), (VX, container_mac(2), vtep(2))}
    assert snap[ov1].neighbours == {(VX, "10.99.0.3", container_mac(2))}
    assert set(snap[c1].links) == {"lo", "eth0"}   # nothing made by the failed steps
    assert snap[ov1].links[VX].master == OV         # SetMaster to a missing master changed nothing

    # within one apply too: a repeated append fails, an append after a delete of the same entry succeeds
    flood9 = AddFdb(ov1, VX, FLOOD, "192.168.50.9", append=True)
    assert errno_of(lambda: apply([flood9, flood9])) == errno.EEXIST
    apply([DeleteFdb(ov1, VX, FLOOD, "192.168.50.9"), flood9, DeleteFdb(ov1, VX, FLOOD, "192.168.50.9"), flood9])
    assert lab.backend.snapshot([ov1])[ov1].fdb == {(VX, FLOOD, vtep(2)), (VX, FLOOD, "192.168.50.9"),
                                                    (VX, container_mac(2), vtep(2))}

    # a vxlan left in the namespace it was made from: learning on, another port, down
    apply([CreateVxlan(h1, "vx-here", 4000, vtep(1), "eth0", port=8472, learning=True, mtu=1400)])
    here = lab.backend.snapshot([h1])[h1].links["vx-here"]
    assert (here.kind, here.up, here.mtu, here.master, here.info, here.link) == (
        "vxlan", False, 1400, None, (4000, vtep(1), 8472, True), (h1, "eth0"))


@pytest.mark.kernel
def test_macvlan_containers_ping_over_the_underlay(lab: Lab) -> None:
    """A macvlan of each host's uplink, placed in a container: the two containers ping each other across the
    underlay bridge; the snapshot shows kind macvlan with its mode."""
    _, hosts, steps = underlay(lab)
    boxes = [lab.ns("m1"), lab.ns("m2")]
    for n, (host, box) in enumerate(zip(hosts, boxes, strict=True), 1):
        steps += [CreateNamespace(box),
                  CreateMacvlan(host, "eth0", box, "eth0", mac=f"02:00:c0:a8:32:1{n}", mtu=1400),
                  AddAddress(box, "eth0", f"192.168.50.1{n}/24"), SetUp(box, "eth0")]
    steps += [CreateMacvlan(hosts[0], "eth0", boxes[0], "mv-p", mode="private"),
              CreateMacvlan(hosts[0], "eth0", boxes[0], "mv-v", mode="vepa")]
    lab.backend.apply(steps)
    assert ping(lab.backend, boxes[0], "192.168.50.12") and ping(lab.backend, boxes[1], "192.168.50.11")
    assert ping(lab.backend, boxes[0], vtep(2))   # the other host's uplink (a macvlan cannot reach its own parent)
    snap = lab.backend.snapshot([*hosts, *boxes])
    for n, (host, box) in enumerate(zip(hosts, boxes, strict=True), 1):
        assert snap[box].links["eth0"] == LinkState("eth0", "macvlan", True, f"02:00:c0:a8:32:1{n}", 1400,
                                                    info=("bridge",), link=(host, "eth0"))
        assert snap[box].addresses == {("eth0", f"192.168.50.1{n}/24")}
        assert set(snap[host].links) == {"lo", "eth0"}
        assert snap[host].links["eth0"].info is None
    assert snap[boxes[0]].links["mv-p"].info == ("private",) and not snap[boxes[0]].links["mv-p"].up
    assert snap[boxes[0]].links["mv-p"].link == (hosts[0], "eth0")
    assert snap[boxes[0]].links["mv-v"].info == ("vepa",)


@pytest.mark.kernel
def test_vxlan_and_macvlan_never_touch_the_root_namespace(lab: Lab) -> None:
    """Listen for link and neighbour events in the machine's namespace while an overlay and a macvlan are made and
    programmed: none of ours may show up there."""
    hosts, _, (c1, _), steps, peers = overlay(lab)
    seen = root_events(RTMGRP_LINK | RTMGRP_NEIGH,
                       lambda: lab.backend.apply([*steps, *peers, CreateMacvlan(hosts[0], "eth0", c1, "mv-root-chk")]))
    for name in (VX, OV, "mv-root-chk"):
        assert name.encode() + b"\0" not in seen
    assert bytes.fromhex(container_mac(2).replace(":", "")) not in seen
    root_links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout)
    assert not {VX, OV, "mv-root-chk"} & {link["ifname"] for link in root_links}


@pytest.mark.kernel
def test_overlay_step_timings(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """Time the overlay steps at some scale (20 overlay namespaces on one host, 100 peers on one vxlan, 20 macvlans).
    Printed only."""
    _, (host, _), base = underlay(lab)
    ovls = [lab.ns(f"o{i}") for i in range(20)]
    boxes = [lab.ns(f"m{i}") for i in range(20)]
    lab.backend.apply([*base, *(CreateNamespace(n) for n in [*ovls, *boxes]),
                       *(CreateBridge(o, "br0") for o in ovls)])
    ov = ovls[0]
    remotes = [f"192.168.51.{i}" for i in range(1, 101)]
    macs = [f"02:42:0a:64:00:{i:02x}" for i in range(1, 101)]
    phases: dict[str, list[Step]] = {
        "CreateVxlan": [CreateVxlan(host, "vx0", 1000 + i, vtep(1), "eth0", target_ns=o) for i, o in enumerate(ovls)],
        "SetMaster": [SetMaster(o, "vx0", "br0") for o in ovls],
        "AddFdb(append)": [AddFdb(ov, "vx0", FLOOD, r, append=True) for r in remotes],
        "AddFdb": [AddFdb(ov, "vx0", m, r) for m, r in zip(macs, remotes, strict=True)],
        "AddNeigh": [AddNeigh(ov, "vx0", f"10.100.0.{i + 2}", m) for i, m in enumerate(macs)],
        "CreateMacvlan": [CreateMacvlan(host, "eth0", b, f"mv{i}") for i, b in enumerate(boxes)],
        "DeleteFdb": [DeleteFdb(ov, "vx0", m, r) for m, r in zip(macs, remotes, strict=True)],
        "DeleteNeigh": [DeleteNeigh(ov, "vx0", f"10.100.0.{i + 2}") for i in range(len(macs))],
    }
    took: dict[str, float] = {}
    for phase, steps in phases.items():
        if phase == "DeleteFdb":
            start = time.perf_counter()
            snap = lab.backend.snapshot([ov])[ov]
            took_snapshot = time.perf_counter() - start
            assert len(snap.fdb) == 200 and len(snap.neighbours) == 100
        start = time.perf_counter()
        lab.backend.apply(steps)
        took[phase] = time.perf_counter() - start
    snap = lab.backend.snapshot([ov])[ov]
    assert snap.fdb == {("vx0", FLOOD, r) for r in remotes} and snap.neighbours == set()
    with capsys.disabled():
        print("\noverlay steps, per step: " + ", ".join(f"{p} {1000 * t / len(phases[p]):.2f} ms"
                                                      for p, t in took.items())
              + f"; snapshot of a namespace with 200 fdb + 100 neighbour entries {1000 * took_snapshot:.1f} ms")
