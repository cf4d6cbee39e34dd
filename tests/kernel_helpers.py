"""Helpers for kernel tests: labs with unique names, listeners in namespaces, leak checks."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netlab.loading import load_text
from netlab.model import Topology

_counter = itertools.count()

LISTENER = """
import socket, sys
proto, port = sys.argv[1], int(sys.argv[2])
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
print("ready", flush=True)
if proto == "tcp":
    s.listen(8)
    while True:
        conn, peer = s.accept()
        print(peer[0], flush=True)
        conn.sendall(b"netlab\\n")
        conn.close()
else:
    while True:
        data, peer = s.recvfrom(2048)
        print(peer[0], flush=True)
        s.sendto(b"netlab\\n", peer)
"""

CONNECT = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    print(c.recv(64).decode().strip())
except OSError as exc:
    print("error", exc)
    sys.exit(1)
"""


def unique_lab() -> str:
    return f"kt{os.getpid() % 100000}x{next(_counter)}"


def topology(text: str) -> Topology:
    """Load a scenario and give it a unique lab name (tests never clash with real labs)."""
    topo = load_text(text)
    topo.name = unique_lab()
    return topo


def lab_namespaces(lab: str) -> list[str]:
    run = Path("/run/netns")
    return sorted(p.name for p in run.iterdir() if p.name.startswith(f"nl-{lab}-")) if run.exists() else []


@contextmanager
def listener(ns: str, port: int, proto: str = "tcp") -> Iterator[subprocess.Popen[str]]:
    """A small server in namespace ``ns``; each peer's address is printed on its stdout."""
    proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{ns}", sys.executable, "-c", LISTENER, proto, str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "ready", f"listener in {ns} did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        yield proc
    finally:
        proc.kill()
        proc.communicate(timeout=10)  # reaps it and closes its pipes


def connect(ns: str, address: str, port: int, timeout: float = 2.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net=/run/netns/{ns}", sys.executable, "-c", CONNECT, address, str(port),
                           str(timeout)], capture_output=True, text=True, check=False, timeout=timeout + 20)


def peer_seen(proc: subprocess.Popen[str], wait: float = 3.0) -> str:
    """The next peer address the listener printed."""
    assert proc.stdout is not None
    deadline = time.monotonic() + wait
    line = proc.stdout.readline().strip()
    assert time.monotonic() <= deadline + 5
    return line


def ping(ns: str, address: str, count: int = 1, extra: tuple[str, ...] = ()) -> bool:
    result = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "ping", "-n", "-q", "-c", str(count), "-W", "1",
                             *extra, address], capture_output=True, text=True, check=False, timeout=30)
    return result.returncode == 0
