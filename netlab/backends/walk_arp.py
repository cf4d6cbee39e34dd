"""ARP and broadcast for the packet walker: who answers for an address, and whether the answer gets back.

:func:`resolve` gives the MAC of a next hop: a permanent neighbour entry, else
an ARP request broadcast through the L2 domain (:func:`broadcast`: veths,
bridges flooding to every port with carrier but the one it came in on,
macvlans in bridge mode to their siblings and out through the lower device,
VXLAN devices to the VTEPs of their flood entries, encapsulated over the
underlay). A namespace owning the address on any up link answers with the
MAC of the device that received the request (``arp_ignore=0``), and the
answer, a unicast frame to the asker, must make it back
(:func:`netlab.backends.walk_l2.frame`); over veths, bridges and macvlans it
takes the request's way back, across a VXLAN it is checked (the FDB of the far
side decides). When nobody answers, the drop names what stopped the request or
the answer where the walker can tell.
"""

from __future__ import annotations

from dataclasses import dataclass

from netlab.backends.walk_l2 import ARP_SIZE, VXLAN_OVERHEAD, Device, frame
from netlab.backends.walk_types import Drop, Hop
from netlab.backends.world import BROADCAST_MAC, ZERO_MAC, World, ip_str

__all__ = ["Broadcast", "Resolution", "arp_table", "broadcast", "resolve"]

_MAX_DEPTH = 48


@dataclass(frozen=True, slots=True)
class Broadcast:
    """The devices a broadcast reaches, at L3, in order; those of them it reached through a VXLAN
    (``far``: an answer may not take the way back); and the places it could not pass (each with the
    namespace beyond it when known)."""

    receivers: tuple[Device, ...]
    far: frozenset[Device]
    blocked: tuple[tuple[Drop, str | None], ...]


def broadcast(world: World, ns: str, dev: str) -> Broadcast:
    """Flood a broadcast frame out of ``dev`` in ``ns`` through its whole L2 domain."""
    table = world.memo.broadcast
    found = table.get((ns, dev))
    if found is None:
        walk = _Flood(world)
        walk.tx(ns, dev, 0, False)
        found = table[(ns, dev)] = Broadcast(tuple(walk.receivers), frozenset(walk.far), tuple(walk.blocked))
    return found


class _Flood:
    """One broadcast's way through an L2 domain (``far`` is set once it has crossed a VXLAN)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.receivers: list[Device] = []
        self.far: set[Device] = set()
        self.blocked: list[tuple[Drop, str | None]] = []
        self.seen: set[Device] = set()

    def receive(self, device: Device, far: bool) -> None:
        self.receivers.append(device)
        if far:
            self.far.add(device)

    def down(self, ns: str, dev: str, why: str) -> None:
        """Note a device the broadcast could not pass (what lies beyond it: its own namespace)."""
        self.blocked.append((Drop(ns, dev, why), ns))

    def tx(self, ns: str, dev: str, depth: int, far: bool) -> None:
        world = self.world
        link = world.link(ns, dev)
        if link is None or depth > _MAX_DEPTH:
            return
        if not link.up:
            return self.down(ns, dev, f"link {dev} is down")
        if link.kind == "veth" and link.link is not None and link.link[1] is not None:
            self.rx(link.link[0], link.link[1], depth + 1, far)
        elif link.kind == "bridge":
            self.flood(ns, dev, None, depth + 1, far)
        elif link.kind == "macvlan" and link.link is not None and link.link[1] is not None:
            lower = (link.link[0], link.link[1])
            if (str(link.info[0]) if link.info else "bridge") == "bridge":
                for sibling in world.macvlans.get(lower, ()):
                    slink = world.link(*sibling)
                    if sibling != (ns, dev) and slink is not None and slink.up and (
                            str(slink.info[0]) if slink.info else "bridge") == "bridge":
                        self.receive(sibling, far)
            self.tx(lower[0], lower[1], depth + 1, far)
        elif link.kind == "vxlan":
            self.vxlan(ns, dev, depth)

    def vxlan(self, ns: str, dev: str, depth: int) -> None:
        from netlab.backends.walk_leg import tunnel

        world = self.world
        link = world.link(ns, dev)
        assert link is not None
        if link.info is None or link.link is None:
            return
        vni, local, port = int(link.info[0]), str(link.info[1]), int(link.info[2])
        space = world.namespaces[ns]
        vteps = space.fdb.get((dev, BROADCAST_MAC), ()) or space.fdb.get((dev, ZERO_MAC), ())
        if not vteps:
            self.blocked.append((Drop(ns, dev, f"VXLAN {dev} has no flood entry ({ZERO_MAC})"), None))
        for vtep in vteps:
            outer = tunnel(world, link.link[0], local, vtep, port, ARP_SIZE + VXLAN_OVERHEAD, False)
            if outer.drop is not None or outer.to is None:
                if outer.drop is not None:
                    self.blocked.append((outer.drop, None))
                continue
            target = world.vxlan_sockets.get((outer.to[0], port, vni))
            if target is None:
                self.blocked.append((Drop(outer.to[0], f"udp port {port}",
                                          f"no VXLAN device for VNI {vni} on UDP port {port} here"), None))
            else:
                self.rx(target[0], target[1], depth + 1, True)

    def rx(self, ns: str, dev: str, depth: int, far: bool) -> None:
        if (ns, dev) in self.seen:
            return
        self.seen.add((ns, dev))
        link = self.world.link(ns, dev)
        if link is None:
            return
        if not link.up:
            return self.down(ns, dev, f"link {dev} is down")
        if link.master is not None:
            return self.flood(ns, link.master, dev, depth + 1, far)
        self.receive((ns, dev), far)
        for child in self.world.macvlans.get((ns, dev), ()):
            clink = self.world.link(*child)
            if clink is not None and clink.up:
                self.receive(child, far)

    def flood(self, ns: str, bridge: str, ingress: str | None, depth: int, far: bool) -> None:
        if (ns, bridge) in self.seen and ingress is None:
            return
        self.seen.add((ns, bridge))
        link = self.world.link(ns, bridge)
        if link is None or not link.up:
            self.blocked.append((Drop(ns, bridge, f"bridge {bridge} is down"), None))
            return
        if ingress is not None:
            self.receive((ns, bridge), far)
        for port in self.world.namespaces[ns].ports.get(bridge, ()):
            if port == ingress:
                continue
            plink = self.world.link(ns, port)
            if plink is None or not plink.up:
                self.down(ns, port, f"link {port} is down")
            elif not self.world.carrier(ns, port) and plink.link is not None and plink.link[1] is not None:
                self.down(plink.link[0], plink.link[1], f"link {plink.link[1]} is down")
            else:
                self.tx(ns, port, depth + 1, far)


def arp_table(world: World, ns: str, dev: str) -> dict[int, tuple[Device, ...]]:
    """Address -> the devices that receive an ARP request sent out of ``dev`` and would answer for it."""
    table = world.memo.arp_table
    found = table.get((ns, dev))
    if found is None:
        answers: dict[int, list[Device]] = {}
        for receiver in broadcast(world, ns, dev).receivers:
            for ip in world.namespaces[receiver[0]].local:
                answers.setdefault(ip, []).append(receiver)
        found = table[(ns, dev)] = {ip: tuple(devices) for ip, devices in answers.items()}
    return found


@dataclass(frozen=True, slots=True)
class Resolution:
    """A next hop's MAC and how it was learnt (``hop``), or why there is none (``drop``)."""

    mac: str | None
    hop: Hop | None
    drop: Drop | None


