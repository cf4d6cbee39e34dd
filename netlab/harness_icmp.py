"""ICMP echo with raw sockets opened inside lab namespaces: many probes at once, no process per probe.

Every namespace taking part (each source, each namespace expected to answer)
gets one raw ``IPPROTO_ICMP`` socket, created by a thread that joined the
namespace (:func:`netlab.backends.netns.run_in_namespace`; a socket stays in
the namespace it was made in). All echo requests are sent at once and one
loop collects, from every socket:

* echo **replies** reaching the source namespace, and
* copies of the echo **requests** delivered to the local stack of each
  namespace: that is how a probe knows *who* answered (overlapping subnets,
  NAT), which a reply alone cannot tell.

A probe passes when its reply came back *and* its request was delivered in the
namespace expected to answer (when one is given). Every packet carries a random
nonce of the run and the probe's index, so stray ICMP is ignored. Requests
without an answer are sent again a few times before the deadline (the first
packets to a neighbour wait for ARP). Sockets are closed before returning.

Requests can carry DF without regard to the cached path MTU
(``IP_PMTUDISC_PROBE``): :func:`largest_df` sends a coarse then a fine ladder
of sizes in parallel and returns the largest packet that came back.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import struct
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

from netlab.backends.netns import run_in_namespace

__all__ = ["EchoProbe", "echo", "largest_df", "route_mtu"]

logger = logging.getLogger(__name__)

IP_MTU_DISCOVER = 10
IP_PMTUDISC_PROBE = 3
IP_MTU = 14
SO_RCVBUFFORCE = 33
_RCVBUF = 4 << 20

ECHO_REQUEST, ECHO_REPLY = 8, 0
HEADERS = 28            # IPv4 header (20) + ICMP echo header (8)
MIN_SIZE = 68           # the smallest packet every IPv4 link must carry
_MARK = 12              # nonce (8) + probe index (4) at the start of the payload
#: seconds after the first send at which unanswered requests are sent again
RESEND_AT = (0.15, 0.4, 0.7)


@dataclass(frozen=True, slots=True)
class EchoProbe:
    """One echo request: from namespace ``src`` to ``ip``, answered by ``responder`` (any when None)."""

    src: str
    ip: str
    responder: str | None = None
    size: int = 84      # the whole IPv4 packet, bytes (``ping -s N`` is N + 28)
    df: bool = False


@dataclass(slots=True)
class _Run:
    probes: Sequence[EchoProbe]
    nonce: bytes = field(default_factory=lambda: os.urandom(8))
    ident: int = field(default_factory=lambda: int.from_bytes(os.urandom(2), "big"))
    replied: list[bool] = field(default_factory=list)
    delivered: list[set[str]] = field(default_factory=list)
    refused: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        count = len(self.probes)
        self.replied, self.delivered, self.refused = [False] * count, [set() for _ in range(count)], [False] * count

    def done(self, index: int) -> bool:
        probe = self.probes[index]
        if self.refused[index]:
            return True
        return self.replied[index] and (probe.responder is None or probe.responder in self.delivered[index])

    def passed(self, index: int) -> bool:
        return not self.refused[index] and self.done(index)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _packet(run: _Run, index: int) -> bytes:
    probe = run.probes[index]
    payload_len = max(probe.size - HEADERS, _MARK)
    payload = run.nonce + struct.pack("!I", index)
    payload += bytes(payload_len - len(payload))
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, run.ident, index & 0xFFFF)
    checksum = _checksum(header + payload)
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, checksum, run.ident, index & 0xFFFF) + payload


def _raw_socket(ns: str, df: bool) -> socket.socket:
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, _RCVBUF)
        except OSError:  # not privileged enough to exceed rmem_max: the default buffer will do
            pass
        if df:
            sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
        sock.setblocking(False)
        return sock

    return run_in_namespace(ns, make)


def _parse(run: _Run, data: bytes) -> tuple[int, int] | None:
    """(ICMP type, probe index) of one of this run's packets, else None."""
    if len(data) < 20:
        return None
    ihl = (data[0] & 0x0F) * 4
    icmp = data[ihl:]
    if len(icmp) < 8 + _MARK or icmp[0] not in (ECHO_REQUEST, ECHO_REPLY) or icmp[8:16] != run.nonce:
        return None
    index: int = struct.unpack("!I", icmp[16:20])[0]
    return (icmp[0], index) if index < len(run.probes) else None


