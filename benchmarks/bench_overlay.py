"""Benchmark: deploy/teardown of a 3-host, 300-container overlay lab, and overlay vs bridge iperf3 throughput.

Measured in one run:

1. **Deploy speed.** A generated lab: 3 hosts x 100 containers over 4 overlay
   networks (explicit /22 subnets); container ``c<i>`` sits on host
   ``h<i mod 3 + 1>`` and overlay ``ov<(i div 3) mod 4>``, so every overlay
   spans all three hosts (25 containers per overlay and host). What netlab
   makes for it (``netlab/lab.py``): the underlay and internet namespaces, 3
   host namespaces, one namespace per overlay and host (12: bridge ``ov-<vni>``
   with the gateway address, VXLAN ``vx-<vni>`` whose UDP socket is on the
   host's underlay link, flood entries to the 2 other hosts), 300 container
   namespaces with a veth on their overlay, per container a neighbour and an
   FDB entry on each of the 2 other hosts (600 peers), and, since overlays give
   no default route, libnetwork's gateway bridge on every host with a second
   endpoint per container (default route, masquerade ruleset). ``up`` and
   ``down`` are timed apart through the Python API, each as its own
   ``SqliteStore`` (temp dir) + ``KernelBackend`` + ``Controller``, best of
   ``--repeat``. After each down the benchmark checks that no namespace of the
   lab is left and the store has forgotten it, then waits, untimed, for the
   kernel's asynchronous namespace teardown (``settle`` from
   ``bench_deploy.py``). The first up is also checked to work: one ping across
   hosts on every overlay (untimed). Targets: up < 2 s, down < 0.5 s; when up
   misses, one extra up is run under cProfile (all threads) and the top costs
   are printed.
2. **Throughput.** A small lab of two hosts: overlay ``ov`` with container
   ``a`` on h1 and ``b`` on h2 (VXLAN across the lab's underlay bridge), and a
   bridge network ``br`` on h1 with containers ``c`` and ``d``. ``iperf3 -s -1``
   runs in ``b`` (and ``d``), ``iperf3 -c -t 3 -J`` in ``a`` (and ``c``), each
   started as ``nsenter --net=/run/netns/<ns> iperf3 ...`` (nsenter execs
   iperf3, so the PID kept is iperf3's); the figure is
   ``end.sum_received.bits_per_second`` of ``--iperf-runs`` rounds (6; each
   round runs both networks, alternating which goes first; before each run
   the benchmark waits up to ``--cpu-quiet-wait`` seconds for others to use
   under 20% of the CPUs). Both pairs get the same iperf3 options, the same
   ``--pin`` (taskset) and the same ``--congestion`` (iperf3 ``-C``, a socket
   option; by default the lab namespaces' own default, inherited from the
   machine, is used and printed). Mean, spread and median of each are
   reported; the verdict compares the **medians** (a run on this 2-CPU VM
   lands in one of several modes, sender-driven or receiver-driven, up to 3x
   apart, so best-with-best compares two lucky draws). The tx byte
   counter of h1's VXLAN device is read before and after each run to show the
   overlay traffic really went through VXLAN, and the root namespace's link
   counters to show none of it left the lab namespaces.
   Servers (and clients) this benchmark started are killed by PID and reaped
   in ``finally``. Target: overlay >= 80% of the bridge figure. Note the
   overlay's MTU is 1450 (underlay 1500 - 50 VXLAN), the bridge's 1500.

Safety: all objects live in namespaces netlab creates for labs named with this
process's PID (``nl-ovbench<pid>-``, ``nl-ovtput<pid>-``, ``nl-ovprof<pid>-``);
every lab is brought down in ``finally`` and any namespace left with those
prefixes is deleted. At the end the root namespace's ``ip -o link`` and ``nft
list tables`` are compared with the start. Other people's namespaces are never
touched, only counted: if any exist before a measurement, or the CPUs are more
than 20% busy during a half-second window in which this benchmark only sleeps,
the run is reported as taken on a busy machine. ``--quiet-wait S`` waits up to S
seconds before each measurement for ``/run/netns`` to hold nothing but ours.

Run as root from the project root (about 40 s with the defaults, a profile included)::

    sudo .venv/bin/python benchmarks/bench_overlay.py [--repeat 3] [--iperf-time 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_deploy import (
    can_run,
    delete_namespaces,
    lab_down,
    lab_up,
    namespaces_with,
    netns_slab_count,
    print_profile,
    profile_all_threads,
    run,
    settle,
    summarize_profiles,
)

from netlab.backends.kernel import KernelBackend
from netlab.controller import Controller
from netlab.loading import load_text
from netlab.model import Topology
from netlab.naming import lab_prefix, overlay_netns, sandbox_netns
from netlab.store import SqliteStore

HOSTS, CONTAINERS, OVERLAYS = 3, 300, 4
UP_TARGET, DOWN_TARGET, RATIO_TARGET = 2.0, 0.5, 0.80
IPERF_PORT = 5201
SETTLE_TIMEOUT = 30.0
BUSY_CPU = 0.20  # share of both CPUs busy while this benchmark sits idle above which the machine counts as busy
IDLE_WINDOW = 0.5  # seconds of CPU accounting (while this benchmark does nothing) before each measurement
#: (file suffix, function, label): the stages of an up, by cumulative time (missing ones are skipped)
OVERLAY_STAGES = (
    ("netlab/controller.py", "up", "Controller.up, in all"),
    ("netlab/validation.py", "validate", "  validate"),
    ("netlab/lab.py", "with_gateway_bridges", "  add the gateway bridges"),
    ("netlab/controller.py", "_addresses", "  allocate addresses"),
    ("netlab/lab.py", "desired_objects", "  plan the object groups"),
    ("netlab/controller.py", "_reconcile", "  reconcile (store + kernel)"),
    ("netlab/store/sqlite.py", "begin_many", "    store: record intent (per batch)"),
    ("netlab/store/sqlite.py", "done_many", "    store: record done (per batch)"),
    ("netlab/backends/kernel.py", "apply", "    KernelBackend.apply (main thread, waiting for the worker)"),
    ("netlab/backends/kernel.py", "_create_namespaces", "      worker: create namespaces (thread per run)"),
    ("netlab/backends/kernel_steps.py", "_create_veth", "      worker: create veth"),
    ("netlab/backends/kernel_steps.py", "_create_vxlan", "      worker: create vxlan"),
    ("netlab/backends/kernel_steps.py", "_set_master", "      worker: set master"),
    ("netlab/backends/kernel_steps.py", "_add_fdb", "      worker: add FDB entry (peers, flood)"),
    ("netlab/backends/kernel_steps.py", "_add_neigh", "      worker: add neighbour (peers)"),
    ("netlab/backends/kernel_steps.py", "_index", "      worker: link get (ifindex lookups)"),
    ("netlab/backends/kernel_steps.py", "_add_address", "      worker: add address"),
    ("netlab/backends/kernel_steps.py", "_add_route", "      worker: add route"),
    ("netlab/backends/netns.py", "run", "      worker: nsenter subprocess (nft ruleset)"),
    ("netlab/backends/netns.py", "write_sysctl", "      worker: write sysctl (setns thread)"),
    ("~", "<method 'send' of '_socket.socket' objects>", "      netlink send (the kernel doing the work)"),
)


# -- scenarios -----------------------------------------------------------------------------------------------------
def overlay_lab_text(lab: str) -> str:
    """3 hosts x 100 containers, 4 overlays with /22 subnets; every overlay on every host."""
    lines = [f"name: {lab}", "hosts: [" + ", ".join(f"h{h + 1}" for h in range(HOSTS)) + "]", "networks:"]
    lines += [f"  ov{o}: {{driver: overlay, subnet: 10.{210 + o}.0.0/22}}" for o in range(OVERLAYS)]
    lines.append("containers:")
    lines += [f"  c{i}: {{host: h{i % HOSTS + 1}, networks: [ov{(i // HOSTS) % OVERLAYS}]}}" for i in range(CONTAINERS)]
    return "\n".join(lines) + "\n"


def throughput_lab_text(lab: str) -> str:
    """Overlay ``ov`` (a on h1, b on h2) and bridge ``br`` on h1 (c, d)."""
    return "\n".join([
        f"name: {lab}", "hosts: [h1, h2]", "networks:",
        "  ov: {driver: overlay, subnet: 10.220.0.0/24}",
        "  br: {driver: bridge, host: h1, subnet: 10.221.0.0/24}",
        "containers:",
        "  a: {host: h1, networks: [ov]}", "  b: {host: h2, networks: [ov]}",
        "  c: {host: h1, networks: [br]}", "  d: {host: h1, networks: [br]}",
    ]) + "\n"


def expected_namespaces(topo: Topology) -> int:
    """underlay + internet + hosts + one per overlay and host + one per container."""
    overlay_ns = sum(len(topo.network_hosts(n.name)) for n in topo.networks if n.driver == "overlay")
    return 2 + len(topo.hosts) + overlay_ns + len(topo.sandboxes)


# -- the machine ---------------------------------------------------------------------------------------------------
def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def background_cpu(window: float = IDLE_WINDOW) -> float:
    """Share of the machine's CPU time used by others during ``window`` seconds in which we only sleep."""
    busy0, total0 = _cpu_ticks()
    time.sleep(window)
    busy1, total1 = _cpu_ticks()
    return (busy1 - busy0) / max(total1 - total0, 1)


