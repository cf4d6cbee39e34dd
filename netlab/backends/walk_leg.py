"""The walk of one packet, namespace after namespace, with the connections it opens and meets.

:func:`leg` walks a packet from the namespace that sends it until it is
delivered or dropped, one :func:`~netlab.backends.walk_l3.visit` per
namespace and the br_netfilter checks of the bridges it is forwarded by. A
request lists the namespaces it passed (:data:`Pass`); :func:`conntrack` turns
them into the connection table its answer meets: in a namespace where the
request passed, the answer is ``established`` and the NAT done there is undone;
elsewhere an ICMP echo reply or a TCP SYN-ACK is ``invalid`` and UDP is ``new``.

A request's walk after its first namespace depends only on what that
namespace's visit is memoised by, so it is memoised as a whole (:class:`Rest`,
with the source filled in per request); this is what makes
:func:`netlab.backends.walk.matrix` fast. VXLAN packets (:func:`tunnel`) are
walks of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netlab.backends.walk_l2 import Device
from netlab.backends.walk_l3 import NEW, CtKey, Step, bridged, visit, visit_martian
from netlab.backends.walk_types import Drop, Hop, Packet
from netlab.backends.world import World, ip_int, ip_str

__all__ = ["Conntrack", "Leg", "MAX_VISITS", "Pass", "Tunnel", "VXLAN_SOURCE_PORT", "conntrack", "leg", "tunnel"]

#: the UDP source port of VXLAN packets (the kernel hashes the inner flow into 1024..65535)
VXLAN_SOURCE_PORT = 49152
MAX_VISITS = 64

Conntrack = Mapping[tuple[str, int, int, int, int, str], tuple[int, int, int, int, int, int, int, int]]


@dataclass(frozen=True, slots=True)
class Leg:
    """One direction of a walk: delivered at ``to`` (namespace, device) with ``packet``, or dropped."""

    hops: tuple[Hop, ...]
    drop: Drop | None
    to: Device | None
    packet: Packet


def _ct_state(table: Conntrack, ns: str, pkt: Packet) -> CtKey:
    entry = table.get((ns, pkt.src or 0, pkt.sport, pkt.dst, pkt.dport, pkt.proto))
    if entry is None:   # an ICMP echo reply or a TCP SYN-ACK nobody asked for is invalid; UDP starts anew
        return NEW if pkt.proto == "udp" or not pkt.reply else ("invalid", None, None, None, None)
    osrc, osport, odst, odport, fsrc, _, fdst, _ = entry
    return ("established", osrc if fsrc != osrc else None, osport if fsrc != osrc else None,
            odst if fdst != odst else None, odport if fdst != odst else None)


#: a namespace a request passed: (namespace, the source routing picked there or None, packet as it came,
#: packet as it left)
Pass = tuple[str, int | None, Packet, Packet]


def conntrack(passes: Sequence[Pass]) -> Conntrack:
    """The connections a request opened, one per namespace it passed; the answer is expected from the
    final destination. A packet that passes a namespace twice (routed, then bridged) keeps the
    connection its first pass made."""
    table: dict[tuple[str, int, int, int, int, str], tuple[int, int, int, int, int, int, int, int]] = {}
    for ns, origin, before, after in passes:
        key = (ns, after.dst, after.dport, after.src or 0, after.sport, after.proto)
        if key not in table:
            table[key] = (origin or before.src or 0, before.sport, before.dst, before.dport, after.src or 0,
                          after.sport, after.dst, after.dport)
    return table


def _moved(pkt: Packet, step: Step) -> Packet:
    """``pkt`` as ``step`` leaves it."""
    return Packet(step.src if step.src is not None else step.origin if step.origin is not None else pkt.src,
                  step.dst if step.dst is not None else pkt.dst, pkt.proto,
                  step.sport if step.sport is not None else pkt.sport,
                  step.dport if step.dport is not None else pkt.dport, step.size, pkt.df, pkt.reply)


def leg(world: World, ns: str, pkt: Packet, passes: list[Pass] | None,
        answered: Conntrack | None, record: bool) -> Leg:
    """Walk ``pkt`` sent from ``ns`` until it is delivered or dropped.

    A request lists the namespaces it passes in ``passes`` (see :func:`conntrack`); an answer looks its
    connection up in ``answered``. With ``record`` False the hops are not assembled (same verdict, less
    work). A request's walk after its first namespace is memoised as a whole (:class:`Rest`).
    """
    return _run(world, ns, None, pkt, passes, answered, record, passes is not None and answered is None, None)


def _run(world: World, ns: str, in_dev: str | None, pkt: Packet, passes: list[Pass] | None,
         answered: Conntrack | None, record: bool, rest_memo: bool, marks: list[int] | None) -> Leg:
    """The walk loop; ``marks`` (if given) gets the index of the first pass after which the source is
    no longer the one the packet came with (NAT changed it). This loop is the hot path of
    :func:`netlab.backends.walk.matrix`: the lookup of an arriving packet's visit is :func:`visit`'s, inlined."""
    hops: list[Hop] = []
    visits, classes, rests = world.memo.visit, world.memo.src_class, world.memo.rest
    for _ in range(MAX_VISITS):
        ct = NEW if answered is None else _ct_state(answered, ns, pkt)
        if in_dev is None:
            step = visit(world, ns, None, pkt, ct)
        else:
            src, dst, proto, sport, dport, size, df, reply = pkt
            cls = classes.get(src) if src is not None else None
            if cls is None:
                cls = world.src_class(src)
            key = (ns, in_dev, cls, dst, proto, sport, dport, size, df, reply, ct)
            if rest_memo:
                rest = rests.get(key) or _rest(world, key, ns, in_dev, pkt)
                if src not in rest.martians:
                    return rest.apply(src, hops, passes, record)
                rest_memo = False     # a source some namespace on the way owns: walk it as it is
            if src in world.namespaces[ns].own:
                step = visit_martian(world, ns, in_dev, pkt, ct)
            else:
                known = visits.get(key)
                step = known if known is not None else visit(world, ns, in_dev, pkt, ct)
        after = pkt if step.plain else _moved(pkt, step)
        if passes is not None:
            passes.append((ns, step.origin, pkt, after))
            if marks is not None and not marks and step.src is not None:
                marks.append(len(passes) - 1)
        pkt = after
        if step.bridged:
            done = 0
            for bns, bridge, at in step.bridged:     # br_netfilter runs before anything later in the frame's way
                ct = NEW if answered is None else _ct_state(answered, bns, pkt)
                check = bridged(world, bns, bridge, pkt, ct)
                if record:
                    hops += step.hops[done:at]
                    hops += check.hops
                    done = at
                after = pkt if check.plain else _moved(pkt, check)
                if passes is not None:
                    passes.append((bns, None, pkt, after))
                    if marks is not None and not marks and check.src is not None:
                        marks.append(len(passes) - 1)
                pkt = after
                if check.drop is not None:
                    return Leg(tuple(hops), check.drop, None, pkt)
            if record:
                hops += step.hops[done:]
        elif record:
            hops += step.hops
        if step.drop is not None or step.delivered:
            return Leg(tuple(hops), step.drop, (ns, in_dev or "lo") if step.delivered else None, pkt)
        assert step.to is not None
        ns, in_dev = step.to
    return Leg(tuple(hops), Drop(ns, in_dev or "lo", f"more than {MAX_VISITS} namespaces: a routing loop?"), None,
               pkt)


@dataclass(frozen=True, slots=True)
class Rest:
    """The rest of a request's walk from a namespace it arrives in, for any source of the same class.

    Up to pass ``fixed`` (exclusive of its outgoing packet) the packets carry the source the request
    came with; ``packet`` and ``passes`` hold 0 there and are completed by :meth:`apply`."""

    hops: tuple[Hop, ...]
    drop: Drop | None
    to: Device | None
    packet: Packet
    passes: tuple[Pass, ...]
    fixed: int
    #: the addresses of the namespaces the packet arrived in before NAT changed its source: a request
    #: from one of them is a martian there, and is walked on its own
    martians: frozenset[int]
    #: the leg of a dropped request, without hops (the same for every source)
    dropped: Leg

    def apply(self, src: int | None, hops: list[Hop], passes: list[Pass] | None, record: bool) -> Leg:
        """The leg for a request from ``src``, after ``hops`` (its first namespace's). Unless ``record``,
        a dropped leg's packet keeps the placeholder source (nothing reads it: no answer follows)."""
        fixed, fill = self.fixed, src or 0
        if self.to is None:     # dropped: no answer will need the connections
            if not record:
                return self.dropped
            fixed_packet = self.packet if fixed < len(self.passes) else self.packet._replace(src=fill)
            return Leg(tuple(hops) + self.hops, self.drop, None, fixed_packet)
        packet = self.packet if fixed < len(self.passes) else self.packet._replace(src=fill)
        if passes is not None:
            for index, (ns, origin, before, after) in enumerate(self.passes):
                passes.append((ns, origin, before if index > fixed else before._replace(src=fill),
                               after if index >= fixed else after._replace(src=fill)))
        return Leg(tuple(hops) + self.hops if record else (), self.drop, self.to, packet)


def _rest(world: World, key: tuple[object, ...], ns: str, in_dev: str, pkt: Packet) -> Rest:
    table = world.memo.rest
    found = table.get(key)
    if found is None:
        passes: list[Pass] = []
        marks: list[int] = []
        out = _run(world, ns, in_dev, pkt, passes, None, True, False, marks)
        fixed = marks[0] if marks else len(passes)
        templates = tuple((n, o, b if i > fixed else b._replace(src=0), a if i >= fixed else a._replace(src=0))
                          for i, (n, o, b, a) in enumerate(passes))
        packet = out.packet if marks else out.packet._replace(src=0)
        seen_with_it = {ns} | {n for n, _, _, _ in passes[:fixed + 1]}
        martians = frozenset(ip for n in seen_with_it for ip in world.namespaces[n].own)
        found = Rest(out.hops, out.drop, out.to, packet, templates, fixed, martians, Leg((), out.drop, None, packet))
        if pkt.src not in martians:      # what a martian met holds for no other source of its class
            table[key] = found
    return found


@dataclass(frozen=True, slots=True)
class Tunnel:
    """An encapsulated VXLAN packet's walk: delivered at ``to`` or dropped."""

    hops: tuple[Hop, ...]
    to: Device | None
    drop: Drop | None


def tunnel(world: World, ns: str, local: str, vtep: int, port: int, size: int, df: bool) -> Tunnel:
    """The UDP packet a VXLAN device whose socket lives in ``ns`` sends from ``local`` to ``vtep``."""
    table = world.memo.tunnel
    key = (ns, local, vtep, port, size, df)
    found = table.get(key)
    if found is None:
        busy = world.memo.tunnel_busy
        if key in busy:
            return Tunnel((), None, Drop(ns, "vxlan", f"VXLAN loop: {local} -> {ip_str(vtep)} encapsulates itself"))
        busy[key] = True
        try:
            pkt = Packet(ip_int(local), vtep, "udp", VXLAN_SOURCE_PORT, port, size, df, False)
            outer = leg(world, ns, pkt, None, None, True)
        finally:
            del busy[key]
        found = table[key] = Tunnel(outer.hops, outer.to, outer.drop)
    return found
