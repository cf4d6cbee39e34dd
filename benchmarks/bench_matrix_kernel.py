"""Benchmark: the full reachability matrix of a 50-container kernel lab, against one ``ping`` process per pair.

The lab (generated, deployed on the kernel): 2 hosts; on h1 the bridge networks
``red`` (12 containers) and ``blue`` (12, ICC off), on h2 the bridge ``green``
(12); an overlay ``ov`` spanning both hosts (14 containers, 7 per host; each
also gets libnetwork's gateway bridge endpoint). 50 containers, 2,450 ordered
pairs, each pair probed on the target's first address.

Measured in one run, after the deploy:

1. **netlab**: :meth:`KernelProber.matrix` over the 50 x 50 grid: one raw ICMP
   socket per namespace, every echo request sent at once, one 1 s window for all
   answers (requests without an answer are sent again a few times within it),
   and the namespace that answered checked for each. Best of ``--repeat``. Its
   result is compared with what the model implies
   (:func:`netlab.harness_matrix.expected_matrix`): a fast wrong answer would not count.
2. **baseline**: ``ip netns exec NS ping -n -q -c1 -W1 IP`` run one pair at a
   time, as a shell loop would. Running all 2,450 would take minutes (every
   unreachable pair waits its 1 s), so a sample of ``--sample`` reachable and as
   many unreachable pairs is timed and the total extrapolated with the matrix's
   own counts of reachable and unreachable pairs.

Target: the 50-sandbox matrix in under 10 s. Safety: the lab is named with
this process's PID (``nl-mxbench<pid>-``), taken down in ``finally``; every ping
this benchmark starts is waited for. Run as root from the project root::

    sudo .venv/bin/python benchmarks/bench_matrix_kernel.py [--repeat 3] [--sample 25]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_deploy import can_run  # noqa: E402

from netlab.harness_matrix import expected_matrix  # noqa: E402
from netlab.labapi import Lab  # noqa: E402
from netlab.loading import load_text  # noqa: E402
from netlab.probes_kernel import KernelProber  # noqa: E402

SANDBOXES = 50


def scenario(name: str) -> str:
    """The lab's YAML: 12 + 12 + 12 containers on three bridges, 14 on an overlay across both hosts."""
    lines = [f"name: {name}", "hosts: [h1, h2]", "networks:",
             "  red: {host: h1, subnet: 10.90.1.0/24}",
             "  blue: {host: h1, subnet: 10.90.2.0/24, options: {com.docker.network.bridge.enable_icc: 'false'}}",
             "  green: {host: h2, subnet: 10.90.3.0/24}",
             "  ov: {driver: overlay, subnet: 10.90.4.0/24}",
             "containers:"]
    placed = [("red", "h1")] * 12 + [("blue", "h1")] * 12 + [("green", "h2")] * 12 + [("ov", "h1"), ("ov", "h2")] * 7
    for index, (network, host) in enumerate(placed):
        lines.append(f"  c{index:02d}: {{host: {host}, networks: [{network}]}}")
    return "\n".join(lines) + "\n"


def ping_process(ns: str, ip: str) -> bool:
    result = subprocess.run(["ip", "netns", "exec", ns, "ping", "-n", "-q", "-c1", "-W1", ip],
                            capture_output=True, check=False, timeout=30)
    return result.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=25, help="reachable (and unreachable) pairs timed one by one")
    args = parser.parse_args()
    if not can_run("bench_matrix_kernel", ("ip", "ping")):
        return 2
    name = f"mxbench{os.getpid()}"
    topo = load_text(scenario(name))
    with tempfile.TemporaryDirectory() as state, Lab.up(topo, backend="kernel", state_dir=state) as lab:
        view = lab.view
        names = view.sandboxes
        assert len(names) == SANDBOXES
        sources = [view.sandbox_ns(s) for s in names]
        targets = [(view.sandbox_ns(s), view.columns(s)[0].ip) for s in names]
        prober = KernelProber(lab.backend)
        timings = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            observed = prober.matrix(sources, targets)
            timings.append(time.perf_counter() - start)
        model = expected_matrix(view)
        first = {s: model.columns.index(view.columns(s)[0]) for s in names}
        wrong = [(a, b) for i, a in enumerate(names) for j, b in enumerate(names)
                 if a != b and model.expected[i][first[b]] != observed[i][j]]
        pairs = [(i, j) for i in range(SANDBOXES) for j in range(SANDBOXES) if i != j]
        reachable = [p for p in pairs if observed[p[0]][p[1]]]
        unreachable = [p for p in pairs if not observed[p[0]][p[1]]]
        rng = random.Random(7)
        per_pair: dict[bool, float] = {}
        for group, verdict in ((reachable, True), (unreachable, False)):
            sample = rng.sample(group, min(args.sample, len(group)))
            start = time.perf_counter()
            agree = sum(ping_process(sources[i], targets[j][1]) == verdict for i, j in sample)
            per_pair[verdict] = (time.perf_counter() - start) / max(len(sample), 1)
            if agree != len(sample):
                print(f"warning: ping disagreed with the matrix on {len(sample) - agree} sampled pair(s)")
    baseline = per_pair[True] * len(reachable) + per_pair[False] * len(unreachable)
    best = min(timings)
    print(f"lab: {SANDBOXES} containers on 2 hosts (3 bridges, 1 overlay); {len(pairs)} ordered pairs: "
          f"{len(reachable)} reachable, {len(unreachable)} not")
    print("| measurement | figure |\n|---|---|")
    print(f"| netlab KernelProber.matrix, {len(pairs)} pairs (best of {args.repeat}) | {best:.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in timings)}) |")
    print(f"| `ip netns exec ... ping -c1 -W1` per pair: reachable / unreachable | {per_pair[True] * 1000:.1f} ms / "
          f"{per_pair[False] * 1000:.0f} ms per pair |")
    print(f"| baseline extrapolated to {len(pairs)} pairs | {baseline:.1f} s |")
    print(f"| baseline / netlab | {baseline / best:.0f}x |")
    print(f"| baseline for the {len(reachable)} reachable pairs alone (no 1 s waits) | "
          f"{per_pair[True] * len(reachable):.2f} s |")
    print(f"| matrix agrees with the model | {'yes' if not wrong else f'NO: {len(wrong)} pairs differ'} |")
    print(f"target (< 10 s for 50 sandboxes): {'met' if best < 10 else 'NOT met'}. netlab's time is its one 1 s "
          "answer window (the -W1 of the baseline); the baseline's is one 1 s wait per unreachable pair.")
    return 0 if not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