@dataclass
class Activity:
    """What else ran while measuring: other namespaces (never touched, only counted), CPU use and the load average.

    Sampled before each measurement: ``background_cpu`` is how busy the CPUs were during a short window in which
    this benchmark only slept (other people's work, or the kernel still finishing ours).
    """

    ours: tuple[str, ...]
    samples: list[dict[str, Any]] = field(default_factory=list)

    def foreign(self) -> list[str]:
        return [ns for ns in namespaces_with("") if not ns.startswith(self.ours)]

    def sample(self, what: str) -> dict[str, Any]:
        entry = {"what": what, "foreign_namespaces": len(self.foreign()), "background_cpu": background_cpu(),
                 "load1": os.getloadavg()[0]}
        self.samples.append(entry)
        return entry

    def wait_quiet(self, seconds: float) -> float:
        """Wait up to ``seconds`` until no foreign namespace exists; seconds waited."""
        start = time.perf_counter()
        while seconds > 0 and self.foreign() and time.perf_counter() - start < seconds:
            time.sleep(0.5)
        return time.perf_counter() - start

    def busy(self) -> bool:
        return any(s["foreign_namespaces"] or s["background_cpu"] > BUSY_CPU for s in self.samples)

    def summary(self) -> str:
        if not self.samples:
            return "no samples"
        peak = max(s["foreign_namespaces"] for s in self.samples)
        with_others = sum(1 for s in self.samples if s["foreign_namespaces"])
        loads = [s["load1"] for s in self.samples]
        cpu = [s["background_cpu"] * 100 for s in self.samples]
        return (f"other namespaces present at {with_others} of {len(self.samples)} measurement starts (up to "
                f"{peak}); CPU busy while we idled {min(cpu):.0f}-{max(cpu):.0f}% (busy above "
                f"{BUSY_CPU * 100:.0f}%); 1-min load {min(loads):.2f}-{max(loads):.2f}")


