"""Probe helper: interleaved iperf3 A/B rounds, overlay pair vs bridge pair, on a lab made by overlay_probe_lab.py.

Each round runs both pairs (alternating which goes first) with the same iperf3 options and the same CPU
pinning; before every run it waits for the machine to be quiet (other people's CPU use under 15% for half a
second, up to --quiet-wait seconds). With ``--brnf-ab`` every round is run twice, once with bridge netfilter
on and once off in the lab's rule-less namespaces (overlay + underlay), in alternating order::

    sudo .venv/bin/python benchmarks/overlay_probe_ab.py LAB --rounds 6 --seconds 3 [--pin C,S] \
        [--iperf-args '-C cubic'] [--brnf-ab]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys

from bench_deploy import namespaces_with
from bench_overlay import iperf, wait_cpu_quiet

from netlab.naming import lab_prefix, sandbox_netns

PAIRS = (("overlay", "b", "a", "10.220.0.3"), ("bridge", "d", "c", "10.221.0.3"))
QUIET = 0.15
BRNF_KEYS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
             "net.bridge.bridge-nf-call-arptables")


def summary(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return (f"mean {statistics.mean(values):6.2f}  median {statistics.median(values):6.2f}  sd {spread:5.2f}  "
            f"min {min(values):6.2f}  max {max(values):6.2f}")


def wait_quiet(limit: float) -> float:
    """Wait until the CPUs are quiet (or ``limit`` seconds passed); the last background share seen."""
    return wait_cpu_quiet(limit, QUIET, pause=1.0)


def set_brnf(lab: str, on: bool) -> None:
    """Bridge netfilter on/off in the lab's overlay and underlay namespaces (they hold no rules)."""
    prefix = lab_prefix(lab)
    for ns in namespaces_with(prefix):
        if ns.startswith(prefix + "o-") or ns == prefix + "underlay":
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                            *(f"{key}={int(on)}" for key in BRNF_KEYS)], check=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("lab")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--json")
    parser.add_argument("--pin", help="client CPU,server CPU (taskset), the same for both pairs")
    parser.add_argument("--iperf-args", default="", help="extra iperf3 client arguments, one string")
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    parser.add_argument("--brnf-ab", action="store_true")
    args = parser.parse_args()
    extra = shlex.split(args.iperf_args)
    pin = None
    if args.pin:
        client_cpu, server_cpu = (int(c) for c in args.pin.split(","))
        pin = (client_cpu, server_cpu)
    variants = ("brnf-on", "brnf-off") if args.brnf_ab else ("as-is",)
    figures: dict[str, dict[str, list[float]]] = {v: {"overlay": [], "bridge": []} for v in variants}
    started: list[int] = []
    for rnd in range(args.rounds):
        for variant in variants if rnd % 2 == 0 else variants[::-1]:
            if args.brnf_ab:
                set_brnf(args.lab, variant == "brnf-on")
            for kind, server, client, ip in PAIRS if rnd % 2 == 0 else PAIRS[::-1]:
                busy = wait_quiet(args.quiet_wait)
                result = iperf(sandbox_netns(args.lab, server), sandbox_netns(args.lab, client), ip, args.seconds,
                               started, extra, pin)
                figures[variant][kind].append(result["bits_per_second"] / 1e9)
                cpu = result["cpu_percent"] or {}
                print(f"round {rnd + 1} {variant:<8} {kind:<7} {figures[variant][kind][-1]:6.2f} Gbit/s  retr "
                      f"{result['retransmits']:6d}  cpu client {cpu.get('host_total', 0):3.0f}% server "
                      f"{cpu.get('remote_total', 0):3.0f}%  background {busy * 100:3.0f}%", flush=True)
    for variant in variants:
        fig = figures[variant]
        ratios = [o / b * 100 for o, b in zip(fig["overlay"], fig["bridge"], strict=True)]
        print(f"[{variant}] overlay Gbit/s  {summary(fig['overlay'])}")
        print(f"[{variant}] bridge  Gbit/s  {summary(fig['bridge'])}")
        print(f"[{variant}] ratio/round %   {summary(ratios)}  ratio of means "
              f"{statistics.mean(fig['overlay']) / statistics.mean(fig['bridge']) * 100:.1f}%  ratio of medians "
              f"{statistics.median(fig['overlay']) / statistics.median(fig['bridge']) * 100:.1f}%")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"figures": figures, "iperf_args": extra, "pin": pin}, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
