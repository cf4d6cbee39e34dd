"""Benchmark: deploy and tear down a one-host bridge lab of N containers, netlab against plain scripts and Mininet.

The lab: one host, one bridge network with a /16 subnet, N containers on it
(N = 10, 100, 500 by default). What netlab makes for it (``netlab/lab.py``):
an underlay namespace with bridge ``ul``, an internet namespace, the host
namespace (uplink veth ``eth0``, address, default route, ``ip_forward``), the
bridge ``br-net`` with the gateway address in it, per container a namespace
with ``lo`` up and a veth ``eth0`` (peer ``ve-c<i>-0`` on the bridge) with
address, MAC and default route, and the host's nft ruleset. Measured for each
N, in the same run, best of ``--repeat``:

1. **netlab**, through the Python API: ``load_text`` of a generated scenario
   (timed apart, as "parse"), then ``Controller(lab, KernelBackend(),
   SqliteStore(<temp dir>)).up(topo)`` and, with a fresh backend and controller
   on the same store, ``.down()``. Each phase includes opening the store and
   closing the backend, as two ``netlab`` commands would (not the interpreter
   start). Afterwards no namespace of the lab may be left.
2. **ip per command**: a generated bash script with one ``ip`` process per step
   building the very same objects (``benchmarks/baseline_scripts.py``);
   down is ``ip netns del`` per namespace, as netlab's down.
3. **ip -batch**: the same work with one ``ip -batch`` of ``netns add`` lines,
   then one ``ip -n NS -batch FILE`` per namespace; down is one ``ip -batch``
   of ``netns del`` lines.
4. **Mininet** ``mn --switch lxbr --controller none --topo single,N --test none``
   (start + stop), only if ``mn`` is installed; a size whose run is expected to
   take more than ``--mininet-limit`` seconds (60; linear extrapolation from
   the largest size already run) is skipped.

Both scripts also apply the same nft ruleset and ``ip_forward`` in the host
namespace, so the three deployments are the same work object for object;
before timing, a parity check deploys a small lab all three ways and compares
what the kernel reports (links with kind/state/MTU/master, container MACs,
addresses, routes, ``ip_forward``, nft ruleset) namespace by namespace.
A deleted namespace is torn down by the kernel asynchronously (a kernel
worker, up to about a second for 500 containers here); between measurements
the benchmark waits, untimed, until no such teardown runs and the
``net_namespace`` slab count is back where it was (see :func:`settle`), so one
method's teardown does not slow the next. The wait is reported; it is the
same kernel work for every method and is in nobody's "down" figure.

Safety: nothing is created in the machine's own network namespace by netlab
or the scripts; all names carry this process's PID (``nl-bench<pid>-...``,
``bench-<pid>-...``) and whatever is left of them is deleted in ``finally``.
Mininet creates its switch ``s1`` and the ``s1-ethN`` links in the root
namespace by design, and raises global sysctls (``fixLimits``) that it never
restores: the benchmark saves and restores those sysctls and deletes Mininet's
own links if any remain. Never run ``mn -c``. (``mn`` itself runs its cleanup,
which is ``mn -c``, if it fails with an exception: compare with Mininet on a
machine where that is acceptable.) At the end the root namespace's
``ip -o link`` and ``nft list tables`` are compared with what they were at the
start.

Targets: netlab up+down no slower than the ``ip -batch`` script; at least 10x
faster than Mininet at 100 containers; per-container cost flat from 10 to 500
(judged as: total/N at the largest size within 1.5x of total/N at 100; at 10
containers the fixed part, three fabric namespaces and the ruleset,
dominates). ``--profile N`` (default 100, 0 = off) runs one extra netlab up
under cProfile, all threads, and prints where the time goes.

Run as root from the project root (about 1.5 minutes with the defaults, without Mininet)::

    sudo .venv/bin/python benchmarks/bench_deploy.py [--sizes 10 100 500] [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from baseline_scripts import BaselineLab, Scripts, plan, write_scripts

from netlab.backends import Snapshot
from netlab.backends.kernel import KernelBackend
from netlab.controller import Controller
from netlab.loading import load_text
from netlab.model import Topology
from netlab.store import SqliteStore

NETNS_DIR = Path("/run/netns")
SUBNET = "10.200.0.0/16"
PARITY_SIZE = 4
FLAT_LIMIT = 1.5
SETTLE_TIMEOUT = 60.0
#: what Mininet's fixLimits() may raise (mininet/util.py); saved before and restored after every mn run
MININET_SYSCTLS = (
    "fs.file-max", "net.core.wmem_max", "net.core.rmem_max", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
    "net.core.netdev_max_backlog", "net.ipv4.neigh.default.gc_thresh1", "net.ipv4.neigh.default.gc_thresh2",
    "net.ipv4.neigh.default.gc_thresh3", "net.ipv4.route.max_size", "kernel.pty.max",
)
MININET_LINK = re.compile(r"^(s1|s1-eth\d+|h\d+-eth\d+)$")
MININET_MISSING = "Mininet: not installed (apt-get install mininet to compare)"


# -- helpers -------------------------------------------------------------------------------------------------------
def scenario_text(lab: str, containers: int) -> str:
    """One host, one bridge network with a /16 subnet, ``containers`` containers on it."""
    lines = [f"name: {lab}", "hosts:", "  h1: {}", "networks:", "  net:", "    driver: bridge",
             f"    subnet: {SUBNET}", "containers:"]
    lines += [f"  c{i}: {{networks: [net]}}" for i in range(containers)]
    return "\n".join(lines) + "\n"


def namespaces_with(prefix: str) -> list[str]:
    try:
        return sorted(name for name in os.listdir(NETNS_DIR) if name.startswith(prefix))
    except FileNotFoundError:
        return []


def run(argv: Sequence[str], timeout: float = 600.0) -> str:
    """Run ``argv``; its stdout, or RuntimeError with its stderr."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def delete_namespaces(names: Sequence[str]) -> None:
    """``ip netns del`` each of ``names`` that exists (only ever called with names this process made)."""
    for name in names:
        if (NETNS_DIR / name).exists():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def netns_slab_count() -> int | None:
    """Allocated ``struct net`` objects (from /proc/slabinfo), None if the cache is not listed."""
    try:
        with open("/proc/slabinfo") as slabinfo:
            for line in slabinfo:
                if line.startswith("net_namespace "):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _netns_work_running() -> bool:
    """True while a kernel worker runs the netns workqueue (its comm then reads ``kworker/...+netns``)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                comm = Path(f"/proc/{entry}/comm").read_text()
            except OSError:
                continue
            if comm.startswith("kworker") and "+netns" in comm:
                return True
    return False


def settle(reference: int | None, timeout: float = SETTLE_TIMEOUT) -> float:
    """Wait (untimed) until the kernel has torn down the namespaces deleted last; seconds waited.

    Deleting a namespace only queues its teardown (devices, routes, rules) on
    the kernel's netns workqueue, which then runs for up to seconds. A teardown
    round frees the ``struct net`` of the *previous* round
    (``net_complete_free``), so the slab count of the last round stays up until
    another namespace dies: while it is above ``reference`` and no teardown is
    running, an empty namespace is made and dropped (``unshare --net true``,
    never the machine's own) to start the next round. When five such kicks free
    nothing, what is left belongs to someone else.
    """
    start = time.perf_counter()
    if reference is None:
        time.sleep(0.5)
        return time.perf_counter() - start
    last: int | None = None
    idle = 0
    while time.perf_counter() - start < timeout:
        count = netns_slab_count()
        if count is None or count <= reference + 8:  # one slab (7 objects) + the kick's own namespace
            break
        if _netns_work_running():
            idle = 0
            time.sleep(0.05)
            continue
        idle = idle + 1 if last is not None and count >= last else 0
        if idle >= 5:
            break
        last = count
        subprocess.run(["unshare", "--net", "true"], check=True)
        time.sleep(0.1)
    else:
        print(f"  (warning: namespace teardown still running after {timeout:.0f} s; going on)", flush=True)
    return time.perf_counter() - start


# -- root namespace guard -------------------------------------------------------------------------------------------
@dataclass
class RootState:
    links: str
    tables: str
    sysctls: dict[str, str]

    @classmethod
    def capture(cls) -> RootState:
        return cls(run(["ip", "-o", "link"]), run(["nft", "list", "tables"]), read_sysctls(MININET_SYSCTLS))

    def differences(self, other: RootState) -> list[str]:
        out = []
        if self.links != other.links:
            out.append(f"ip -o link changed:\n--- before\n{self.links}--- after\n{other.links}")
        if self.tables != other.tables:
            out.append(f"nft list tables changed: {self.tables!r} -> {other.tables!r}")
        for key, value in self.sysctls.items():
            if other.sysctls.get(key) != value:
                out.append(f"sysctl {key} changed: {value!r} -> {other.sysctls.get(key)!r}")
        return out


def _sysctl_path(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def read_sysctls(keys: Sequence[str]) -> dict[str, str]:
    """Values of the root namespace's sysctls ``keys`` (those that exist)."""
    values = {}
    for key in keys:
        try:
            values[key] = _sysctl_path(key).read_text().strip()
        except OSError:
            continue
    return values


def restore_sysctls(saved: dict[str, str]) -> None:
    for key, value in saved.items():
        try:
            if _sysctl_path(key).read_text().strip() != value:
                _sysctl_path(key).write_text(value)
        except OSError as exc:
            print(f"  (warning: could not restore sysctl {key}={value}: {exc})", flush=True)


# -- the methods ---------------------------------------------------------------------------------------------------
@dataclass
class Times:
    up: list[float] = field(default_factory=list)
    down: list[float] = field(default_factory=list)

    def add(self, up: float, down: float) -> None:
        self.up.append(up)
        self.down.append(down)

    def best(self) -> dict[str, float]:
        return {"up": min(self.up), "down": min(self.down),
                "total": min(u + d for u, d in zip(self.up, self.down, strict=True))}


def lab_up(lab: str, topo: Topology, db: Path) -> float:
    """``up`` with its own store + backend + controller (as one ``netlab up`` command); seconds."""
    start = time.perf_counter()
    store = SqliteStore(db)
    backend = KernelBackend()
    try:
        Controller(lab, backend, store).up(topo)
    finally:
        backend.close()
        store.close()
    return time.perf_counter() - start


def lab_down(lab: str, db: Path) -> float:
    """``down`` with its own store + backend + controller; seconds."""
    start = time.perf_counter()
    store = SqliteStore(db)
    backend = KernelBackend()
    try:
        Controller(lab, backend, store).down()
    finally:
        backend.close()
        store.close()
    return time.perf_counter() - start


def netlab_cycle(lab: str, topo: Topology, state_dir: Path, containers: int,
                 up_hook: Callable[[], Any] | None = None) -> tuple[float, float]:
    """netlab up then down (each as its own store + backend + controller); (up s, down s)."""
    prefix = f"nl-{lab}-"
    db = state_dir / f"{lab}.db"
    up = lab_up(lab, topo, db)
    if up_hook is not None:
        up_hook()
    made = namespaces_with(prefix)
    if len(made) != containers + 3:
        raise RuntimeError(f"netlab up made {len(made)} namespaces, expected {containers + 3}")
    down = lab_down(lab, db)
    left = namespaces_with(prefix)
    if left:
        raise RuntimeError(f"netlab down left {len(left)} namespaces of the lab: {left[:5]}")
    for path in state_dir.glob(f"{lab}.db*"):
        path.unlink()
    return up, down


def script_cycle(up_script: Path, down_script: Path, lab: BaselineLab) -> tuple[float, float]:
    """bash up script, then bash down script; (up s, down s)."""
    start = time.perf_counter()
    run(["bash", str(up_script)])
    up = time.perf_counter() - start
    made = namespaces_with(lab.prefix)
    if len(made) != len(lab.namespaces):
        raise RuntimeError(f"{up_script.name} made {len(made)} namespaces, expected {len(lab.namespaces)}")
    start = time.perf_counter()
    run(["bash", str(down_script)])
    down = time.perf_counter() - start
    left = namespaces_with(lab.prefix)
    if left:
        raise RuntimeError(f"{down_script.name} left namespaces: {left[:5]}")
    return up, down


def _descendants(pid: int) -> list[int]:
    """PIDs of the processes below ``pid`` (children first found via /proc/PID/task/*/children)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.append(child)
                    todo.append(child)
    return found


def mininet_cycle(size: int, timeout: float) -> float:
    """``mn`` start + stop, with its sysctls restored and its own leftover links deleted; seconds."""
    before = {line.split(":")[1].strip().split("@")[0] for line in run(["ip", "-o", "link"]).splitlines()}
    saved = read_sysctls(MININET_SYSCTLS)
    argv = ["mn", "--switch", "lxbr", "--controller", "none", "--topo", f"single,{size}", "--test", "none"]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        elapsed = time.perf_counter() - start
    except subprocess.TimeoutExpired:
        # SIGKILL, not SIGINT: on KeyboardInterrupt mn runs its machine-wide cleanup (mn -c). Only mn and the
        # processes below it (all started by this run), deepest first so that each parent can still reap.
        for pid in [*reversed(_descendants(proc.pid)), proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            time.sleep(0.05)
        proc.communicate()
        raise
    finally:
        restore_sysctls(saved)
        after = {line.split(":")[1].strip().split("@")[0] for line in run(["ip", "-o", "link"]).splitlines()}
        for name in sorted(after - before):
            if MININET_LINK.match(name):
                subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"mn failed ({proc.returncode}): {output.strip()[-2000:]}")
    return elapsed


# -- parity check --------------------------------------------------------------------------------------------------
def _roles(snapshot: Snapshot, underlay: str, internet: str, host: str, container_prefix: str) -> dict[str, Any]:
    """The snapshot keyed by role (underlay, internet, host, c0, ...), as comparable plain data."""
    out: dict[str, Any] = {}
    for ns, state in snapshot.items():
        role = {underlay: "underlay", internet: "internet", host: "host"}.get(ns) or ns[len(container_prefix):]
        links = sorted((link.name, link.kind, link.up, link.mtu, link.master,
                        link.mac if role.startswith("c") else None) for link in state.links.values())
        out[role] = {"links": links, "addresses": sorted(state.addresses), "routes": sorted(state.routes),
                     "sysctls": state.sysctls, "ruleset": state.ruleset}
    return out


def _snapshot(names: Sequence[str]) -> Snapshot:
    backend = KernelBackend()
    try:
        return backend.snapshot(names)
    finally:
        backend.close()  # an open socket would keep a deleted namespace alive


def parity_check(pid: int, workdir: Path) -> list[str]:
    """Deploy a small lab with netlab and both scripts; the differences in what the kernel reports."""
    lab = f"bench{pid}p"
    prefix = f"nl-{lab}-"
    states: dict[str, Any] = {}

    def grab() -> None:
        names = namespaces_with(prefix)
        states["netlab"] = _roles(_snapshot(names), f"{prefix}underlay", f"{prefix}internet", f"{prefix}h-h1",
                                  f"{prefix}s-")

    netlab_cycle(lab, load_text(scenario_text(lab, PARITY_SIZE)), workdir, PARITY_SIZE, up_hook=grab)
    base = plan(f"bench-{pid}-p-", PARITY_SIZE, SUBNET)
    scripts = write_scripts(base, workdir / "parity")
    for method, up_script, down_script in (("ip per command", scripts.command_up, scripts.command_down),
                                           ("ip -batch", scripts.batch_up, scripts.batch_down)):
        run(["bash", str(up_script)])
        try:
            states[method] = _roles(_snapshot(base.namespaces), base.underlay, base.internet, base.host,
                                    f"{base.prefix}")
        finally:
            run(["bash", str(down_script)])
    problems = []
    for method in ("ip per command", "ip -batch"):
        for role in sorted(set(states["netlab"]) | set(states[method])):
            ours, theirs = states["netlab"].get(role), states[method].get(role)
            if ours != theirs:
                problems.append(f"{method}, namespace {role}: netlab {ours!r}\n    script {theirs!r}")
    return problems


# -- profile -------------------------------------------------------------------------------------------------------
@contextmanager
def profile_all_threads() -> Iterator[list[tuple[str, cProfile.Profile]]]:
    """cProfile the calling thread and every thread started meanwhile, each its own (thread name, Profile)."""
    profiles = [("main", cProfile.Profile())]
    lock = threading.Lock()

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        sys.setprofile(None)
        prof = cProfile.Profile()
        with lock:
            profiles.append((threading.current_thread().name, prof))
        prof.enable()

    threading.setprofile(hook)
    profiles[0][1].enable()
    try:
        yield profiles
    finally:
        profiles[0][1].disable()
        threading.setprofile(None)


#: pure waits on another thread: left out of the "own time" lists (the other thread's profile shows the work)
WAITS = ("<method 'acquire' of '_thread.lock' objects>", "<method 'get' of '_queue.SimpleQueue' objects>")
#: (file suffix, function): the stages of netlab up, by cumulative time (missing ones are skipped)
STAGES = (
    ("netlab/controller.py", "up", "Controller.up, in all"),
    ("netlab/validation.py", "validate", "  validate"),
    ("netlab/controller.py", "_addresses", "  allocate addresses"),
    ("netlab/lab.py", "desired_objects", "  plan the object groups"),
    ("netlab/controller.py", "_reconcile", "  reconcile (store + kernel)"),
    ("netlab/store/sqlite.py", "begin", "    store: begin (1 transaction per group)"),
    ("netlab/store/sqlite.py", "done", "    store: done (1 transaction per group)"),
    ("<string>", "__eq__", "    dataclass __eq__ (from `obj not in todo`)"),
    ("netlab/backends/kernel.py", "apply", "    KernelBackend.apply (main thread, waiting for the worker)"),
    ("netlab/backends/kernel.py", "_create_namespaces", "      worker: create namespaces (thread per run)"),
    ("netlab/backends/kernel.py", "_create_veth", "      worker: create veth"),
    ("netlab/backends/kernel.py", "_index", "      worker: link get (ifindex lookups)"),
    ("netlab/backends/kernel.py", "_add_address", "      worker: add address"),
    ("netlab/backends/kernel.py", "_add_route", "      worker: add route"),
    ("netlab/backends/kernel.py", "_nft", "      worker: nft ruleset (subprocess)"),
    ("netlab/backends/netns.py", "run", "      worker: nsenter subprocess (nft ruleset)"),
    ("netlab/backends/netns.py", "write_sysctl", "      worker: write sysctl (setns thread)"),
    ("~", "<method 'send' of '_socket.socket' objects>", "      netlink send (the kernel doing the work)"),
)


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    short = filename.split("/site-packages/")[-1].split("/work/main/")[-1].split("/lib/python3")[-1]
    return f"{short}:{line}({name})"


def _rows(stats: pstats.Stats) -> list[dict[str, Any]]:
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    return [{"function": _where(func), "key": func, "calls": nc, "tottime": tt, "cumtime": ct}
            for func, (_, nc, tt, ct, _) in raw.items()]


def summarize_profiles(profiles: list[tuple[str, Any]], stages_wanted: Any, top: int) -> dict[str, Any]:
    """Per-stage cumulative times (``stages_wanted``: (module suffix, function, label)) and the top own-time
    functions per thread group, from :func:`profile_all_threads` output."""
    groups: dict[str, pstats.Stats] = {}
    for name, prof in profiles:
        group = "main thread" if name == "main" else re.sub(r"[-_]\d+$", "", name.split(" ")[0])
        group = group if group in ("main thread", "netlab-netlink") else "other threads (namespace/setns helpers)"
        if group in groups:
            groups[group].add(prof)
        else:
            groups[group] = pstats.Stats(prof)
    merged = pstats.Stats(profiles[0][1])
    for _, prof in profiles[1:]:
        merged.add(prof)
    by_key = {row["key"]: row for row in _rows(merged)}
    stages = []
    for suffix, name, label in stages_wanted:
        hits = [row for key, row in by_key.items() if key[2] == name and key[0].endswith(suffix)]
        if hits:
            stages.append({"stage": label.strip(), "label": label, "calls": sum(r["calls"] for r in hits),
                           "cumtime": sum(r["cumtime"] for r in hits)})
    threads = {}
    for group, stats in groups.items():
        rows = [r for r in _rows(stats) if r["function"] not in WAITS]
        threads[group] = [{k: v for k, v in r.items() if k != "key"}
                          for r in sorted(rows, key=lambda r: float(r["tottime"]), reverse=True)[:top]]
    return {"threads": len(profiles), "stages": stages, "by_thread": threads}


def profile_up(pid: int, size: int, workdir: Path, top: int = 12) -> dict[str, Any]:
    """One netlab up of ``size`` containers under cProfile (every thread); where the time goes."""
    lab = f"bench{pid}f"
    topo = load_text(scenario_text(lab, size))
    db = workdir / f"{lab}.db"
    reference = netns_slab_count()
    with profile_all_threads() as profiles:
        wall = lab_up(lab, topo, db)
    lab_down(lab, db)
    settle(reference)
    return {"size": size, "wall": wall, **summarize_profiles(profiles, STAGES, top)}


def print_profile(prof: dict[str, Any]) -> None:
    print(f"\ncProfile of netlab up, {prof['size']} containers: {prof['wall']:.3f} s under the profiler "
          f"({prof['threads']} threads profiled; the profiler inflates Python-heavy parts)")
    print("  stages (cumulative time; indented = part of the line above):")
    for stage in prof["stages"]:
        print(f"    {stage['cumtime']:7.3f} s  {stage['calls']:>7}x  {stage['label']}")
    for group, rows in prof["by_thread"].items():
        print(f"  top own time, {group} (waits on other threads left out):")
        for row in rows:
            print(f"    {row['tottime']:7.3f} s own  {row['cumtime']:7.3f} s cum  {row['calls']:>7}x  "
                  f"{row['function']}")


# -- main ----------------------------------------------------------------------------------------------------------
def fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if unit == "s" else f"{value:.2f}x"


def can_run(name: str, tools: Sequence[str]) -> bool:
    """Root, every tool on PATH, and a working kernel backend; otherwise say which is missing (on stderr)."""
    if os.geteuid() != 0:
        print(f"{name} needs root (network namespaces)", file=sys.stderr)
        return False
    for tool in tools:
        if shutil.which(tool) is None:
            print(f"{name} needs {tool!r}", file=sys.stderr)
            return False
    reason = KernelBackend.probe()
    if reason is not None:
        print(f"kernel backend unavailable: {reason}", file=sys.stderr)
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--profile", type=int, default=100, metavar="N",
                        help="cProfile one netlab up of N containers (default 100; 0 = off)")
    parser.add_argument("--mininet-limit", type=float, default=60.0,
                        help="skip Mininet for a size expected to take longer than this (seconds; default 60)")
    parser.add_argument("--no-parity", action="store_true", help="skip the parity check")
    args = parser.parse_args()
    if not can_run("bench_deploy", ("ip", "bash", "nft", "nsenter", "unshare")):
        return 2
    sizes = sorted(set(args.sizes))
    pid = os.getpid()
    wall_start = time.perf_counter()
    mininet = shutil.which("mn") is not None
    root_before = RootState.capture()
    results: list[dict[str, Any]] = []
    parity: list[str] | None = None
    profile: dict[str, Any] | None = None
    mininet_notes: list[str] = []
    print(f"bench_deploy: sizes {sizes}, best of {args.repeat}; kernel {platform.release()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; pid {pid}", flush=True)
    if not mininet:
        print(MININET_MISSING, flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix=f"bench-deploy-{pid}-") as tmp:
            workdir = Path(tmp)
            if not args.no_parity:
                parity = parity_check(pid, workdir)
                if parity:
                    print("PARITY CHECK FAILED: the scripts do not build what netlab builds:")
                    for problem in parity:
                        print("  " + problem)
                    return 1
                print(f"parity: netlab, ip per command and ip -batch build the same objects ({PARITY_SIZE} "
                      "containers: links, MACs, addresses, routes, ip_forward, nft ruleset)", flush=True)
            mininet_last: tuple[int, float] | None = None
            for size in sizes:
                lab = f"bench{pid}"
                text = scenario_text(lab, size)
                parse = min(_timed(load_text, text) for _ in range(args.repeat))
                topo = load_text(text)
                base = plan(f"bench-{pid}-", size, SUBNET)
                scripts: Scripts = write_scripts(base, workdir / f"n{size}")
                times = {"netlab": Times(), "ip per command": Times(), "ip -batch": Times()}
                mininet_times: list[float] = []
                settled: dict[str, list[float]] = {"netlab": [], "ip per command": [], "ip -batch": [],
                                                   "mininet": []}
                skip_mininet = None
                if mininet and mininet_last is not None:
                    estimate = mininet_last[1] * size / mininet_last[0]
                    if estimate > args.mininet_limit:
                        skip_mininet = (f"Mininet skipped at N={size}: expected ~{estimate:.0f} s per run "
                                        f"(> {args.mininet_limit:.0f} s)")
                        mininet_notes.append(skip_mininet)
                        print(skip_mininet, flush=True)
                for rep in range(args.repeat):
                    reference = netns_slab_count()
                    times["netlab"].add(*netlab_cycle(lab, topo, workdir, size))
                    settled["netlab"].append(settle(reference))
                    times["ip per command"].add(*script_cycle(scripts.command_up, scripts.command_down, base))
                    settled["ip per command"].append(settle(reference))
                    times["ip -batch"].add(*script_cycle(scripts.batch_up, scripts.batch_down, base))
                    settled["ip -batch"].append(settle(reference))
                    if mininet and skip_mininet is None:
                        mininet_times.append(mininet_cycle(size, timeout=max(120.0, 2 * args.mininet_limit)))
                        settled["mininet"].append(settle(reference))
                    print(f"  N={size} run {rep + 1}/{args.repeat}: "
                          + ", ".join(f"{name} {t.up[-1] + t.down[-1]:.3f} s" for name, t in times.items())
                          + (f", mininet {mininet_times[-1]:.3f} s" if mininet_times else ""), flush=True)
                if mininet_times:
                    mininet_last = (size, min(mininet_times))
                best = {name: t.best() for name, t in times.items()}
                net_total = best["netlab"]["total"]
                mn_total = min(mininet_times) if mininet_times else None
                results.append({
                    "containers": size, "parse": parse,
                    "netlab": best["netlab"], "ip_per_command": best["ip per command"], "ip_batch": best["ip -batch"],
                    "mininet": {"total": mn_total} if mn_total is not None else None,
                    "runs": {name: asdict(t) for name, t in times.items()} | {"mininet": mininet_times},
                    "ratio_ip_batch_over_netlab": best["ip -batch"]["total"] / net_total,
                    "ratio_mininet_over_netlab": mn_total / net_total if mn_total is not None else None,
                    "netlab_ms_per_container": net_total / size * 1e3,
                    "ip_batch_ms_per_container": best["ip -batch"]["total"] / size * 1e3,
                    "kernel_teardown_wait_s": {name: max(v) for name, v in settled.items() if v},
                })
            if args.profile:
                profile = profile_up(pid, args.profile, workdir)
    finally:
        for prefix in (f"nl-bench{pid}-", f"nl-bench{pid}p-", f"nl-bench{pid}f-", f"bench-{pid}-"):
            delete_namespaces(namespaces_with(prefix))
        changed = root_before.differences(RootState.capture())
        if changed:
            print("ROOT NAMESPACE CHANGED:\n" + "\n".join(changed), file=sys.stderr)
    wall = time.perf_counter() - wall_start
    report(results, args, mininet, mininet_notes, profile, parity, changed, wall)
    return 0 if not changed else 1


def _timed(work: Callable[..., Any], *args: Any) -> float:
    start = time.perf_counter()
    work(*args)
    return time.perf_counter() - start


def report(results: list[dict[str, Any]], args: argparse.Namespace, mininet: bool, mininet_notes: list[str],
           profile: dict[str, Any] | None, parity: list[str] | None, changed: list[str], wall: float) -> None:
    print()
    head = (f"{'N':>5}  {'netlab up':>9}  {'down':>6}  {'total':>6}  {'ip/cmd':>7}  {'ip-batch':>8}  "
            f"{'mininet':>7}  {'batch/netlab':>12}  {'mn/netlab':>9}  {'netlab ms/ctr':>13}")
    print(head)
    print("-" * len(head))
    for r in results:
        mn = r["mininet"]["total"] if r["mininet"] else None
        print(f"{r['containers']:>5}  {r['netlab']['up']:>9.3f}  {r['netlab']['down']:>6.3f}  "
              f"{r['netlab']['total']:>6.3f}  {r['ip_per_command']['total']:>7.3f}  {r['ip_batch']['total']:>8.3f}  "
              f"{fmt(mn):>7}  {fmt(r['ratio_ip_batch_over_netlab'], 'x'):>12}  "
              f"{fmt(r['ratio_mininet_over_netlab'], 'x'):>9}  {r['netlab_ms_per_container']:>13.2f}")
    print("(seconds, best of {}; ratios > 1 mean netlab is faster; parse = load_text, not in netlab's figures: {})"
          .format(args.repeat, ", ".join(f"N={r['containers']} {r['parse'] * 1e3:.1f} ms" for r in results)))
    print("up / down of the scripts: " + "; ".join(
        f"N={r['containers']} ip/cmd {r['ip_per_command']['up']:.3f}/{r['ip_per_command']['down']:.3f}, "
        f"ip-batch {r['ip_batch']['up']:.3f}/{r['ip_batch']['down']:.3f}" for r in results))
    print("untimed wait for the kernel's asynchronous namespace teardown after each down (max): " + "; ".join(
        f"N={r['containers']} " + ", ".join(f"{k} {v:.2f} s" for k, v in r["kernel_teardown_wait_s"].items())
        for r in results))
    marginal = [(b["netlab"]["total"] - a["netlab"]["total"]) / (b["containers"] - a["containers"]) * 1e3
                for a, b in zip(results, results[1:], strict=False)]
    if marginal:
        print("netlab marginal cost per added container (ms): " + ", ".join(f"{m:.2f}" for m in marginal))
    print("ip-batch per container (ms), for comparison (the kernel's own growth): " + ", ".join(
        f"N={r['containers']} {r['ip_batch_ms_per_container']:.2f}" for r in results))
    for note in mininet_notes:
        print(note)
    if not mininet:
        print(MININET_MISSING)
    verdicts: dict[str, str] = {}
    print()
    slower = [r["containers"] for r in results if r["netlab"]["total"] > r["ip_batch"]["total"]]
    verdicts["no_slower_than_ip_batch"] = "MISSED" if slower else "MET"
    ratios = ", ".join(f"N={r['containers']} {fmt(r['ratio_ip_batch_over_netlab'], 'x')}" for r in results)
    print(f"netlab up+down no slower than the ip -batch script: {verdicts['no_slower_than_ip_batch']} "
          f"(ip-batch/netlab {ratios}" + (f"; slower at N={', '.join(map(str, slower))})" if slower else ")"))
    at100 = next((r for r in results if r["containers"] == 100), None)
    if at100 is None or at100["ratio_mininet_over_netlab"] is None:
        why = "N=100 not measured" if at100 is None else "Mininet did not run"
        verdicts["10x_faster_than_mininet_at_100"] = f"NOT JUDGED ({why})"
        print(f"at least 10x faster than Mininet at 100 containers: not judged ({why})")
    else:
        ratio = at100["ratio_mininet_over_netlab"]
        verdicts["10x_faster_than_mininet_at_100"] = "MET" if ratio >= 10 else "MISSED"
        print(f"at least 10x faster than Mininet at 100 containers: {verdicts['10x_faster_than_mininet_at_100']} "
              f"({ratio:.1f}x)")
    largest = results[-1] if results else None
    if at100 is None or largest is None or largest["containers"] <= 100:
        verdicts["per_container_flat"] = "NOT JUDGED (needs N=100 and a larger size)"
        print("per-container cost flat: not judged (needs N=100 and a larger size)")
    else:
        growth = largest["netlab_ms_per_container"] / at100["netlab_ms_per_container"]
        verdicts["per_container_flat"] = "MET" if growth <= FLAT_LIMIT else "MISSED"
        print(f"per-container cost flat from {results[0]['containers']} to {largest['containers']}: "
              f"{verdicts['per_container_flat']} (judged as total/N at {largest['containers']} within "
              f"{FLAT_LIMIT}x of total/N at 100: {largest['netlab_ms_per_container']:.2f} vs "
              f"{at100['netlab_ms_per_container']:.2f} ms, {growth:.2f}x; "
              + ", ".join(f"N={r['containers']} {r['netlab_ms_per_container']:.2f} ms" for r in results) + ")")
    if profile is not None:
        print_profile(profile)
    print()
    print("root namespace: " + ("ip -o link, nft list tables and Mininet's sysctls unchanged" if not changed
                                else "CHANGED:\n" + "\n".join(changed)))
    print(f"benchmark wall time: {wall:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "sizes": [r["containers"] for r in results], "repeat": args.repeat, "results": results,
            "verdicts": verdicts, "mininet_installed": mininet, "mininet_notes": mininet_notes,
            "parity_problems": parity, "profile": profile, "root_namespace_changes": changed,
            "wall_s": wall, "environment": {"kernel": platform.release(), "python": platform.python_version(),
                                            "cpus": os.cpu_count(), "ip": run(["ip", "-V"]).strip()},
        }, indent=2) + "\n")
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