@dataclass
class RootState:
    links: str
    tables: str

    @classmethod
    def capture(cls) -> RootState:
        return cls(run(["ip", "-o", "link"]), run(["nft", "list", "tables"]))

    def differences(self, other: RootState) -> list[str]:
        out = []
        if self.links != other.links:
            out.append(f"ip -o link changed:\n--- before\n{self.links}--- after\n{other.links}")
        if self.tables != other.tables:
            out.append(f"nft list tables changed: {self.tables!r} -> {other.tables!r}")
        return out


# -- netlab up / down ----------------------------------------------------------------------------------------------
def check_gone(lab: str, db: Path) -> None:
    left = namespaces_with(lab_prefix(lab))
    if left:
        raise RuntimeError(f"down left {len(left)} namespaces of lab {lab}: {left[:5]}")
    store = SqliteStore(db)
    try:
        if store.lab(lab) is not None or store.objects(lab):
            raise RuntimeError(f"down left lab {lab} in the store")
    finally:
        store.close()


def safe_down(lab: str, db: Path) -> None:
    """Best-effort teardown for ``finally``: down through the store, then delete whatever of the lab is left."""
    try:
        if db.exists():
            lab_down(lab, db)
    except Exception as exc:  # cleanup must go on
        print(f"  (warning: down of {lab} failed: {exc}; deleting its namespaces)", file=sys.stderr)
    delete_namespaces(namespaces_with(lab_prefix(lab)))


def endpoint_ips(lab: str, db: Path) -> dict[tuple[str, str], str]:
    """(sandbox, network) -> IPv4 address (no prefix length), from the controller's status."""
    store = SqliteStore(db)
    backend = KernelBackend()
    try:
        status = Controller(lab, backend, store).status()
    finally:
        backend.close()
        store.close()
    return {(ep["sandbox"], ep["network"]): str(ep["ip"]).split("/")[0] for ep in status["endpoints"] if ep["ip"]}


def netns_path(ns: str) -> str:
    return f"/run/netns/{ns}"


def ping_ok(ns: str, ip: str) -> bool:
    proc = subprocess.run(["nsenter", f"--net={netns_path(ns)}", "ping", "-c", "1", "-W", "2", ip],
                          capture_output=True, text=True, timeout=10, check=False)
    return proc.returncode == 0


def check_overlays(lab: str, topo: Topology, db: Path) -> list[str]:
    """One ping per overlay, from a container on h1 to one on h2; the failures."""
    ips = endpoint_ips(lab, db)
    failures = []
    for net in topo.networks:
        members = [ep.sandbox for ep in topo.endpoints_on(net.name)]
        src = next(s for s in members if topo.host_of(s) == "h1")
        dst = next(s for s in members if topo.host_of(s) == "h2")
        if not ping_ok(sandbox_netns(lab, src), ips[(dst, net.name)]):
            failures.append(f"{src} (h1) -> {dst} (h2) on {net.name}")
    return failures