def _send(run: _Run, sockets: dict[str, socket.socket], indexes: Sequence[int]) -> None:
    for index in indexes:
        probe = run.probes[index]
        try:
            sockets[probe.src].sendto(_packet(run, index), (probe.ip, 0))
        except BlockingIOError:
            continue  # buffer full: the next round sends it again
        except OSError as exc:
            if exc.errno in (errno.ENOBUFS, errno.EAGAIN):
                continue
            # no route, packet larger than the link with DF, unreachable neighbour...: this probe fails now
            logger.debug("echo %s -> %s (%d bytes): %s", probe.src, probe.ip, probe.size, exc)
            run.refused[index] = True


def _receive(run: _Run, owner: dict[int, str], sockets: dict[str, socket.socket], poller: select.epoll,
             wait: float) -> None:
    for fd, _ in poller.poll(max(wait, 0.0)):
        ns = owner[fd]
        sock = sockets[ns]
        while True:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                break
            parsed = _parse(run, data)
            if parsed is None:
                continue
            kind, index = parsed
            if kind == ECHO_REPLY and run.probes[index].src == ns:
                run.replied[index] = True
            elif kind == ECHO_REQUEST:
                run.delivered[index].add(ns)


def echo(probes: Sequence[EchoProbe], timeout: float = 1.0) -> list[bool]:
    """Send every probe at once; True where the reply came back from the expected namespace within ``timeout``."""
    if not probes:
        return []
    run = _Run(probes)
    names = sorted({p.src for p in probes} | {p.responder for p in probes if p.responder})
    df_sources = {p.src for p in probes if p.df}
    with ExitStack() as stack, select.epoll() as poller:
        sockets: dict[str, socket.socket] = {}
        for ns in names:
            sock = stack.enter_context(_raw_socket(ns, ns in df_sources))
            sockets[ns] = sock
            poller.register(sock.fileno(), select.EPOLLIN)
        owner = {sock.fileno(): ns for ns, sock in sockets.items()}
        start = time.monotonic()
        deadline = start + timeout
        _send(run, sockets, range(len(probes)))
        resends = [start + at for at in RESEND_AT if at < timeout * 0.8]
        while True:
            pending = [i for i in range(len(probes)) if not run.done(i)]
            now = time.monotonic()
            if not pending or now >= deadline:
                break
            if resends and now >= resends[0]:
                resends.pop(0)
                _send(run, sockets, [i for i in pending if not run.replied[i]])
                continue
            _receive(run, owner, sockets, poller, min([deadline, *resends[:1]]) - now)
    return [run.passed(i) for i in range(len(probes))]


def route_mtu(src: str, ip: str) -> int | None:
    """The MTU of the route ``src`` would use towards ``ip`` (None: no route)."""

    def ask() -> int | None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect((ip, 9))
            except OSError:
                return None
            mtu: int = sock.getsockopt(socket.IPPROTO_IP, IP_MTU)
            return mtu

    return run_in_namespace(src, ask)


def _passing(src: str, ip: str, responder: str | None, sizes: Sequence[int], timeout: float) -> list[int]:
    answers = echo([EchoProbe(src, ip, responder, size, df=True) for size in sizes], timeout)
    return [size for size, ok in zip(sizes, answers, strict=True) if ok]


def largest_df(src: str, ip: str, responder: str | None = None, timeout: float = 1.0) -> int | None:
    """The largest IPv4 packet (bytes) from ``src`` to ``ip`` that comes back with DF set; None: unreachable.

    Two rounds, each sent in parallel: a ladder of 33 sizes from 68 bytes to the
    route's MTU, then every size between the largest that passed and the next
    one that did not.
    """
    upper = route_mtu(src, ip)
    if upper is None:
        return None
    steps = 32
    ladder = sorted({MIN_SIZE + (upper - MIN_SIZE) * k // steps for k in range(steps + 1)})
    passed = _passing(src, ip, responder, ladder, timeout)
    if not passed:
        return None
    best = max(passed)
    above = [size for size in ladder if size > best]
    if not above:
        return best
    fine = list(range(best + 1, above[0]))
    passed = _passing(src, ip, responder, fine, timeout) if fine else []
    return max([best, *passed])
