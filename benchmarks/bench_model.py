"""Benchmark: load + validate + allocate for generated topologies of 100, 1,000 and 10,000 endpoints.

Each topology has 10 hosts and 50 networks (10 overlays spanning all hosts, 4
bridge networks per host); every container joins one overlay and one bridge
of its host. The baseline, measured in the same run, is a bare
``yaml.safe_load`` (libyaml) of the same text: the least any YAML tool pays.

Target: 10,000 endpoints in under 1 s, cost per endpoint flat (linear growth).

    python benchmarks/bench_model.py [--sizes 100 1000 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import yaml

from netlab.loading import parse_text
from netlab.validation import validate

HOSTS, OVERLAYS, BRIDGES_PER_HOST = 10, 10, 4


def scenario_text(endpoints: int) -> str:
    """A valid scenario with exactly ``endpoints`` endpoints (two per container)."""
    hosts = [f"h{i}" for i in range(HOSTS)]
    networks: dict[str, Any] = {
        f"ov{i}": {"driver": "overlay", "subnet": f"10.{100 + i}.0.0/16"} for i in range(OVERLAYS)
    }
    for h, host in enumerate(hosts):
        for b in range(BRIDGES_PER_HOST):
            networks[f"br{h}-{b}"] = {"driver": "bridge", "host": host}
    containers: dict[str, Any] = {}
    for c in range(endpoints // 2):
        h = c % HOSTS
        containers[f"c{c}"] = {"host": hosts[h],
                               "networks": [f"ov{c % OVERLAYS}", f"br{h}-{(c // HOSTS) % BRIDGES_PER_HOST}"]}
    text: str = yaml.safe_dump({"name": "bench", "hosts": hosts, "networks": networks,
                                "containers": containers}, sort_keys=False)
    return text


def best_of(repeat: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def pipeline(text: str) -> int:
    """Load, validate and allocate: what `netlab plan` does before printing."""
    topo, problems = parse_text(text, "bench.yaml")
    if problems:
        raise SystemExit(f"generated scenario is invalid: {problems[0].format()}")
    return len(validate(topo).endpoints)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    print(f"{'endpoints':>9}  {'netlab s':>9}  {'us/endpoint':>11}  {'safe_load s':>11}  {'ratio':>6}")
    per_endpoint = []
    totals = []
    for size in args.sizes:
        text = scenario_text(size)
        assert pipeline(text) == size
        ours = best_of(args.repeat, lambda text=text: pipeline(text))  # type: ignore[misc]
        base = best_of(args.repeat, lambda text=text: yaml.load(text, Loader=loader))  # type: ignore[misc]
        per_endpoint.append(ours / size * 1e6)
        totals.append(ours)
        print(f"{size:>9}  {ours:>9.3f}  {per_endpoint[-1]:>11.1f}  {base:>11.3f}  {ours / base:>5.1f}x")
    points = list(zip(args.sizes, totals, strict=True))
    marginal = [(t2 - t1) / (s2 - s1) * 1e6 for (s1, t1), (s2, t2) in pairwise(points)]
    print("marginal cost per added endpoint (us): " + ", ".join(f"{m:.1f}" for m in marginal)
          + "  (equal figures = linear growth)")
    if args.sizes[-1] == 10000:
        verdict = "meets" if totals[-1] < 1.0 else "MISSES"
        print(f"10,000 endpoints: {totals[-1]:.3f} s, {verdict} the 1 s target")


if __name__ == "__main__":
    main()