@dataclass
class Times:
    up: list[float] = field(default_factory=list)
    down: list[float] = field(default_factory=list)
    settle: list[float] = field(default_factory=list)


def deploy_bench(lab: str, topo: Topology, workdir: Path, repeat: int, activity: Activity,
                 quiet_wait: float) -> tuple[Times, list[str]]:
    """``repeat`` up/down cycles of the big overlay lab; (times, ping failures of the first up)."""
    times = Times()
    expected = expected_namespaces(topo)
    db = workdir / f"{lab}.db"
    failures: list[str] = []
    for rep in range(repeat):
        activity.wait_quiet(quiet_wait)
        sample = activity.sample(f"deploy run {rep + 1}")
        reference = netns_slab_count()
        try:
            times.up.append(lab_up(lab, topo, db))
            made = namespaces_with(lab_prefix(lab))
            if len(made) != expected:
                raise RuntimeError(f"up made {len(made)} namespaces, expected {expected}")
            if rep == 0:
                failures = check_overlays(lab, topo, db)
            times.down.append(lab_down(lab, db))
            check_gone(lab, db)
        finally:
            safe_down(lab, db)
        times.settle.append(settle(reference, SETTLE_TIMEOUT))
        for path in workdir.glob(f"{lab}.db*"):
            path.unlink()
        print(f"  deploy run {rep + 1}/{repeat}: up {times.up[-1]:.3f} s, down {times.down[-1]:.3f} s "
              f"(kernel teardown wait {times.settle[-1]:.2f} s; before the run: other namespaces "
              f"{sample['foreign_namespaces']}, CPU busy {sample['background_cpu'] * 100:.0f}%)", flush=True)
    return times, failures


# -- profile -------------------------------------------------------------------------------------------------------
def profile_up(lab: str, topo: Topology, workdir: Path, top: int = 12) -> dict[str, Any]:
    """One up of the overlay lab under cProfile (every thread), then down; where the time goes.

    Returns the dict :func:`bench_deploy.print_profile` prints.
    """
    db = workdir / f"{lab}.db"
    reference = netns_slab_count()
    try:
        with profile_all_threads() as profiles:
            wall = lab_up(lab, topo, db)
    finally:
        safe_down(lab, db)
        settle(reference, SETTLE_TIMEOUT)
    return {"size": len(topo.sandboxes), "wall": wall, **summarize_profiles(profiles, OVERLAY_STAGES, top)}


# -- throughput ----------------------------------------------------------------------------------------------------
def _stop(proc: subprocess.Popen[str] | None) -> None:
    """Kill ``proc`` (one we started, by its PID) if it still runs, and reap it."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        print(f"  (warning: process {proc.pid} did not exit after SIGKILL)", file=sys.stderr)


def _listening(ns: str, port: int) -> bool:
    out = run(["nsenter", f"--net={netns_path(ns)}", "ss", "-Hltn", f"sport = :{port}"], timeout=10)
    return bool(out.strip())


def vxlan_tx_bytes(ns: str) -> int:
    """Bytes sent by the VXLAN devices in the overlay namespace ``ns`` (``ip -n`` reads it, nothing changes)."""
    links = json.loads(run(["ip", "-n", ns, "-j", "-s", "link", "show", "type", "vxlan"]))
    return sum(int(link["stats64"]["tx"]["bytes"]) for link in links)


def root_tx_bytes() -> int:
    """Bytes sent by all links of the machine's own namespace (read only)."""
    return sum(int(link["stats64"]["tx"]["bytes"]) for link in json.loads(run(["ip", "-j", "-s", "link", "show"])))


def _taskset(pin: tuple[int, int] | None, which: int) -> list[str]:
    """``taskset -c CPU`` for the client (``which`` 0) or the server (1) of ``pin``; nothing without a pin."""
    return [] if pin is None else ["taskset", "-c", str(pin[which])]


