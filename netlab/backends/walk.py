"""Packet walk: follow a probe through a lab's namespaces and say whether, how, and if not why.

The walker reads a :data:`~netlab.backends.Snapshot` (``backend.snapshot(names)``),
so the same code explains a simulated lab and a real one::

    world = World.from_snapshot(backend.snapshot(backend.namespaces()))
    t = trace(world, "nl-demo-s-web", "10.0.1.3", Probe("tcp", 80))
    print(t.explain())              # the hops, then the verdict and, for a drop, the object and rule
    matrix(world, sources, targets) # every source against every target, same answers as trace(), faster

A walk goes from the source's routing table through veths, bridges (FDB,
flooding), macvlans, VXLAN encapsulation by FDB over the underlay and
decapsulation, conntrack, and the nft rules the drivers emit (filter drops,
masquerade, DNAT), to the destination's local stack; then the answer (ICMP echo
reply, or for tcp/udp a packet from the destination port) is walked back
through the connection state the request created. What is modelled, and how,
is documented in :mod:`netlab.backends.world` (the index of a snapshot),
:mod:`netlab.backends.walk_l3` (a namespace: routing, nft hooks, NAT,
forwarding, MTU), :mod:`netlab.backends.walk_leg` (namespace after namespace,
conntrack), :mod:`netlab.backends.walk_l2` (veths, bridges, macvlans, VXLAN),
:mod:`netlab.backends.walk_arp` (ARP, broadcast) and
:mod:`netlab.backends.walk_nft` with :mod:`netlab.backends.walk_nft_expr` (the
rule language understood; anything else raises
:class:`~netlab.errors.NotSupportedError`).

:func:`matrix` gives exactly what :func:`trace` gives pair by pair: both run the
same code, and everything the walker memoises (in the World) is keyed by all
that can change its outcome.

Answers: an ICMP echo reply is as big as the request and never has DF set (the
kernel's ICMP socket does not ask for it); a tcp/udp answer has the probe's size
and DF. tcp/udp probes come from port :data:`~netlab.backends.walk_l3.CLIENT_PORT`.
Whether something listens on the destination port is not the walker's business:
``delivered`` means the packet reached that namespace's stack on (final_ip, final_port).
"""

from __future__ import annotations

from collections.abc import Sequence

from netlab.backends.walk_l3 import CLIENT_PORT
from netlab.backends.walk_leg import Leg, Pass, conntrack, leg
from netlab.backends.walk_types import MAX_SIZE, MIN_SIZE, Drop, Hop, Packet, Probe, Trace
from netlab.backends.world import World, ip_int, ip_str

__all__ = ["PING", "Drop", "Hop", "Probe", "Trace", "World", "matrix", "path_mtu", "trace"]

#: the default probe: an ICMP echo request of 84 bytes (``ping`` without options)
PING = Probe()


def _request(probe: Probe, dst: int) -> Packet:
    return Packet(None, dst, probe.proto, CLIENT_PORT if probe.proto != "icmp" else 0,
                  probe.port if probe.port is not None else 0, probe.size, probe.df, False)


def _walk(world: World, src_ns: str, request: Packet, probe: Probe, record: bool
          ) -> tuple[Leg, Leg | None, Drop | None]:
    """(request, answer or None, why the answer failed even though it was delivered somewhere);
    ``src_ns`` must be in the world."""
    dst = request.dst
    passes: list[Pass] = []
    there = leg(world, src_ns, request, passes, None, record)
    if there.to is None:
        return there, None, None
    seen = there.packet
    answer = Packet(seen.dst, seen.src or 0, probe.proto, seen.dport, seen.sport, probe.size,
                    probe.df and probe.proto != "icmp", True)
    back = leg(world, there.to[0], answer, None, conntrack(passes), record)
    if back.to is None:
        return there, back, None
    origin = passes[0][1]      # the source address routing picked in src_ns
    if back.to[0] != src_ns or back.packet.dst != origin or back.packet.dport != request.sport \
            or back.packet.src != dst or back.packet.sport != request.dport:
        where = f"{ip_str(back.packet.dst)}{'' if probe.proto == 'icmp' else f':{back.packet.dport}'}"
        return there, back, Drop(back.to[0], "local stack", f"the answer from {ip_str(back.packet.src or 0)} was "
                                                            f"delivered to {where} in {back.to[0]}; the source "
                                                            f"{src_ns} expects it from {ip_str(dst)}")
    return there, back, None


def trace(world: World, src_ns: str, dst_ip: str, probe: Probe = PING) -> Trace:
    """Walk ``probe`` from namespace ``src_ns`` to ``dst_ip`` and, once delivered, its answer back.

    The answer's :class:`Trace` goes from the namespace that got the request to the source address it
    saw (after any masquerade), and ends where the answer was delivered (after conntrack undid the NAT).
    """
    world.namespace(src_ns)
    there, back, misdelivered = _walk(world, src_ns, _request(probe, ip_int(dst_ip)), probe, True)
    if there.to is None or back is None:
        return Trace(src_ns, dst_ip, probe, False, None, None, None, there.hops, there.drop, None)
    final_ns, seen = there.to[0], there.packet
    port = probe.proto != "icmp"
    arrived = back.to is not None
    reply = Trace(final_ns, ip_str(seen.src or 0), probe, arrived and misdelivered is None,
                  back.to[0] if back.to else None, ip_str(back.packet.dst) if arrived else None,
                  back.packet.dport if arrived and port else None, back.hops, misdelivered or back.drop, None)
    return Trace(src_ns, dst_ip, probe, True, final_ns, ip_str(seen.dst), seen.dport if port else None,
                 there.hops, reply.drop, reply)


def matrix(world: World, sources: Sequence[str], targets: Sequence[tuple[str, str]],
           probe: Probe = PING) -> list[list[bool]]:
    """Entry [i][j]: a probe from ``sources[i]`` to ``targets[j][1]`` gets its answer, and the request was
    delivered in ``targets[j][0]``; exactly what :func:`trace` says for each pair, without the hops."""
    requests = [(ns, _request(probe, ip_int(ip))) for ns, ip in targets]
    rows: list[list[bool]] = []
    for src in sources:
        world.namespace(src)
        row: list[bool] = []
        for ns, request in requests:
            there, back, misdelivered = _walk(world, src, request, probe, False)
            row.append(there.to is not None and there.to[0] == ns and back is not None and back.to is not None
                       and misdelivered is None)
        rows.append(row)
    return rows


def path_mtu(world: World, src_ns: str, dst_ip: str) -> int | None:
    """The largest IPv4 packet (bytes) an ICMP echo with DF set can have and still get its answer from
    ``dst_ip``; None when not even the smallest one does."""
    dst = ip_int(dst_ip)
    world.namespace(src_ns)

    def passes(size: int) -> bool:
        probe = Probe(size=size, df=True)
        there, back, misdelivered = _walk(world, src_ns, _request(probe, dst), probe, False)
        return there.to is not None and back is not None and back.to is not None and misdelivered is None

    if not passes(MIN_SIZE):
        return None
    low, high = MIN_SIZE, MAX_SIZE      # passes(low) holds; find the largest size that passes
    if passes(high):
        return high
    while high - low > 1:
        middle = (low + high) // 2
        if passes(middle):
            low = middle
        else:
            high = middle
    return low

