"""Layer 2 for the packet walker: unicast frames over veths, bridges, macvlans and VXLAN.

Kernel behaviour modelled (net/bridge, drivers/net/veth.c, macvlan.c, vxlan):

* a **veth** hands the frame to its peer, which must be up and whose MTU the
  frame must fit (``is_skb_forwardable``);
* a **bridge** delivers a frame for its own MAC or a port's MAC to its own stack;
  otherwise it sends it out the port behind which the MAC lives (the result of
  learning: every device that can send into a port, through veths, nested bridges
  and macvlans, is "behind" it), never back out the port it came in on; a MAC it
  cannot have learned (VXLAN ports do not learn) is flooded to the VXLAN ports
  (and ports leading to further VXLANs). Ports that are down or without carrier
  do not forward. Frames forwarded between two ports pass br_netfilter: the
  caller evaluates the bridge namespace's nft hooks at the points listed in
  :attr:`Frame.bridged` (frames the bridge's own stack sends pass none);
* a **macvlan** in bridge mode delivers to a sibling on the same lower device
  directly, anything else leaves through the lower device's wire (so, as on real
  hardware, a macvlan never reaches its own parent); a frame arriving on a lower
  device for a macvlan's MAC goes to that macvlan;
* a **VXLAN** device sends a frame to the VTEPs of the FDB entry for its MAC, else
  of the all-zero (flood) entries, else drops it; the encapsulated UDP packet
  (50 bytes more) is routed in the namespace of the VXLAN's socket (an L3 walk of
  its own, :func:`netlab.backends.walk_leg.tunnel`, where DF and the underlay's
  MTU decide as for any packet) and decapsulated by the VXLAN device with the
  same VNI and port whose socket lives where it is delivered;
* ARP and broadcast are in :mod:`netlab.backends.walk_arp`.

Results are memoised in the World (they depend only on the arguments).
"""

from __future__ import annotations

from dataclasses import dataclass

from netlab.backends.walk_types import Drop, Hop
from netlab.backends.world import ZERO_MAC, World, ip_str
from netlab.errors import NotSupportedError

__all__ = ["ARP_SIZE", "Device", "Frame", "VXLAN_OVERHEAD", "frame", "learned", "own_macs"]

ARP_SIZE = 28
VXLAN_OVERHEAD = 50
_MAX_DEPTH = 48

Device = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Frame:
    """Where a frame went: received at L3 by ``to`` (namespace, device), or dropped (``drop``).
    ``bridged`` lists (namespace, bridge, hop index) where br_netfilter runs the nft hooks."""

    hops: tuple[Hop, ...]
    to: Device | None
    drop: Drop | None
    bridged: tuple[tuple[str, str, int], ...] = ()

    def after(self, hops: tuple[Hop, ...]) -> Frame:
        """This result with ``hops`` in front."""
        if not hops:
            return self
        if not self.bridged:
            return Frame(hops + self.hops, self.to, self.drop)
        shift = len(hops)
        return Frame(hops + self.hops, self.to, self.drop, tuple((n, b, i + shift) for n, b, i in self.bridged))


def _dropped(ns: str, obj: str, reason: str, hops: tuple[Hop, ...] = ()) -> Frame:
    return Frame(hops, None, Drop(ns, obj, reason))


def frame(world: World, ns: str, dev: str, mac: str, size: int, df: bool) -> Frame:
    """Send a frame (an IPv4 packet of ``size`` bytes) to ``mac`` out of ``dev`` in ``ns``."""
    table = world.memo.frame
    key = (ns, dev, mac, size, df)
    found = table.get(key)
    if found is None:
        found = table[key] = _tx(world, ns, dev, mac, size, df, 0)
    return found


def _tx(world: World, ns: str, dev: str, mac: str, size: int, df: bool, depth: int) -> Frame:
    link = world.link(ns, dev)
    if link is None:
        return _dropped(ns, dev, f"no link {dev}")
    if depth > _MAX_DEPTH:
        return _dropped(ns, dev, "layer-2 loop")
    if not link.up:
        return _dropped(ns, dev, f"link {dev} is down")
    if link.kind == "veth":
        peer = world.link(*link.link) if link.link is not None else None
        if peer is None or link.link is None or link.link[1] is None:
            return _dropped(ns, dev, f"the peer of veth {dev} is not in the snapshot")
        pns, pdev = link.link[0], link.link[1]
        if not peer.up:
            return _dropped(pns, pdev, f"link {pdev} (peer of {dev} in {ns}) is down")
        if peer.mtu is not None and size > peer.mtu:
            return _dropped(pns, pdev, f"frame of {size} bytes exceeds the MTU {peer.mtu} of {pdev}")
        return _rx(world, pns, pdev, mac, size, df, depth + 1).after((Hop(ns, dev, f"veth -> {pns} {pdev}"),))
    if link.kind == "bridge":
        return _bridge(world, ns, dev, None, mac, size, df, depth + 1)
    if link.kind == "macvlan":
        return _macvlan_tx(world, ns, dev, mac, size, df, depth)
    if link.kind == "vxlan":
        return _vxlan(world, ns, dev, mac, size, df, depth)
    if link.kind == "loopback":
        return _dropped(ns, dev, "a frame cannot leave through the loopback device")
    raise NotSupportedError(f"the packet walker does not model {link.kind} devices ({dev} in {ns})")


