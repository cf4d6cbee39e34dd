"""Probe helper: bring bench_overlay's two-host throughput lab up (and print its namespaces and IPs) or down.

For interactive investigation (perf, ethtool, iperf3 by hand)::

    sudo .venv/bin/python benchmarks/overlay_probe_lab.py up LAB DB
    sudo .venv/bin/python benchmarks/overlay_probe_lab.py down LAB DB
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench_deploy import delete_namespaces, lab_down, lab_up, namespaces_with
from bench_overlay import endpoint_ips, throughput_lab_text

from netlab.loading import load_text
from netlab.naming import lab_prefix, sandbox_netns


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("up", "down"):
        print(__doc__, file=sys.stderr)
        return 2
    action, lab, db = argv[0], argv[1], Path(argv[2])
    if action == "up":
        lab_up(lab, load_text(throughput_lab_text(lab)), db)
        ips = endpoint_ips(lab, db)
        print(json.dumps({f"{s}/{n}": {"ns": sandbox_netns(lab, s), "ip": ip} for (s, n), ip in ips.items()}))
        return 0
    try:
        lab_down(lab, db)
    finally:
        delete_namespaces(namespaces_with(lab_prefix(lab)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
