"""Benchmark: the packet walker's full reachability matrix of N sandboxes (N x N pairs) on the simulator.

The lab (``--sandboxes N``, default 500; ``--hosts H``, default 5), deployed on
the :class:`~netlab.backends.simulated.SimulatedBackend` through the
:class:`~netlab.controller.Controller` (no root needed): per host two bridge
networks (one with ICC on, one with ICC off and a published port per
container), and two overlay networks across all hosts (their containers also
get libnetwork's ``docker_gwbridge``). The sandboxes are dealt round-robin to
hosts and, per host, to the four networks, so the matrix holds reachable pairs
(same bridge with ICC on, same overlay on any host) and isolated ones (ICC off,
other networks, other hosts' bridges).

Measured, in one run:

1. ``snapshot`` + ``World.from_snapshot`` (the walker's index);
2. ``matrix(world, sandboxes, targets)`` for all N x N pairs, each target being
   a sandbox's first address, on a fresh World (nothing memoised before);
3. the baseline: the naive per-pair ``trace()`` (hops assembled, a fresh World
   per pair built outside the clock, so nothing is reused between pairs) on
   ``--sample`` random pairs, extrapolated to N x N, and the ratio baseline /
   matrix; also ``trace()`` per pair on one shared World (what a loop over the
   public per-pair API costs);
4. a check that ``matrix`` equals ``trace()`` on the sampled pairs (the
   benchmark exits 1 if not), and the count of reachable pairs.

Target: 500 sandboxes (250,000 pairs) in under 5 s for steps 1 and 2 together on
this 2-core machine. Takes about 15 s with the defaults (mostly the baseline's
World per sampled pair).

Run from the project root::

    .venv/bin/python benchmarks/bench_matrix_sim.py [--sandboxes 500] [--hosts 5] [--sample 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time

from netlab.backends.simulated import SimulatedBackend
from netlab.backends.walk import World, matrix, trace
from netlab.controller import Controller
from netlab.drivers import ICC_OPTION
from netlab.model import Topology
from netlab.naming import sandbox_netns
from netlab.store import SqliteStore

LAB = "mx"


def build_topology(sandboxes: int, hosts: int) -> Topology:
    """The benchmark lab: 2 bridges per host (ICC on / ICC off + published ports) and 2 overlays."""
    topo = Topology(LAB)
    names = [f"h{i + 1}" for i in range(hosts)]
    for host in names:
        topo.add_host(host)
    networks: dict[str, list[str]] = {}
    for index, host in enumerate(names):
        topo.add_network(f"open{index + 1}", "bridge", host=host, subnet=f"10.{index + 1}.0.0/20")
        topo.add_network(f"quiet{index + 1}", "bridge", host=host, subnet=f"10.{index + 1}.16.0/20",
                         options={ICC_OPTION: "false"})
        networks[host] = [f"open{index + 1}", f"quiet{index + 1}", "blue", "green"]
    topo.add_network("blue", "overlay", subnet="10.100.0.0/20")
    topo.add_network("green", "overlay", subnet="10.101.0.0/20")
    placed: dict[str, int] = {host: 0 for host in names}
    for number in range(sandboxes):
        host = names[number % hosts]
        network = networks[host][placed[host] % 4]
        ports = [f"{8000 + placed[host]}:80/tcp"] if network.startswith("quiet") else []
        placed[host] += 1
        name = f"c{number}"
        topo.add_sandbox(name, host=host, ports=ports)
        topo.connect(name, network)
    return topo


def deploy(sandboxes: int, hosts: int) -> SimulatedBackend:
    backend = SimulatedBackend()
    Controller(LAB, backend, SqliteStore(":memory:")).up(build_topology(sandboxes, hosts))
    return backend


def targets_of(backend: SimulatedBackend, sources: list[str]) -> list[tuple[str, str]]:
    """Each sandbox's first address (by interface name): the one a user would ping."""
    snapshot = backend.snapshot(sources)
    targets = []
    for ns in sources:
        dev, cidr = min((d, c) for d, c in snapshot[ns].addresses if d != "lo")
        targets.append((ns, cidr.split("/")[0]))
    return targets


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sandboxes", type=int, default=500)
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--sample", type=int, default=200, help="pairs traced one by one for the baseline")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.sandboxes < 1 or args.hosts < 1 or args.sample < 0:
        parser.error("--sandboxes and --hosts must be at least 1, --sample at least 0")

    start = time.perf_counter()
    backend = deploy(args.sandboxes, args.hosts)
    deployed = time.perf_counter() - start
    sources = [sandbox_netns(LAB, f"c{n}") for n in range(args.sandboxes)]
    targets = targets_of(backend, sources)
    pairs = len(sources) * len(targets)
    print(f"bench_matrix_sim: {args.sandboxes} sandboxes on {args.hosts} hosts, {len(backend.namespaces())} "
          f"namespaces, {pairs:,} pairs (simulated deploy took {deployed:.2f} s, not counted)")

    gc.collect()
    start = time.perf_counter()
    world = World.from_snapshot(backend.snapshot(backend.namespaces()))
    indexed = time.perf_counter() - start
    start = time.perf_counter()
    result = matrix(world, sources, targets)
    walked = time.perf_counter() - start
    reachable = sum(map(sum, result))

    rng = random.Random(args.seed)
    sample = [(rng.randrange(len(sources)), rng.randrange(len(targets))) for _ in range(args.sample)]
    snapshot = backend.snapshot(backend.namespaces())
    naive: list[bool] = []
    naive_time = 0.0
    for i, j in sample:      # nothing reused between pairs: a World per pair, built outside the clock
        fresh = World.from_snapshot(snapshot)
        start = time.perf_counter()
        t = trace(fresh, sources[i], targets[j][1])
        naive_time += time.perf_counter() - start
        naive.append(t.ok and t.final_ns == targets[j][0])
    shared = World.from_snapshot(snapshot)
    start = time.perf_counter()
    for i, j in sample:      # what a caller looping over trace() on one World pays (hops assembled)
        trace(shared, sources[i], targets[j][1])
    shared_time = time.perf_counter() - start
    mismatches = sum(naive[k] != result[i][j] for k, (i, j) in enumerate(sample))

    total = indexed + walked
    naive_all = naive_time / len(sample) * pairs if sample else 0.0
    shared_all = shared_time / len(sample) * pairs if sample else 0.0
    print(f"snapshot + World.from_snapshot   {indexed:8.3f} s")
    print(f"matrix, {pairs:,} pairs       {walked:8.3f} s   ({walked / pairs * 1e6:.1f} us per pair)")
    print(f"total (index + matrix)           {total:8.3f} s   target < 5 s: {'met' if total < 5 else 'NOT MET'}")
    print(f"reachable pairs                  {reachable:,} of {pairs:,}")
    if sample:
        print(f"baseline, naive trace() per pair (a fresh World each, its build not counted), {len(sample):,} "
              f"sampled pairs: {naive_time / len(sample) * 1e3:.2f} ms per pair, extrapolated to {pairs:,} pairs: "
              f"{naive_all:,.1f} s, {naive_all / total:,.0f}x the matrix")
        print(f"trace() per pair on one shared World, same sample: {shared_time / len(sample) * 1e6:.1f} us per pair, "
              f"extrapolated: {shared_all:,.1f} s, {shared_all / total:,.1f}x the matrix")
        print(f"matrix == trace() on the sample: {'yes' if not mismatches else f'NO, {mismatches} differ'}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
