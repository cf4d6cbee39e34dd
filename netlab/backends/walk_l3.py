"""Layer 3 for the packet walker: one namespace at a time, then on to the next over layer 2.

A packet arriving in a namespace (or sent from it) goes, as in Linux's IPv4 path:
conntrack (an answer to a connection the request opened is ``established``, and
its NAT is undone: the destination at prerouting, the source at postrouting),
``prerouting`` (DNAT for a new connection), local delivery if the destination is
an address of any up link, else forwarding (only with ``net.ipv4.ip_forward=1``):
longest-prefix route, ``forward`` (``iifname``/``oifname`` are the L3 devices),
``postrouting`` (masquerade picks the outgoing device's address for the next
hop), the MTU of the outgoing device (with DF: dropped; without: fragmented), the
next hop's MAC (:func:`netlab.backends.walk_arp.resolve`) and the frame
(:func:`netlab.backends.walk_l2.frame`). Frames forwarded by a bridge in a
namespace with nft tables pass its ``prerouting``/``forward``/``postrouting``
hooks with the bridge as both interfaces (br_netfilter).

Each visit of a namespace by an arriving packet is memoised under what can
change its outcome: namespace, input device, destination, ports, protocol,
size, DF, direction, conntrack state and the source's *class* (which ``ip
saddr`` tests of all rulesets it passes), so a walk from any other source of the
same class reuses it; the nft hooks are memoised with the destination's class
too. A packet sent from a namespace without nft rules is memoised by route and
next hop (not by destination); the part after routing, :func:`egress`, by
device and next hop. A packet from an address of the namespace it arrives in
is a martian (``fib_validate_source``): such visits are not memoised. The walk
from namespace to namespace is :mod:`netlab.backends.walk_leg`.
"""

from __future__ import annotations

from dataclasses import dataclass

from netlab.backends.walk_arp import resolve
from netlab.backends.walk_l2 import Device, Frame, frame
from netlab.backends.walk_nft import ACCEPT, Verdict
from netlab.backends.walk_types import Drop, Hop, Packet
from netlab.backends.world import World, ip_str
from netlab.errors import NotSupportedError

__all__ = ["CLIENT_PORT", "CtKey", "Egress", "NEW", "Step", "bridged", "egress", "visit", "visit_martian"]

#: the source port the walker gives tcp/udp probes (and the port their answers go back to)
CLIENT_PORT = 40000

#: (state, reverse destination, its port, reverse source, its port) as a visit's conntrack input
CtKey = tuple[str, int | None, int | None, int | None, int | None]
NEW: CtKey = ("new", None, None, None, None)


@dataclass(frozen=True, slots=True)
class Step:
    """What one namespace did to a packet. ``origin`` is the source routing picked for a locally sent
    packet; ``src``, ``sport``, ``dst``, ``dport`` the new values where NAT or conntrack changed them
    (None: unchanged, so a memoised step never carries the addresses of the packet that computed it);
    ``size`` the largest fragment; ``to`` the next L3 device; ``bridged`` where br_netfilter runs."""

    hops: tuple[Hop, ...]
    drop: Drop | None
    delivered: bool
    origin: int | None
    src: int | None
    sport: int | None
    dst: int | None
    dport: int | None
    size: int
    to: Device | None = None
    bridged: tuple[tuple[str, str, int], ...] = ()
    #: nothing about the packet changed (a fast path for the walk)
    plain: bool = False


def _icmp(pkt: Packet) -> str:
    return ("echo-reply" if pkt.reply else "echo-request") if pkt.proto == "icmp" else ""


def _hook(world: World, ns: str, hook: str, iif: str, oif: str, src: int | None, dst: int, pkt: Packet,
          sport: int, dport: int, state: str) -> Verdict:
    rules = world.namespaces[ns].nft
    if rules is None or hook not in rules.hooks:
        return ACCEPT
    table = world.memo.hook
    key = (ns, hook, iif, oif, world.src_class(src), world.dst_class(dst), pkt.proto, sport, dport, pkt.reply,
           state)
    found = table.get(key)
    if found is None:
        ctx = (iif, oif, src or 0, dst, pkt.proto, sport, dport, _icmp(pkt), state)
        found = table[key] = rules.run(hook, ctx, state == "new")
    return found