def resolve(world: World, ns: str, dev: str, ip: int) -> Resolution:
    """The MAC the next hop ``ip`` has on ``dev``: a permanent neighbour entry, else ARP."""
    table = world.memo.resolve
    key = (ns, dev, ip)
    found = table.get(key)
    if found is None:
        found = table[key] = _resolve(world, ns, dev, ip)
    return found


def _resolve(world: World, ns: str, dev: str, ip: int) -> Resolution:
    text = ip_str(ip)
    permanent = world.namespaces[ns].neighbours.get((dev, ip))
    if permanent is not None:
        return Resolution(permanent, Hop(ns, dev, f"neighbour {text} lladdr {permanent} (permanent)"), None)
    link = world.link(ns, dev)
    assert link is not None and link.mac is not None
    failure: Drop | None = None
    far = broadcast(world, ns, dev).far
    for rns, rdev in arp_table(world, ns, dev).get(ip, ()):
        answer = world.link(rns, rdev)
        assert answer is not None and answer.mac is not None
        if (rns, rdev) not in far:   # over veths, bridges and macvlans the answer takes the request's way back
            return Resolution(answer.mac, Hop(ns, dev, f"arp {text} is-at {answer.mac} ({rns} {rdev})"), None)
        back = frame(world, rns, rdev, link.mac, ARP_SIZE, False)
        if back.to == (ns, dev):
            return Resolution(answer.mac, Hop(ns, dev, f"arp {text} is-at {answer.mac} ({rns} {rdev})"), None)
        failure = failure or back.drop
    what = f"ARP request for {text} from {dev} in {ns}"
    if failure is not None:
        return Resolution(None, None, Drop(failure.ns, failure.obj, f"{failure.reason} (the reply to the {what})"))
    for blocked, beyond in broadcast(world, ns, dev).blocked:
        if beyond is None or ip in world.namespaces[beyond].own:    # it stopped the way to the address's owner
            return Resolution(None, None, Drop(blocked.ns, blocked.obj, f"{blocked.reason} (so the {what} got no "
                                                                         "reply)"))
    if link.kind == "macvlan" and link.link is not None and link.link[0] in world.namespaces \
            and world.namespaces[link.link[0]].is_local(ip):
        return Resolution(None, None, Drop(ns, dev, f"no ARP reply for {text} on {dev}: {text} belongs to "
                                                    f"{link.link[0]}, where {dev}'s lower device {link.link[1]} is, "
                                                    "and a macvlan never reaches its own parent"))
    return Resolution(None, None, Drop(ns, dev, f"no ARP reply for {text} on {dev}: nothing in its L2 domain "
                                                "has that address"))
