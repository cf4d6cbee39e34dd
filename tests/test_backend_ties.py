"""Kernel snapshots say what each link is tied to (``LinkState.link``), read from the kernel; the simulator agrees.

These kernel tests use the namespaces of :class:`tests.test_backend_kernel.Lab` (``nl-kbt<pid>-...``),
always deleted afterwards; nothing is made in the machine's own namespace.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from netlab.backends import (
    UNNAMED_NAMESPACE,
    AddAddress,
    CreateBridge,
    CreateMacvlan,
    CreateNamespace,
    CreateVeth,
    CreateVxlan,
    SetUp,
    Snapshot,
    Step,
    kernel_ties,
)
from netlab.backends import netns as nsutil
from netlab.backends.kernel import KernelBackend
from netlab.backends.simulated import SimulatedBackend
from tests.test_backend_kernel import Lab

pytestmark = [pytest.mark.kernel]
BR = "02:00:00:00:09:ff"


@pytest.fixture
def lab(kernel_ok: None, request: pytest.FixtureRequest) -> Iterator[Lab]:
    the_lab = Lab(KernelBackend(), "t" + format(abs(hash(request.node.name)) % 0xFFFFF, "x"))
    try:
        yield the_lab
    finally:
        the_lab.cleanup()
    assert all(nsutil.namespace_identity(name) is None for name in the_lab.names)


def ties(snapshot: Snapshot) -> dict[tuple[str, str], tuple[str, str | None] | None]:
    return {(ns, name): link.link for ns, state in snapshot.items() for name, link in state.links.items()}


def test_veth_peers_macvlan_parents_and_vxlan_underlays(lab: Lab) -> None:
    under, host, a, b = lab.ns("under"), lab.ns("host"), lab.ns("a"), lab.ns("b")
    steps: list[Step] = [
        *(CreateNamespace(ns) for ns in (under, host, a, b)),
        CreateVeth(under, "up1", host, "eth0", mac="02:00:00:00:09:01", peer_mac="02:00:00:00:09:02"),
        SetUp(host, "eth0"), AddAddress(host, "eth0", "192.168.60.11/24"), CreateBridge(host, "br0", mac=BR),
        CreateVeth(host, "veth-a", a, "eth0", master="br0", mac="02:00:00:00:09:03", peer_mac="02:00:00:00:09:04"),
        CreateVeth(a, "x0", a, "x1", mac="02:00:00:00:09:05", peer_mac="02:00:00:00:09:06"),   # both ends in a
        CreateMacvlan(host, "eth0", b, "mv0", mac="02:00:00:00:09:07"),         # parent in another namespace
        CreateMacvlan(b, "mv0", a, "mv1", mac="02:00:00:00:09:08"),             # on a macvlan: on the real device
        CreateVxlan(host, "vx0", 42, "192.168.60.11", "eth0", target_ns=b, mac="02:00:00:00:09:09"),  # moved
        CreateVxlan(host, "vx1", 43, "192.168.60.11", "eth0", mac="02:00:00:00:09:0a"),   # left where it was made
    ]
    lab.backend.apply(steps)
    snap = lab.backend.snapshot([host, a, b])
    assert ties(snap) == {
        (host, "lo"): None, (host, "br0"): None,
        (host, "eth0"): (under, "up1"),            # the underlay namespace is not snapshotted: found in /run/netns
        (host, "veth-a"): (a, "eth0"), (a, "eth0"): (host, "veth-a"),
        (a, "lo"): None, (a, "x0"): (a, "x1"), (a, "x1"): (a, "x0"),
        (b, "lo"): None, (b, "mv0"): (host, "eth0"), (a, "mv1"): (host, "eth0"),
        (b, "vx0"): (host, "eth0"),                # its UDP socket stayed in the namespace it was created from
        (host, "vx1"): (host, "eth0"),
    }
    simulated = SimulatedBackend()
    simulated.apply(steps)
    assert simulated.snapshot([host, a, b]) == snap
    assert lab.backend.snapshot([b])[b].links["vx0"].link == (host, "eth0")   # alone: found in /run/netns too


def test_a_namespace_without_a_name_is_reported_as_unnamed(lab: Lab) -> None:
    a, hidden = lab.ns("a"), lab.ns("hidden")
    lab.backend.apply([CreateNamespace(a), CreateNamespace(hidden), CreateVeth(a, "v0", hidden, "hidden0")])
    fd = os.open(nsutil.namespace_path(hidden), os.O_RDONLY | os.O_CLOEXEC)
    try:
        nsutil.delete_namespace(hidden)   # no name any more; the fd keeps the namespace (and the veth) alive
        assert lab.backend.snapshot([a])[a].links["v0"].link == (UNNAMED_NAMESPACE, "hidden0")
    finally:
        os.close(fd)


def test_veth_ends_are_paired_without_asking_about_every_namespace(lab: Lab,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Two hosts with 12 sandboxes each: their veths share ifindexes across hosts, yet the snapshot asks the kernel
    about at most two namespaces per pair (a scan would ask about ~half of the 26 for each)."""
    hosts = [lab.ns("h1"), lab.ns("h2")]
    boxes = [[lab.ns(f"s{h}-{i}") for i in range(12)] for h in (1, 2)]
    steps: list[Step] = [CreateNamespace(ns) for ns in [*hosts, *boxes[0], *boxes[1]]]
    for host, sandboxes in zip(hosts, boxes, strict=True):
        steps += [CreateVeth(host, f"ve{i}", box, "eth0") for i, box in enumerate(sandboxes)]
    lab.backend.apply(steps)
    asked: list[int] = []
    resolve = kernel_ties.TieResolver.resolve

    def counting(self: kernel_ties.TieResolver, facts: list[kernel_ties.TieFacts]) -> object:
        try:
            return resolve(self, facts)
        finally:
            asked.append(self.questions)

    monkeypatch.setattr(kernel_ties.TieResolver, "resolve", counting)
    names = [*hosts, *boxes[0], *boxes[1]]
    snap = lab.backend.snapshot(names)
    for host, sandboxes in zip(hosts, boxes, strict=True):
        for i, box in enumerate(sandboxes):
            assert snap[host].links[f"ve{i}"].link == (box, "eth0") and snap[box].links["eth0"].link == (host, f"ve{i}")
    assert snap[boxes[0][0]].links["eth0"].ifindex == snap[boxes[1][0]].links["eth0"].ifindex   # numbers collide
    assert asked and 24 <= asked[-1] <= 48, asked
