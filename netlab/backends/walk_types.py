"""The packet walker's records: what is sent (:class:`Probe`), each step (:class:`Hop`), why it stopped
(:class:`Drop`) and the whole answer (:class:`Trace`). :mod:`netlab.backends.walk` re-exports them.

>>> t = Trace("nl-d-s-a", "10.0.0.9", Probe(), False, None, None, None,
...           (Hop("nl-d-s-a", "eth0", "route 10.0.0.0/24 dev eth0"),),
...           Drop("nl-d-s-a", "eth0", "no ARP reply for 10.0.0.9 on eth0", None), None)
>>> print(t.explain())
nl-d-s-a -> 10.0.0.9  icmp, 84 bytes
  nl-d-s-a  eth0  route 10.0.0.0/24 dev eth0
  DROPPED in nl-d-s-a at eth0: no ARP reply for 10.0.0.9 on eth0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from netlab.errors import InvalidRequestError

__all__ = ["Drop", "Hop", "Packet", "Probe", "Trace"]

PROTOCOLS = ("icmp", "tcp", "udp")
MIN_SIZE = 28          # IPv4 header + ICMP/UDP header
MAX_SIZE = 65535


@dataclass(frozen=True, slots=True)
class Probe:
    """What is sent: ``size`` is the whole IPv4 packet in bytes (``ping -s N`` sends N + 28);
    ``df`` sets Don't Fragment; ``port`` is the destination port of tcp/udp."""

    proto: str = "icmp"
    port: int | None = None
    size: int = 84
    df: bool = False

    def __post_init__(self) -> None:
        if self.proto not in PROTOCOLS:
            raise InvalidRequestError(f"probe protocol {self.proto!r} is not one of {', '.join(PROTOCOLS)}")
        if self.proto == "icmp" and self.port is not None:
            raise InvalidRequestError("an icmp probe has no port")
        if self.proto != "icmp" and (self.port is None or not 1 <= self.port <= 65535):
            raise InvalidRequestError(f"a {self.proto} probe needs a port in 1..65535, not {self.port!r}")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise InvalidRequestError(f"probe size {self.size} is outside {MIN_SIZE}..{MAX_SIZE} bytes")

    def describe(self) -> str:
        port = f" port {self.port}" if self.port is not None else ""
        return f"{self.proto}{port}, {self.size} bytes" + (", DF" if self.df else "")


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a walk: in namespace ``ns``, at ``device``, what happened (``action``)."""

    ns: str
    device: str
    action: str

    def __str__(self) -> str:
        return f"{self.ns}  {self.device}  {self.action}"


@dataclass(frozen=True, slots=True)
class Drop:
    """Where and why a packet stopped: ``obj`` is a device or ``"nft chain forward"`` and the like;
    ``rule`` is the nft rule that dropped it (nft syntax) or ``"policy drop"``, None when no rule did."""

    ns: str
    obj: str
    reason: str
    rule: str | None = None

    def __str__(self) -> str:
        text = f"DROPPED in {self.ns} at {self.obj}: {self.reason}"
        return text + (f" [rule: {self.rule}]" if self.rule else "")


@dataclass(frozen=True, slots=True)
class Trace:
    """The walk of a probe from namespace ``src`` to address ``dst`` and, once delivered, of its answer."""

    src: str
    dst: str
    probe: Probe
    delivered: bool
    final_ns: str | None
    final_ip: str | None
    final_port: int | None
    hops: tuple[Hop, ...]
    drop: Drop | None
    reply: Trace | None

    @property
    def ok(self) -> bool:
        """The request was delivered and its answer came back to ``src``."""
        return self.delivered and self.reply is not None and self.reply.delivered

    def _repr_html_(self) -> str:
        from netlab.reprs import trace_html

        return trace_html(self)

    def explain(self) -> str:
        """The hops, one a line, then the verdict: where it was delivered, or where and why it was dropped."""
        lines = [f"{self.src} -> {self.dst}  {self.probe.describe()}"]
        lines += [f"  {hop}" for hop in self.hops]
        if not self.delivered:
            lines.append(f"  {self.drop}" if self.drop else "  not delivered")
            return "\n".join(lines)
        port = f":{self.final_port}" if self.final_port is not None else ""
        lines.append(f"  delivered to {self.final_ip}{port} in {self.final_ns}")
        if self.reply is not None:
            lines.append("reply:")
            lines += [f"  {hop}" for hop in self.reply.hops]
            lines.append(f"  {self.reply.drop}" if self.reply.drop else f"  reply back in {self.reply.final_ns}: OK")
        return "\n".join(lines)


class Packet(NamedTuple):
    """An IPv4 packet as the walker carries it (addresses as ints; ``src`` None until routing picks it)."""

    src: int | None
    dst: int
    proto: str
    sport: int
    dport: int
    size: int
    df: bool
    reply: bool