def _macvlan_tx(world: World, ns: str, dev: str, mac: str, size: int, df: bool, depth: int) -> Frame:
    link = world.link(ns, dev)
    assert link is not None
    if link.link is None or link.link[1] is None or world.link(*link.link) is None:
        return _dropped(ns, dev, f"the lower device of macvlan {dev} is not in the snapshot")
    lower: Device = (link.link[0], link.link[1])
    mode = str(link.info[0]) if link.info else "bridge"
    if mode == "bridge":
        for sns, sdev in world.macvlans.get(lower, ()):
            sibling = world.link(sns, sdev)
            if sibling is None or (sns, sdev) == (ns, dev) or sibling.mac != mac:
                continue
            if (str(sibling.info[0]) if sibling.info else "bridge") != "bridge":
                break
            if not sibling.up:
                return _dropped(sns, sdev, f"link {sdev} is down")
            hop = Hop(ns, dev, f"macvlan (bridge mode) -> {sns} {sdev}")
            if sibling.mtu is not None and size > sibling.mtu:
                return _dropped(sns, sdev, f"frame of {size} bytes exceeds the MTU {sibling.mtu} of {sdev}", (hop,))
            return Frame((hop,), (sns, sdev), None)
    hop = Hop(ns, dev, f"macvlan ({mode} mode) -> out through {lower[0]} {lower[1]}")
    return _tx(world, lower[0], lower[1], mac, size, df, depth + 1).after((hop,))


def _rx(world: World, ns: str, dev: str, mac: str, size: int, df: bool, depth: int) -> Frame:
    """``dev`` receives the frame: a bridge port hands it to its bridge, a lower device to its macvlan."""
    link = world.link(ns, dev)
    if link is None or not link.up:
        return _dropped(ns, dev, f"link {dev} is down")
    if link.master is not None:
        return _bridge(world, ns, link.master, dev, mac, size, df, depth + 1)
    for cns, cdev in world.macvlans.get((ns, dev), ()):
        child = world.link(cns, cdev)
        if child is None or child.mac != mac:
            continue
        hop = Hop(ns, dev, f"macvlan -> {cns} {cdev}")
        if not child.up:
            return _dropped(cns, cdev, f"link {cdev} is down", (hop,))
        if child.mtu is not None and size > child.mtu:
            return _dropped(cns, cdev, f"frame of {size} bytes exceeds the MTU {child.mtu} of {cdev}", (hop,))
        return Frame((hop,), (cns, cdev), None)
    if mac == link.mac:
        return Frame((), (ns, dev), None)
    return _dropped(ns, dev, f"frame for {mac} is not for {dev} ({link.mac}) and nothing behind it has that MAC")


def own_macs(world: World, ns: str, bridge: str) -> frozenset[str]:
    """MACs a bridge delivers to its own stack: its own and its ports' (the bridge's local FDB entries)."""
    table = world.memo.own_macs
    found = table.get((ns, bridge))
    if found is None:
        space = world.namespaces[ns]
        macs = {space.links[p].mac for p in space.ports.get(bridge, ())} | {space.links[bridge].mac}
        found = table[(ns, bridge)] = frozenset(m for m in macs if m)
    return found


