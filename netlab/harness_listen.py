"""Small TCP/UDP servers and clients inside lab namespaces, in this process (threads, no subprocess).

A listener's socket is created by a thread that joined the destination
namespace and stays there; a thread of this process serves it. It answers every
TCP connection, or every UDP datagram, with a token naming the run and the
namespace, so a client knows the answer came from *this* listener (and not
from something else listening on that port, or another namespace behind NAT).
:func:`serving` closes the socket and joins the thread on exit, even when the
body raises: nothing is left behind.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from netlab.backends.netns import run_in_namespace

__all__ = ["serving", "try_connect"]

logger = logging.getLogger(__name__)

_POLL = 0.05


def _bound_socket(ns: str, port: int, proto: str) -> socket.socket:
    def make() -> socket.socket:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            if proto == "tcp":
                sock.listen(16)
        except BaseException:
            sock.close()
            raise
        sock.setblocking(False)
        return sock

    return run_in_namespace(ns, make)


def _serve(sock: socket.socket, proto: str, token: bytes, stop: threading.Event) -> None:
    while not stop.is_set():
        ready, _, _ = select.select([sock], [], [], _POLL)
        if not ready:
            continue
        try:
            if proto == "tcp":
                conn, _ = sock.accept()
                with conn:
                    conn.setblocking(True)
                    conn.settimeout(1.0)
                    conn.sendall(token)
            else:
                _, peer = sock.recvfrom(2048)
                sock.sendto(token, peer)
        except OSError as exc:  # a client that went away: keep serving the others
            logger.debug("listener: %s", exc)


@contextmanager
def serving(ns: str, port: int, proto: str) -> Iterator[bytes]:
    """Serve ``proto`` (tcp|udp) on ``0.0.0.0:port`` inside ``ns``; yields the token every answer carries."""
    token = f"netlab {os.urandom(6).hex()} {ns}\n".encode()
    sock = _bound_socket(ns, port, proto)
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(sock, proto, token, stop), name=f"listen-{ns}-{port}",
                              daemon=True)
    thread.start()
    try:
        yield token
    finally:
        stop.set()
        thread.join()
        sock.close()


def _client_socket(ns: str, proto: str) -> socket.socket:
    def make() -> socket.socket:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)

    return run_in_namespace(ns, make)


def try_connect(ns: str, ip: str, port: int, proto: str, token: bytes | None, timeout: float = 2.0) -> bool:
    """From ``ns``, reach ``ip:port``; True when the answer is ``token`` (any answer when ``token`` is None)."""
    with _client_socket(ns, proto) as sock:
        sock.settimeout(timeout)
        try:
            if proto == "tcp":
                sock.connect((ip, port))
                answer = _read_line(sock)
            else:
                answer = _udp_exchange(sock, ip, port, timeout)
        except OSError as exc:  # refused, unreachable, timed out
            logger.debug("%s %s -> %s:%d: %s", proto, ns, ip, port, exc)
            return False
    return answer is not None and (token is None or answer == token)


def _read_line(sock: socket.socket) -> bytes | None:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(256)
        if not chunk:
            return data or None
        data += chunk
    return data


def _udp_exchange(sock: socket.socket, ip: str, port: int, timeout: float) -> bytes | None:
    """Send a datagram (again every 0.3 s: the first may wait for ARP) until an answer or ``timeout``."""
    sock.connect((ip, port))  # a connected UDP socket reports ICMP port unreachable as ConnectionRefusedError
    deadline = time.monotonic() + timeout
    while True:
        sock.send(b"netlab probe\n")
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(min(0.3, left))
        try:
            return sock.recv(2048)
        except TimeoutError:
            if time.monotonic() >= deadline:
                return None
