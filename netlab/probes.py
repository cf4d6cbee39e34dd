"""Probers: the questions the scenario harness asks a deployed lab, answered by the packet walker or by traffic.

A :class:`Prober` works on namespaces and addresses (the harness turns sandbox
names into those, see :mod:`netlab.checks`):

* ``ping(src, ip, responder)``: does an echo request from ``src`` to ``ip`` get its
  reply, and was it ``responder`` (a namespace; any when None) that answered?
* ``connect(src, ip, port, proto, listener)``: with the harness's small server
  running as ``listener`` (None: nothing listens), does a TCP connection / UDP
  exchange from ``src`` to ``ip:port`` reach it?
* ``largest_df(src, ip, responder)``: the largest IPv4 packet that passes with DF;
* ``matrix(sources, targets)``: ``ping`` for every source x (responder, ip) target;
* ``resolve(src, name)``: the address ``name`` resolves to inside ``src``.

:class:`WalkProber` answers from a snapshot with the packet walker
(:mod:`netlab.backends.walk`): the simulator's prediction, or the walker's
reading of a real lab's snapshot. :class:`~netlab.probes_kernel.KernelProber`
answers with real packets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from netlab.backends import Backend

if TYPE_CHECKING:
    from netlab.backends.walk import Probe, Trace, World

__all__ = ["Listener", "Prober", "WalkProber", "parse_getent"]


@dataclass(frozen=True, slots=True)
class Listener:
    """The harness's small server: ``proto`` (tcp|udp) on port ``port`` of namespace ``ns``."""

    ns: str
    port: int
    proto: str = "tcp"


class Prober(Protocol):
    """What the harness asks a lab (see the module docstring)."""

    name: str

    def ping(self, src: str, ip: str, responder: str | None = None) -> bool: ...

    def connect(self, src: str, ip: str, port: int, proto: str, listener: Listener | None) -> bool: ...

    def largest_df(self, src: str, ip: str, responder: str | None = None) -> int | None: ...

    def matrix(self, sources: Sequence[str], targets: Sequence[tuple[str, str]]) -> list[list[bool]]: ...

    def resolve(self, src: str, name: str) -> str | None: ...

    def explain(self, src: str, ip: str, proto: str = "icmp", port: int | None = None) -> str:
        """Why a probe ends as it does (empty when the prober cannot tell)."""
        ...


def parse_getent(text: str) -> str | None:
    """The address of ``getent hosts NAME``'s first line.

    >>> parse_getent("10.0.1.10      web www\\n")
    '10.0.1.10'
    >>> parse_getent("") is None
    True
    """
    for line in text.splitlines():
        words = line.split()
        if words:
            return words[0]
    return None


def resolve_with(backend: Backend, ns: str, name: str) -> str | None:
    """``getent hosts NAME`` inside ``ns`` on ``backend`` (the hosts file the harness wrote)."""
    result = backend.exec(ns, ["getent", "hosts", name], timeout=10.0)
    return parse_getent(result.stdout) if result.returncode == 0 else None


class WalkProber:
    """Answers with the packet walker over a snapshot of ``namespaces`` read from ``backend``.

    ``connect`` passes when the walk delivers the segment to the listener's
    namespace and port and the answer comes back; a port with no listener
    fails, as a real one is refused.
    """

    def __init__(self, backend: Backend, namespaces: Sequence[str]) -> None:
        from netlab.backends.walk import World

        self.backend = backend
        self.name = f"walker ({backend.name} snapshot)"
        self.world: World = World.from_snapshot(backend.snapshot(namespaces))

    def _probe(self, proto: str = "icmp", port: int | None = None) -> Probe:
        from netlab.backends.walk import Probe

        return Probe(proto=proto, port=port)

    def trace(self, src: str, ip: str, proto: str = "icmp", port: int | None = None) -> Trace:
        from netlab.backends.walk import trace

        return trace(self.world, src, ip, self._probe(proto, port))

    def ping(self, src: str, ip: str, responder: str | None = None) -> bool:
        found = self.trace(src, ip)
        return found.ok and (responder is None or found.final_ns == responder)

    def connect(self, src: str, ip: str, port: int, proto: str, listener: Listener | None) -> bool:
        found = self.trace(src, ip, proto, port)
        return (found.ok and listener is not None and listener.proto == proto
                and (found.final_ns, found.final_port) == (listener.ns, listener.port))

    def largest_df(self, src: str, ip: str, responder: str | None = None) -> int | None:
        from netlab.backends.walk import path_mtu

        if responder is not None and not self.ping(src, ip, responder):
            return None
        return path_mtu(self.world, src, ip)

    def matrix(self, sources: Sequence[str], targets: Sequence[tuple[str, str]]) -> list[list[bool]]:
        from netlab.backends.walk import matrix

        return matrix(self.world, sources, targets)

    def resolve(self, src: str, name: str) -> str | None:
        return resolve_with(self.backend, src, name)

    def explain(self, src: str, ip: str, proto: str = "icmp", port: int | None = None) -> str:
        return self.trace(src, ip, proto, port).explain()