def _nft_drop(ns: str, verdict: Verdict) -> Drop:
    rule = verdict.rule or "policy drop"
    return Drop(ns, f"nft chain {verdict.chain}", f"dropped by the {verdict.chain} chain ({rule})", rule)


def _port(pkt: Packet, port: int) -> str:
    return f":{port}" if pkt.proto != "icmp" else ""


def visit(world: World, ns: str, in_dev: str | None, pkt: Packet, ct: CtKey) -> Step:
    """``pkt`` arriving on ``in_dev`` of ``ns`` (None: sent from ``ns`` itself), conntrack state ``ct``."""
    if in_dev is not None:
        table = world.memo.visit
        key = (ns, in_dev, world.src_class(pkt.src), pkt.dst, pkt.proto, pkt.sport, pkt.dport, pkt.size, pkt.df,
               pkt.reply, ct)
        found = table.get(key)
        if found is None:
            found = table[key] = _visit(world, ns, in_dev, pkt, ct)
        return found
    space = world.namespaces[ns]
    if space.nft is not None or ct[1] is not None or ct[3] is not None or space.is_local(pkt.dst):
        return _visit(world, ns, None, pkt, ct)
    route = space.lookup(pkt.dst)
    if route is None:
        return _visit(world, ns, None, pkt, ct)
    # no rules here, so no NAT and nothing that reads the protocol, ports or conntrack: what happens to a
    # routed packet sent from here depends on the route, the next hop, the source, size and DF only
    table = world.memo.sent
    nexthop = pkt.dst if route.gateway is None else route.gateway
    sent = (ns, route.index, nexthop, pkt.src, pkt.size, pkt.df)
    found = table.get(sent)
    if found is None:
        origin = pkt.src if pkt.src is not None else space.source_for(route.dev, nexthop)
        if origin is None:
            return _visit(world, ns, None, pkt, ct)
        out = egress(world, ns, route.dev, nexthop, pkt.size, pkt.df)
        found = table[sent] = Step((Hop(ns, route.dev, route.text), *out.hops), out.drop, False,
                                  origin if pkt.src is None else None, None, None, None, None, out.size, out.to,
                                  tuple((n, b, i + 1) for n, b, i in out.bridged),
                                  pkt.src is not None and out.size == pkt.size)
    return found


def visit_martian(world: World, ns: str, in_dev: str, pkt: Packet, ct: CtKey) -> Step:
    """:func:`visit` of a packet whose source is an address of ``ns``: not memoised (its class does not
    say it is a martian here)."""
    return _visit(world, ns, in_dev, pkt, ct)


