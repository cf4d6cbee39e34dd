"""The kernel backend: real namespaces, veths, bridges, routes, sysctls and nftables, never in the machine's namespace.

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
    AddRoute,
    ApplyRuleset,
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
from netlab.backends import netns as nsutil
from netlab.backends.kernel import KernelBackend, normalize_ruleset, probe
from netlab.errors import BackendError, NotSupportedError

PREFIX = f"nl-kbt{os.getpid()}-"
RTMGRP_LINK = 1


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
        "veth2": LinkState("veth2", "veth", True, "02:00:00:00:07:f2", 1450, "br0"),
        "veth3": LinkState("veth3", "veth", True, "02:00:00:00:07:f3", 1450, "br0"),
    }
    assert snap[host].addresses == {("br0", "10.7.0.1/24")}
    assert snap[host].routes == set()
    assert snap[host].sysctls == {"net.ipv4.ip_forward": "1"}
    assert snap[host].ruleset is None
    for sandbox, n in ((a, 2), (b, 3)):
        assert snap[sandbox].links == {"lo": LinkState("lo", "loopback", True, "00:00:00:00:00:00", 65536),
                                       "eth0": LinkState("eth0", "veth", True, f"02:00:00:00:07:0{n}", 1450)}
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
    monitor = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)   # NETLINK_ROUTE, read-only listener
    try:
        monitor.bind((0, RTMGRP_LINK))
        monitor.setblocking(False)
        lab.backend.apply(steps)
        lab.backend.apply([DeleteLink(host, "veth2")])
        time.sleep(0.05)
        seen = b""
        while True:
            try:
                seen += monitor.recv(65536)
            except BlockingIOError:
                break
    finally:
        monitor.close()
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