def learned(world: World, ns: str, bridge: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """(MAC -> port behind which it lives, ports that unknown MACs are flooded to)."""
    table = world.memo.learned
    found = table.get((ns, bridge))
    if found is None:
        macs: dict[str, str] = {}
        flood: list[str] = []
        for port in world.namespaces[ns].ports.get(bridge, ()):
            behind, further = _behind(world, ns, port, {(ns, bridge)})
            for mac in sorted(behind):
                macs.setdefault(mac, port)
            if further:
                flood.append(port)
        found = table[(ns, bridge)] = (macs, tuple(flood))
    return found


def _behind(world: World, ns: str, port: str, seen: set[Device]) -> tuple[set[str], bool]:
    """MACs that can send into ``port`` (so a bridge learns them there) and whether unknown MACs may lie beyond."""
    link = world.link(ns, port)
    if link is None or link.kind != "veth" or link.link is None or link.link[1] is None:
        return set(), link is not None and link.kind != "loopback"   # a VXLAN (no learning) or another kind
    pns, pdev = link.link[0], link.link[1]
    peer = world.link(pns, pdev)
    if peer is None or (pns, pdev) in seen:
        return set(), False
    seen.add((pns, pdev))
    macs = {peer.mac} if peer.mac else set()
    further = False
    for cns, cdev in world.macvlans.get((pns, pdev), ()):
        child = world.link(cns, cdev)
        if child is not None and child.mac:
            macs.add(child.mac)
    if peer.master is not None and (pns, peer.master) not in seen:
        seen.add((pns, peer.master))
        macs |= own_macs(world, pns, peer.master)
        for other in world.namespaces[pns].ports.get(peer.master, ()):
            if other != pdev:
                more, beyond = _behind(world, pns, other, seen)
                macs |= more
                further = further or beyond
    return macs, further


def _bridge(world: World, ns: str, bridge: str, ingress: str | None, mac: str, size: int, df: bool,
            depth: int) -> Frame:
    table = world.memo.bridge
    macs, flood = learned(world, ns, bridge)
    # the result does not depend on the ingress port unless it is one of several flood ports
    exclude = ingress if ingress in flood and len(flood) > 1 and mac not in macs else None
    key = (ns, bridge, mac, size, df, exclude)
    found = table.get(key)
    if found is None:
        found = table[key] = _bridge_forward(world, ns, bridge, mac, size, df, depth, exclude)
    result, port = found
    if ingress is None:   # sent by the bridge's own stack: br_netfilter runs no IPv4 hook on it (no forwarding)
        if result.bridged[:1] == ((ns, bridge, 1),):
            result = Frame(result.hops, result.to, result.drop, result.bridged[1:])
        return result
    if port == ingress:
        if macs.get(mac) == ingress:
            return _dropped(ns, bridge, f"{mac} is behind port {ingress}, where the frame came in")
        return _dropped(ns, bridge, f"no port of {bridge} other than {ingress}, where the frame came in, "
                                    f"leads to {mac}")
    return result


def _bridge_forward(world: World, ns: str, bridge: str, mac: str, size: int, df: bool,
                    depth: int, exclude: str | None) -> tuple[Frame, str | None]:
    """The frame's fate and the port it leaves by (None: it does not leave by a port)."""
    link = world.link(ns, bridge)
    if link is None or not link.up:
        return _dropped(ns, bridge, f"bridge {bridge} is down"), None
    if mac in own_macs(world, ns, bridge):
        return Frame((Hop(ns, bridge, f"bridge {bridge} -> its own stack"),), (ns, bridge), None), None
    macs, flood = learned(world, ns, bridge)
    port = macs.get(mac)
    candidates = (port,) if port is not None else tuple(p for p in flood if p != exclude)
    how = "" if port is not None else f" (flood: {mac} is not learned)"
    bridged = ((ns, bridge, 1),) if world.namespaces[ns].nft is not None else ()   # after the bridge hop
    failure: tuple[Frame, str | None] | None = None
    for candidate in candidates:
        plink = world.link(ns, candidate)
        if plink is None or not world.carrier(ns, candidate):
            failure = failure or (_dropped(ns, candidate, f"bridge port {candidate} is down or has no carrier"), None)
            continue
        hop = Hop(ns, bridge, f"bridge {bridge} -> {candidate}{how}")
        if plink.mtu is not None and size > plink.mtu:
            return _dropped(ns, candidate, f"frame of {size} bytes exceeds the MTU {plink.mtu} of {candidate}",
                            (hop,)), candidate
        result = _tx(world, ns, candidate, mac, size, df, depth + 1).after((hop,))
        result = Frame(result.hops, result.to, result.drop, bridged + result.bridged)
        if result.to is not None:
            return result, candidate
        failure = failure or (result, candidate)
    if failure is not None:
        return failure
    return _dropped(ns, bridge, f"no device with MAC {mac} in the L2 domain of bridge {bridge}"), None


def _vxlan(world: World, ns: str, dev: str, mac: str, size: int, df: bool, depth: int) -> Frame:
    from netlab.backends.walk_leg import tunnel  # layer 3 builds on this module

    link = world.link(ns, dev)
    assert link is not None
    if link.info is None or link.link is None:
        return _dropped(ns, dev, f"VXLAN {dev} has no VNI or underlay in the snapshot")
    vni, local, port = int(link.info[0]), str(link.info[1]), int(link.info[2])
    space = world.namespaces[ns]
    vteps, how = space.fdb.get((dev, mac), ()), "fdb"
    if not vteps:
        vteps, how = space.fdb.get((dev, ZERO_MAC), ()), "flood entry"
    if not vteps:
        return _dropped(ns, dev, f"VXLAN {dev} has no FDB entry for {mac} and no flood entry ({ZERO_MAC})")
    failure: Frame | None = None
    for vtep in vteps:
        encap = Hop(ns, dev, f"vxlan encap vni {vni}: {how} {mac} -> {ip_str(vtep)}")
        outer = tunnel(world, link.link[0], local, vtep, port, size + VXLAN_OVERHEAD, df)
        hops = (encap, *outer.hops)
        if outer.drop is not None or outer.to is None:
            failure = failure or Frame(hops, None, outer.drop)
            continue
        target = world.vxlan_sockets.get((outer.to[0], port, vni))
        if target is None:
            why = (f"no VXLAN device for VNI {vni} on UDP port {port} here" if (outer.to[0], port) in
                   world.vxlan_ports else f"nothing listens on UDP port {port} here (no VXLAN device is up)")
            failure = failure or _dropped(outer.to[0], f"udp port {port}", why, hops)
            continue
        decap = Hop(target[0], target[1], f"vxlan decap vni {vni} from {local}")
        result = _rx(world, target[0], target[1], mac, size, df, depth + 1).after((*hops, decap))
        if result.to is not None:
            return result
        failure = failure or result
    assert failure is not None
    return failure
