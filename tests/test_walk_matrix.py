"""matrix() answers exactly what trace() answers, pair by pair, on every scenario and on a bigger mixed lab."""

from __future__ import annotations

import random

import pytest

from netlab.backends import Snapshot
from netlab.backends.simulated import SimulatedBackend
from netlab.backends.walk import Probe, World, matrix, trace
from netlab.controller import Controller
from netlab.drivers import ICC_OPTION
from netlab.model import Topology
from netlab.store import SqliteStore
from tests.test_walk import ROOT, deploy, snapshot

SCENARIOS = sorted(path.stem for path in (ROOT / "scenarios").glob("*.yaml"))


def endpoints(snap: Snapshot) -> tuple[list[str], list[tuple[str, str]]]:
    """Sources: every namespace a user would probe from; targets: each of their addresses."""
    sources = sorted(ns for ns in snap if "-s-" in ns or "-h-" in ns or ns.endswith("-internet"))
    targets = [(ns, cidr.split("/")[0]) for ns in sources for dev, cidr in sorted(snap[ns].addresses) if dev != "lo"]
    return sources, targets


def per_pair(world: World, sources: list[str], targets: list[tuple[str, str]], probe: Probe) -> list[list[bool]]:
    rows = []
    for src in sources:
        rows.append([(lambda t: t.ok and t.final_ns == ns)(trace(world, src, ip, probe)) for ns, ip in targets])
    return rows


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("probe", [Probe(), Probe("tcp", 80), Probe("udp", 53), Probe(size=1472, df=True)],
                         ids=["icmp", "tcp", "udp", "icmp-df"])
def test_matrix_equals_trace_on_every_scenario(scenario: str, probe: Probe) -> None:
    backend, _ = deploy(scenario)
    snap = snapshot(backend)
    sources, targets = endpoints(snap)
    fast = matrix(World.from_snapshot(snap), sources, targets, probe)
    slow = per_pair(World.from_snapshot(snap), sources, targets, probe)
    assert fast == slow
    assert any(map(any, fast)) and not all(map(all, fast))   # both kinds of pairs are there


def test_the_order_of_calls_does_not_change_answers() -> None:
    backend, p = deploy("three-host-mix")
    snap = snapshot(backend)
    sources, targets = endpoints(snap)
    world = World.from_snapshot(snap)
    first = per_pair(world, sources[::-1], targets[::-1], Probe())
    assert matrix(world, sources[::-1], targets[::-1]) == first
    assert matrix(World.from_snapshot(snap), sources, targets) == [row[::-1] for row in first[::-1]]


def mixed_lab(per_host: int = 12, hosts: int = 3) -> SimulatedBackend:
    """Bridges with ICC on and off (published ports on one), two overlays and macvlan across hosts."""
    topo = Topology("mix")
    for h in range(1, hosts + 1):
        topo.add_host(f"h{h}")
        topo.add_network(f"open{h}", "bridge", host=f"h{h}", subnet=f"10.{h}.1.0/24")
        topo.add_network(f"quiet{h}", "bridge", host=f"h{h}", subnet=f"10.{h}.2.0/24", options={ICC_OPTION: "false"})
    topo.add_network("blue", "overlay", subnet="10.100.0.0/24")
    topo.add_network("green", "overlay", subnet="10.101.0.0/24")
    topo.add_network("wire", "macvlan")
    kinds = ["open", "quiet", "blue", "green", "wire", "both"]
    for n in range(per_host * hosts):
        host, kind = n % hosts + 1, kinds[n // hosts % len(kinds)]
        ports = [f"{9000 + n}:80/tcp"] if kind == "quiet" else []
        topo.add_sandbox(f"c{n}", host=f"h{host}", ports=ports)
        for net in ([f"open{host}", "blue"] if kind == "both" else
                    [f"{kind}{host}"] if kind in ("open", "quiet") else [kind]):
            topo.connect(f"c{n}", net)
    backend = SimulatedBackend()
    Controller("mix", backend, SqliteStore(":memory:")).up(topo)
    return backend


def test_matrix_equals_trace_on_a_mixed_lab() -> None:
    snap = snapshot(mixed_lab())
    sources, targets = endpoints(snap)
    answers = {}
    for probe in (Probe(), Probe("tcp", 80)):
        fast = answers[probe.proto] = matrix(World.from_snapshot(snap), sources, targets, probe)
        assert fast == per_pair(World.from_snapshot(snap), sources, targets, probe)
        reachable = sum(map(sum, fast))
        assert 0 < reachable < len(sources) * len(targets)
    rng = random.Random(7)      # a few pairs, each on a World that has seen nothing else
    for _ in range(20):
        i, j = rng.randrange(len(sources)), rng.randrange(len(targets))
        t = trace(World.from_snapshot(snap), sources[i], targets[j][1])
        assert (t.ok and t.final_ns == targets[j][0]) == answers["icmp"][i][j]