def iperf(server_ns: str, client_ns: str, server_ip: str, seconds: int, started: list[int],
          client_args: Sequence[str] = (), pin: tuple[int, int] | None = None) -> dict[str, Any]:
    """iperf3 server in ``server_ns`` (bound to ``server_ip``), client in ``client_ns``; the client's figures.

    ``client_args`` are extra iperf3 client options; ``pin`` = (client CPU, server CPU) runs both under ``taskset``.
    """
    server: subprocess.Popen[str] | None = None
    client: subprocess.Popen[str] | None = None
    try:
        server = subprocess.Popen([*_taskset(pin, 1), "nsenter", f"--net={netns_path(server_ns)}", "iperf3", "-s", "-1",
                                   "-B", server_ip, "-p", str(IPERF_PORT)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        started.append(server.pid)
        deadline = time.perf_counter() + 10
        while not _listening(server_ns, IPERF_PORT):
            if server.poll() is not None or time.perf_counter() > deadline:
                err = server.stderr.read() if server.stderr and server.poll() is not None else ""
                raise RuntimeError(f"iperf3 server in {server_ns} did not start listening: {err.strip()}")
            time.sleep(0.05)
        client = subprocess.Popen([*_taskset(pin, 0), "nsenter", f"--net={netns_path(client_ns)}", "iperf3", "-c",
                                   server_ip, "-p", str(IPERF_PORT), "-t", str(seconds), "-J", *client_args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(client.pid)
        out, err = client.communicate(timeout=seconds + 30)
        data = json.loads(out) if out.strip() else {}
        if client.returncode != 0 or "error" in data:
            raise RuntimeError(f"iperf3 client in {client_ns} failed ({client.returncode}): "
                               f"{data.get('error') or err.strip()}")
        end = data["end"]
        return {"bits_per_second": float(end["sum_received"]["bits_per_second"]),
                "sent_bits_per_second": float(end["sum_sent"]["bits_per_second"]),
                "bytes_received": int(end["sum_received"]["bytes"]),
                "retransmits": end["sum_sent"].get("retransmits"),
                "cpu_percent": end.get("cpu_utilization_percent"),
                "server_pid": server.pid, "client_pid": client.pid}
    finally:
        _stop(client)
        _stop(server)


def wait_cpu_quiet(limit: float, threshold: float = BUSY_CPU, pause: float = 0.5) -> float:
    """Wait up to ``limit`` seconds for a half-second window in which others use under ``threshold`` of the CPUs
    (checking every ``pause`` s); the share seen last (iperf3 on 2 CPUs is moved by any other load, so each run
    starts on a quiet machine)."""
    start = time.perf_counter()
    busy = background_cpu()
    while busy > threshold and time.perf_counter() - start < limit:
        time.sleep(pause)
        busy = background_cpu()
    return busy


def _spread(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.mean(values), "median": statistics.median(values),
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0, "min": min(values), "max": max(values)}


def throughput_bench(lab: str, workdir: Path, seconds: int, runs: int, activity: Activity,
                     quiet_wait: float, pin: tuple[int, int] | None = None,
                     congestion: str | None = None) -> dict[str, Any]:
    """Deploy the small lab; iperf3 over the overlay (a -> b, h1 -> h2) and the bridge (c -> d), ``runs`` times.

    Both pairs get the same iperf3 options, the same pinning and the same congestion control (``-C``, a socket
    option: no sysctl is written); the verdict compares the medians.
    """
    topo = load_text(throughput_lab_text(lab))
    db = workdir / f"{lab}.db"
    started: list[int] = []
    overlay: list[dict[str, Any]] = []
    bridge: list[dict[str, Any]] = []
    vx_ns = overlay_netns(lab, "ov", "h1")
    reference = netns_slab_count()
    try:
        lab_up(lab, topo, db)
        ips = endpoint_ips(lab, db)
        mtu = {name: json.loads(run(["ip", "-n", sandbox_netns(lab, name), "-j", "link", "show", "eth0"]))[0]["mtu"]
               for name in ("a", "c")}
        default_cc = run(["ip", "netns", "exec", sandbox_netns(lab, "a"), "cat",
                          "/proc/sys/net/ipv4/tcp_congestion_control"]).strip()
        client_args = ("-C", congestion) if congestion else ()
        for rep in range(runs):
            activity.wait_quiet(quiet_wait)
            activity.sample(f"iperf3 run {rep + 1}")
            pairs = [("overlay", "a", "b", "ov"), ("bridge", "c", "d", "br")]
            for kind, src, dst, net in pairs if rep % 2 == 0 else pairs[::-1]:
                background = wait_cpu_quiet(quiet_wait)
                before, root_before = vxlan_tx_bytes(vx_ns), root_tx_bytes()
                result = iperf(sandbox_netns(lab, dst), sandbox_netns(lab, src), ips[(dst, net)], seconds, started,
                               client_args, pin)
                result["background_cpu"] = background
                result["vxlan_tx_bytes_h1"] = vxlan_tx_bytes(vx_ns) - before
                result["root_tx_bytes"] = root_tx_bytes() - root_before
                (overlay if kind == "overlay" else bridge).append(result)
                print(f"  iperf3 run {rep + 1}/{runs}, {kind} {src} -> {dst}: "
                      f"{result['bits_per_second'] / 1e9:.2f} Gbit/s (h1 VXLAN tx "
                      f"{result['vxlan_tx_bytes_h1'] / 1e6:.0f} MB; others used {background * 100:.0f}% CPU "
                      "just before)", flush=True)
    finally:
        safe_down(lab, db)
        settle(reference, SETTLE_TIMEOUT)
    overlay_stats = _spread([float(r["bits_per_second"]) for r in overlay])
    bridge_stats = _spread([float(r["bits_per_second"]) for r in bridge])
    through_vxlan = min(r["vxlan_tx_bytes_h1"] / max(r["bytes_received"], 1) for r in overlay)
    received = sum(r["bytes_received"] for r in overlay + bridge)
    root_sent = sum(r["root_tx_bytes"] for r in overlay + bridge)
    rounds = [o["bits_per_second"] / b["bits_per_second"] for o, b in zip(overlay, bridge, strict=True)]
    return {"seconds": seconds, "runs": runs, "overlay": overlay, "bridge": bridge,
            "overlay_bps": overlay_stats["median"], "bridge_bps": bridge_stats["median"],
            "overlay_stats": overlay_stats, "bridge_stats": bridge_stats,
            "ratio": overlay_stats["median"] / bridge_stats["median"],
            "ratio_of_means": overlay_stats["mean"] / bridge_stats["mean"],
            "ratio_best": overlay_stats["max"] / bridge_stats["max"],
            "ratio_per_round": rounds, "ratio_median": statistics.median(rounds),
            "congestion_control": congestion or default_cc, "pin": pin,
            "root_tx_bytes_during_runs": root_sent, "bytes_received": received,
            "stayed_in_lab": root_sent < 0.01 * received,
            "overlay_via_vxlan": through_vxlan >= 0.9, "vxlan_bytes_per_received_byte": through_vxlan,
            "bridge_vxlan_tx_bytes": max(r["vxlan_tx_bytes_h1"] for r in bridge),
            "mtu": {"overlay": mtu["a"], "bridge": mtu["c"]}, "pids_started": started}


# -- main ----------------------------------------------------------------------------------------------------------
def _interrupted(signum: int, frame: object) -> None:
    """SIGTERM / SIGINT (also when started in the background, where SIGINT is ignored): unwind, so every
    ``finally`` downs its lab and kills its iperf3 processes."""
    del frame
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="deploy: best of this many up/down cycles (default 3)")
    parser.add_argument("--iperf-time", type=int, default=3, help="seconds per iperf3 run (default 3)")
    parser.add_argument("--iperf-runs", type=int, default=6,
                        help="iperf3 rounds (overlay and bridge each), alternating which goes first; the verdict "
                             "compares the medians (default 6)")
    parser.add_argument("--cpu-quiet-wait", type=float, default=30.0, metavar="S",
                        help="before each iperf3 run wait up to S s for others to use under 20%% of the CPUs "
                             "(default 30)")
    parser.add_argument("--pin", metavar="C,S", type=parse_pin,
                        help="run every iperf3 client on CPU C and server on CPU S (taskset; the same for both "
                             "pairs; default: the scheduler decides)")
    parser.add_argument("--congestion", metavar="ALG", help="iperf3 -C ALG for both pairs (default: the lab "
                        "namespaces' default, which they inherit from the machine)")
    parser.add_argument("--quiet-wait", type=float, default=0.0, metavar="S",
                        help="before each measurement wait up to S s for other namespaces to go (default 0)")
    parser.add_argument("--no-profile", action="store_true", help="do not profile an up that misses its target")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    if not can_run("bench_overlay", ("ip", "nft", "nsenter", "unshare", "iperf3", "ss", "ping")):
        return 2
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    pid = os.getpid()
    deploy_lab, tput_lab, prof_lab = f"ovbench{pid}", f"ovtput{pid}", f"ovprof{pid}"
    prefixes = tuple(lab_prefix(lab) for lab in (deploy_lab, tput_lab, prof_lab))
    activity = Activity(prefixes)
    wall_start = time.perf_counter()
    root_before = RootState.capture()
    start_sample = activity.sample("start")
    print(f"bench_overlay: {HOSTS} hosts x {CONTAINERS // HOSTS} containers on {OVERLAYS} overlays, best of "
          f"{args.repeat}; iperf3 {args.iperf_time} s x {args.iperf_runs}; kernel {platform.release()}, "
          f"{os.cpu_count()} CPUs, load {start_sample['load1']:.2f}, CPU busy "
          f"{start_sample['background_cpu'] * 100:.0f}%, other namespaces {start_sample['foreign_namespaces']}; "
          f"pid {pid}", flush=True)
    text = overlay_lab_text(deploy_lab)
    parse_start = time.perf_counter()
    topo = load_text(text)
    parse = time.perf_counter() - parse_start
    for net in topo.networks:
        assert len(topo.network_hosts(net.name)) == HOSTS, f"{net.name} does not span every host"
    times: Times | None = None
    ping_failures: list[str] = []
    profile: dict[str, Any] | None = None
    tput: dict[str, Any] | None = None
    errors: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix=f"bench-overlay-{pid}-") as tmp:
            workdir = Path(tmp)
            try:
                times, ping_failures = deploy_bench(deploy_lab, topo, workdir, args.repeat, activity,
                                                    args.quiet_wait)
                if min(times.up) >= UP_TARGET and not args.no_profile:
                    print("  up missed its target: profiling one up", flush=True)
                    profile = profile_up(prof_lab, load_text(overlay_lab_text(prof_lab)), workdir)
            except Exception as exc:  # report it, go on to the throughput part
                errors.append(f"deploy: {type(exc).__name__}: {exc}")
                print(f"  DEPLOY FAILED: {exc}", file=sys.stderr, flush=True)
            try:
                tput = throughput_bench(tput_lab, workdir, args.iperf_time, args.iperf_runs, activity,
                                        args.cpu_quiet_wait, args.pin, args.congestion)
            except Exception as exc:  # report it
                errors.append(f"throughput: {type(exc).__name__}: {exc}")
                print(f"  THROUGHPUT FAILED: {exc}", file=sys.stderr, flush=True)
    finally:
        for prefix in prefixes:
            delete_namespaces(namespaces_with(prefix))
        left = [ns for prefix in prefixes for ns in namespaces_with(prefix)]
        changed = root_before.differences(RootState.capture())
        if changed:
            print("ROOT NAMESPACE CHANGED:\n" + "\n".join(changed), file=sys.stderr)
    wall = time.perf_counter() - wall_start
    verdicts = report(args, topo, parse, times, ping_failures, profile, tput, activity, errors, left, changed,
                      wall)
    ok = not errors and not left and not changed and not ping_failures
    return 0 if ok and all(v in ("MET", "MISSED") for v in verdicts.values()) else 1


def parse_pin(text: str) -> tuple[int, int]:
    """``"C,S"`` -> (client CPU, server CPU); argparse reports a bad value."""
    try:
        client, server = (int(cpu) for cpu in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--pin takes two CPU numbers 'C,S', not {text!r}") from None
    return client, server


def gbit(bps: float) -> str:
    return f"{bps / 1e9:.2f} Gbit/s"


def report(args: argparse.Namespace, topo: Topology, parse: float, times: Times | None, ping_failures: list[str],
           profile: dict[str, Any] | None, tput: dict[str, Any] | None, activity: Activity, errors: list[str],
           left: list[str], changed: list[str], wall: float) -> dict[str, str]:
    verdicts: dict[str, str] = {}
    deploy: dict[str, Any] | None = None
    print()
    head = f"{'measurement':<44}  {'figure':>14}  {'target':>14}  verdict"
    print(head)
    print("-" * len(head))
    if times is not None and times.up and times.down:
        deploy = {"containers": len(topo.sandboxes), "hosts": len(topo.hosts), "overlays": len(topo.networks),
                  "namespaces": expected_namespaces(topo), "parse_s": parse, "up_s": min(times.up),
                  "down_s": min(times.down), "runs": {"up": times.up, "down": times.down},
                  "kernel_teardown_wait_s": times.settle, "overlay_ping_failures": ping_failures}
        verdicts["up_under_2s"] = "MET" if deploy["up_s"] < UP_TARGET else "MISSED"
        verdicts["down_under_0.5s"] = "MET" if deploy["down_s"] < DOWN_TARGET else "MISSED"
        print(f"{'deploy up, 300 containers (best of ' + str(len(times.up)) + ')':<44}  "
              f"{deploy['up_s']:>12.3f} s  {'< 2 s':>14}  {verdicts['up_under_2s']}")
        print(f"{'deploy down, 300 containers (best of ' + str(len(times.down)) + ')':<44}  "
              f"{deploy['down_s']:>12.3f} s  {'< 0.5 s':>14}  {verdicts['down_under_0.5s']}")
    else:
        verdicts["up_under_2s"] = verdicts["down_under_0.5s"] = "NOT JUDGED (deploy failed)"
    if tput is not None:
        verdicts["overlay_at_least_80pct_of_bridge"] = "MET" if tput["ratio"] >= RATIO_TARGET else "MISSED"
        print(f"{'iperf3 overlay a (h1) -> b (h2), VXLAN, median':<44}  {gbit(tput['overlay_bps']):>14}  {'':>14}")
        print(f"{'iperf3 bridge c -> d (h1), median':<44}  {gbit(tput['bridge_bps']):>14}  {'':>14}")
        print(f"{'overlay / bridge (medians)':<44}  {tput['ratio'] * 100:>13.1f}%  {'>= 80%':>14}  "
              f"{verdicts['overlay_at_least_80pct_of_bridge']}")
    else:
        verdicts["overlay_at_least_80pct_of_bridge"] = "NOT JUDGED (throughput failed)"
    print()
    if deploy is not None:
        print(f"deploy lab: {deploy['hosts']} hosts, {deploy['containers']} containers, {deploy['overlays']} "
              f"overlays (/22), {deploy['namespaces']} namespaces; parse (load_text, not timed in up) "
              f"{parse * 1e3:.1f} ms")
        print("  all runs: up " + ", ".join(f"{t:.3f}" for t in deploy["runs"]["up"]) + " s; down "
              + ", ".join(f"{t:.3f}" for t in deploy["runs"]["down"]) + " s; untimed kernel teardown wait after "
              "down " + ", ".join(f"{t:.2f}" for t in deploy["kernel_teardown_wait_s"]) + " s")
        print("  overlay check after the first up (ping h1 -> h2 on every overlay): "
              + ("ok" if not ping_failures else "FAILED: " + "; ".join(ping_failures)))
    if tput is not None:
        pin = tput["pin"]
        print(f"throughput: iperf3 -t {tput['seconds']} -J, sum_received, {tput['runs']} rounds; congestion control "
              f"{tput['congestion_control']}; " + (f"client on CPU {pin[0]}, server on CPU {pin[1]}" if pin else
                                                  "not pinned") + f"; MTU overlay {tput['mtu']['overlay']}, bridge "
              f"{tput['mtu']['bridge']}")
        for kind in ("overlay", "bridge"):
            s = tput[f"{kind}_stats"]
            print(f"  {kind:<7} mean {gbit(s['mean'])}, sd {s['sd'] / 1e9:.2f}, median {gbit(s['median'])}, range "
                  f"{s['min'] / 1e9:.2f}-{s['max'] / 1e9:.2f} Gbit/s")
        for kind in ("overlay", "bridge"):
            for index, r in enumerate(tput[kind], 1):
                cpu = r["cpu_percent"] or {}
                print(f"  {kind:<7} round {index}: {gbit(r['bits_per_second']):>13}  retransmits "
                      f"{r['retransmits']:>5}  h1 VXLAN tx {r['vxlan_tx_bytes_h1'] / 1e6:>5.0f} MB for "
                      f"{r['bytes_received'] / 1e6:>5.0f} MB received; CPU client {cpu.get('host_total', 0):.0f}% "
                      f"server {cpu.get('remote_total', 0):.0f}%; others {r['background_cpu'] * 100:.0f}% before")
        print("  overlay / bridge per round: " + ", ".join(f"{r * 100:.1f}%" for r in tput["ratio_per_round"])
              + f" (median {tput['ratio_median'] * 100:.1f}%); ratio of means {tput['ratio_of_means'] * 100:.1f}%, "
              f"of bests {tput['ratio_best'] * 100:.1f}%; the verdict compares the medians")
        print("  traffic stayed inside the lab namespaces: " + ("yes" if tput["stayed_in_lab"] else "NO")
              + f" (root namespace links sent {tput['root_tx_bytes_during_runs'] / 1e3:.0f} kB during the runs, "
              f"iperf3 moved {tput['bytes_received'] / 1e9:.1f} GB)")
        print("  overlay traffic went through h1's VXLAN device: "
              + ("yes" if tput["overlay_via_vxlan"] else "NO")
              + f" ({tput['vxlan_bytes_per_received_byte']:.3f} VXLAN tx bytes per received byte)")
        print(f"  iperf3 processes started (all killed if running and reaped): {tput['pids_started']}")
    print()
    for key, label in (("up_under_2s", "deploy up < 2 s"), ("down_under_0.5s", "deploy down < 0.5 s"),
                       ("overlay_at_least_80pct_of_bridge", "overlay throughput >= 80% of bridge")):
        print(f"{label}: {verdicts[key]}")
    if profile is not None:
        print_profile(profile)
    for error in errors:
        print(f"ERROR {error}")
    print()
    busy = activity.busy()
    print(f"machine: {'BUSY' if busy else 'quiet'} ({activity.summary()})")
    print("leftovers: " + ("none of this run's namespaces left" if not left else f"LEFT {left}"))
    print("root namespace: " + ("ip -o link and nft list tables unchanged" if not changed
                                else "CHANGED:\n" + "\n".join(changed)))
    print(f"benchmark wall time: {wall:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "repeat": args.repeat, "deploy": deploy, "throughput": tput, "verdicts": verdicts,
            "targets": {"up_s": UP_TARGET, "down_s": DOWN_TARGET, "overlay_over_bridge": RATIO_TARGET},
            "profile": profile, "errors": errors, "machine_busy": busy, "activity": activity.samples,
            "leftover_namespaces": left, "root_namespace_changes": changed, "wall_s": wall,
            "environment": {"kernel": platform.release(), "python": platform.python_version(),
                            "cpus": os.cpu_count(), "iperf3": run(["iperf3", "--version"]).splitlines()[0]},
        }, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return verdicts


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as interrupt:
        print(f"bench_overlay interrupted ({interrupt}); its labs were brought down", file=sys.stderr)
        sys.exit(130)