def _visit(world: World, ns: str, in_dev: str | None, pkt: Packet, ct: CtKey) -> Step:
    space = world.namespaces[ns]
    hops: list[Hop] = []
    src, sport, dst, dport, state = pkt.src, pkt.sport, pkt.dst, pkt.dport, ct[0]
    new_src: int | None = None      # set when NAT or conntrack changes the source ...
    moved = False                   # ... or the destination

    def done(drop: Drop | None, origin: int | None = None, delivered: bool = False) -> Step:
        return Step(tuple(hops), drop, delivered, origin, new_src, sport if sport != pkt.sport else None,
                    dst if moved else None, dport if moved else None, pkt.size,
                    plain=origin is None and new_src is None and sport == pkt.sport and not moved)

    def deliver(dev: str, origin: int | None) -> Step:
        nonlocal src, sport, new_src
        if ct[3] is not None and ct[4] is not None:    # the request was destination-NATed here
            src = new_src = ct[3]
            sport = ct[4]
            hops.append(Hop(ns, dev, f"conntrack: answer comes from {ip_str(src)}{_port(pkt, sport)}"))
        verdict = _hook(world, ns, "input", dev, "", src, dst, pkt, sport, dport, state)
        hops.extend(Hop(ns, dev, line) for line in verdict.trail)
        if not verdict.accepted:
            return done(_nft_drop(ns, verdict), origin)
        hops.append(Hop(ns, dev, f"deliver to {ip_str(dst)}{_port(pkt, dport)}"))
        return done(None, origin, True)

    if ct[1] is not None and ct[2] is not None:    # the request was source-NATed here
        dst, dport, moved = ct[1], ct[2], True
        hops.append(Hop(ns, in_dev or "lo", f"conntrack: answer goes back to {ip_str(dst)}{_port(pkt, dport)}"))
    if in_dev is not None:
        verdict = _hook(world, ns, "prerouting", in_dev, "", src, dst, pkt, sport, dport, state)
        hops.extend(Hop(ns, in_dev, line) for line in verdict.trail)
        if not verdict.accepted:
            return done(_nft_drop(ns, verdict))
        if verdict.nat is not None and verdict.nat[0] == "dnat":
            dst = verdict.nat[1] if verdict.nat[1] is not None else dst
            dport, moved = verdict.nat[2] or dport, True
        if src in space.own:    # fib_validate_source without accept_local
            return done(Drop(ns, in_dev, f"martian source: {ip_str(src)} is an address of {ns} itself "
                                         "(net.ipv4.conf.*.accept_local is 0)"))
        if space.is_local(dst):
            return deliver(in_dev, None)
        if not space.forwarding:
            return done(Drop(ns, in_dev, f"not forwarded to {ip_str(dst)}: net.ipv4.ip_forward is 0 in {ns}"))
    elif space.is_local(dst):
        src = src if src is not None else dst
        for hook in ("output", "postrouting"):
            verdict = _hook(world, ns, hook, "", "lo", src, dst, pkt, sport, dport, state)
            hops.extend(Hop(ns, "lo", line) for line in verdict.trail)
            if not verdict.accepted:
                return done(_nft_drop(ns, verdict), src)
        return deliver("lo", src)
    route = space.lookup(dst)
    origin: int | None = None
    if route is not None and in_dev is None:
        origin = src if src is not None else space.source_for(route.dev, route.gateway or dst)
        if origin is None:
            return done(Drop(ns, route.dev, f"no source address for {ip_str(dst)} on {route.dev}"))
        src = origin
        verdict = _hook(world, ns, "output", "", route.dev, src, dst, pkt, sport, dport, state)
        hops.extend(Hop(ns, route.dev, line) for line in verdict.trail)
        if not verdict.accepted:
            return done(_nft_drop(ns, verdict), origin)
        if verdict.nat is not None and verdict.nat[0] == "dnat":
            dst = verdict.nat[1] if verdict.nat[1] is not None else dst
            dport, moved = verdict.nat[2] or dport, True
            if space.is_local(dst):
                return deliver("lo", origin)
            route = space.lookup(dst)
    if route is None:
        dead = space.dead_route(dst)
        if dead is not None:
            return done(Drop(ns, dead.dev, f"link {dead.dev} is down, so {dead.text} is gone: no route to "
                                           f"{ip_str(dst)}"), origin)
        return done(Drop(ns, "routing table", f"no route to {ip_str(dst)}"), origin)
    hops.append(Hop(ns, route.dev, route.text))
    nexthop = route.gateway if route.gateway is not None else dst
    if in_dev is not None:
        verdict = _hook(world, ns, "forward", in_dev, route.dev, src, dst, pkt, sport, dport, state)
        hops.extend(Hop(ns, in_dev, line) for line in verdict.trail)
        if not verdict.accepted:
            return done(_nft_drop(ns, verdict))
    if ct[3] is not None and ct[4] is not None:    # the request was destination-NATed here
        src = new_src = ct[3]
        sport = ct[4]
        hops.append(Hop(ns, route.dev, f"conntrack: answer leaves from {ip_str(src)}{_port(pkt, sport)}"))
    verdict = _hook(world, ns, "postrouting", in_dev or "", route.dev, src, dst, pkt, sport, dport, state)
    hops.extend(Hop(ns, route.dev, line) for line in verdict.trail)
    if not verdict.accepted:
        return done(_nft_drop(ns, verdict), origin)
    if verdict.nat is not None:
        verb, addr, port = verdict.nat
        picked = space.source_for(route.dev, nexthop) if verb == "masquerade" else addr
        if picked is not None:
            src = new_src = picked
        sport = port if port is not None else sport
    out = egress(world, ns, route.dev, nexthop, pkt.size, pkt.df)
    shift = len(hops)
    return Step(tuple(hops) + out.hops, out.drop, False, origin, new_src, sport if sport != pkt.sport else None,
                dst if moved else None, dport if moved else None, out.size, out.to,
                tuple((n, b, i + shift) for n, b, i in out.bridged),
                origin is None and new_src is None and sport == pkt.sport and not moved and out.size == pkt.size)


@dataclass(frozen=True, slots=True)
class Egress:
    """A routed packet's way out of a namespace: the frame's fate, ``size`` after fragmentation."""

    hops: tuple[Hop, ...]
    drop: Drop | None
    size: int
    to: Device | None
    bridged: tuple[tuple[str, str, int], ...]


def egress(world: World, ns: str, dev: str, nexthop: int, size: int, df: bool) -> Egress:
    """A routed packet leaving ``dev`` of ``ns`` for ``nexthop``: MTU, neighbour, frame."""
    table = world.memo.egress
    key = (ns, dev, nexthop, size, df)
    found = table.get(key)
    if found is None:
        found = table[key] = _egress(world, ns, dev, nexthop, size, df)
    return found


def _egress(world: World, ns: str, dev: str, nexthop: int, size: int, df: bool) -> Egress:
    link = world.namespaces[ns].links[dev]
    hops: tuple[Hop, ...] = ()
    if link.mtu is not None and size > link.mtu:
        if df:
            return Egress((), Drop(ns, dev, f"packet of {size} bytes with DF set exceeds the MTU {link.mtu} of "
                                            f"{dev}"), size, None, ())
        size = 20 + (link.mtu - 20) // 8 * 8
        hops = (Hop(ns, dev, f"fragmented to the MTU {link.mtu} of {dev}"),)
    if link.kind == "loopback":
        return Egress(hops, Drop(ns, dev, "a routed packet cannot leave through the loopback device"), size, None, ())
    resolved = resolve(world, ns, dev, nexthop)
    if resolved.mac is None:
        return Egress(hops, resolved.drop, size, None, ())
    assert resolved.hop is not None
    sent: Frame = frame(world, ns, dev, resolved.mac, size, df).after((*hops, resolved.hop))
    return Egress(sent.hops, sent.drop, size, sent.to, sent.bridged)


def bridged(world: World, ns: str, bridge: str, pkt: Packet, ct: CtKey) -> Step:
    """br_netfilter: a frame forwarded between two ports of ``bridge`` passes the namespace's IPv4 hooks."""
    table = world.memo.bridged
    key = (ns, bridge, world.src_class(pkt.src), pkt.dst, pkt.proto, pkt.sport, pkt.dport, pkt.reply, ct)
    found = table.get(key)
    if found is not None:
        return found
    hops: list[Hop] = []
    src, sport, dst, dport, state = pkt.src, pkt.sport, pkt.dst, pkt.dport, ct[0]
    new_src: int | None = None
    moved = ct[1] is not None and ct[2] is not None
    if ct[1] is not None and ct[2] is not None:
        dst, dport = ct[1], ct[2]
    drop: Drop | None = None
    for hook in ("prerouting", "forward", "postrouting"):
        if hook == "postrouting" and ct[3] is not None and ct[4] is not None:
            src = new_src = ct[3]
            sport = ct[4]
        verdict = _hook(world, ns, hook, bridge, "" if hook == "prerouting" else bridge, src, dst, pkt, sport,
                        dport, state)
        hops.extend(Hop(ns, bridge, f"{line} (bridged)") for line in verdict.trail)
        if not verdict.accepted:
            drop = _nft_drop(ns, verdict)
            break
        if verdict.nat is not None and verdict.nat[0] == "dnat":
            raise NotSupportedError(f"nft in netns {ns!r}: DNAT of traffic bridged by {bridge} (br_netfilter "
                                    "re-routing) is not modelled by the packet walker")
        if verdict.nat is not None:
            verb, addr, port = verdict.nat
            picked = world.namespaces[ns].source_for(bridge, dst) if verb == "masquerade" else addr
            if picked is not None:
                src = new_src = picked
            sport = port if port is not None else sport
    found = table[key] = Step(tuple(hops), drop, False, None, new_src, sport if sport != pkt.sport else None,
                              dst if moved else None, dport if moved else None, pkt.size,
                              plain=new_src is None and sport == pkt.sport and not moved)
    return found
