"""World: a read-only index of a :data:`~netlab.backends.Snapshot` for the packet walker.

:meth:`World.from_snapshot` builds, once, what every walk looks up: per
namespace the local addresses, the routing table (static routes of up links
plus the connected subnets of up links' addresses, as integer prefixes sorted
longest first), ``ip_forward``, VXLAN FDB and permanent neighbour entries, and
the compiled nft ruleset (:mod:`netlab.backends.walk_nft`); across namespaces
the ports of every bridge, the macvlans of every lower device and the VXLAN
devices by (socket namespace, UDP port, VNI). The same index serves a
simulated lab's snapshot and a kernel lab's, since both carry
:attr:`~netlab.backends.LinkState.link`.

The walker keeps its memo tables in :attr:`World.memo` (a :class:`Memo`): a World never changes
after it is built, so a result computed once holds for the World's life.

>>> from netlab.backends import LinkState, NamespaceState
>>> ns = NamespaceState(links={"lo": LinkState("lo", "loopback", True),
...                            "eth0": LinkState("eth0", "veth", True, "02:00:00:00:00:01", 1500)},
...                     addresses={("eth0", "10.0.0.2/24")}, routes={("default", "10.0.0.1", "eth0")})
>>> world = World.from_snapshot({"a": ns})
>>> route = world.namespaces["a"].lookup(ip_int("8.8.8.8"))
>>> route.text, ip_str(route.gateway or 0)
('route default via 10.0.0.1 dev eth0', '10.0.0.1')
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from netlab.backends import LinkState, NamespaceState, Snapshot
from netlab.backends.walk_nft import Ruleset, Verdict
from netlab.backends.walk_nft_expr import C_DADDR, C_SADDR, AddrTest
from netlab.errors import InvalidRequestError, NotFoundError

if TYPE_CHECKING:
    from netlab.backends.walk_arp import Broadcast, Resolution
    from netlab.backends.walk_l2 import Frame
    from netlab.backends.walk_l3 import Egress, Step
    from netlab.backends.walk_leg import Rest, Tunnel

__all__ = ["Memo", "Namespace", "Route", "World", "ip_int", "ip_str"]

ZERO_MAC = "00:00:00:00:00:00"
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
_FULL = 0xFFFFFFFF

_TO_INT: dict[str, int] = {}
_TO_STR: dict[int, str] = {}


def ip_int(text: str) -> int:
    """An IPv4 address as an int (``InvalidRequestError`` for anything else)."""
    value = _TO_INT.get(text)
    if value is None:
        try:
            value = int(ipaddress.IPv4Address(text))
        except ValueError:
            raise InvalidRequestError(f"{text!r} is not an IPv4 address") from None
        _TO_INT[text] = value
    return value


def ip_str(value: int) -> str:
    """Dotted-quad text of an IPv4 address held as an int."""
    text = _TO_STR.get(value)
    if text is None:
        text = _TO_STR[value] = str(ipaddress.IPv4Address(value))
    return text


def _mask(prefixlen: int) -> int:
    return (_FULL << (32 - prefixlen)) & _FULL


@dataclass(frozen=True, slots=True)
class Route:
    """One usable route: ``dst & mask == net`` goes out ``dev`` (via ``gateway`` when set)."""

    prefixlen: int
    net: int
    mask: int
    gateway: int | None
    dev: str
    text: str           # e.g. "route 10.0.1.0/24 dev eth0", "route default via 10.0.1.1 dev eth0"
    index: int = 0      # position in the namespace's table (a cheap key for memo tables)


@dataclass(slots=True)
class Namespace:
    """One namespace as the walker needs it (built by :meth:`World.from_snapshot`)."""

    name: str
    links: dict[str, LinkState]
    #: up links' addresses: address -> device
    local: dict[int, str]
    #: every address configured here, on links up or down (a packet arriving from one is a martian)
    own: frozenset[int]
    #: networks that are local as a whole (an address on a loopback device): (net, mask)
    local_nets: tuple[tuple[int, int], ...]
    #: per device, (address, prefixlen), sorted; of up and down links
    addresses: dict[str, tuple[tuple[int, int], ...]]
    #: usable routes, longest prefix first
    routes: tuple[Route, ...]
    #: static routes through a link that is down or missing (to explain a missing route)
    dead_routes: tuple[Route, ...]
    forwarding: bool
    fdb: dict[tuple[str, str], tuple[int, ...]]
    neighbours: dict[tuple[str, int], str]
    #: bridge -> its ports, by ifindex
    ports: dict[str, tuple[str, ...]]
    nft: Ruleset | None

    def is_local(self, ip: int) -> bool:
        """``ip`` is one of this namespace's addresses (on any up link), as Linux's local table says."""
        if ip in self.local:
            return True
        for net, mask in self.local_nets:
            if ip & mask == net:
                return True
        return False

    def lookup(self, ip: int) -> Route | None:
        """The longest-prefix route to ``ip`` among usable routes (None: no route)."""
        for route in self.routes:
            if ip & route.mask == route.net:
                return route
        return None

    def dead_route(self, ip: int) -> Route | None:
        """A route to ``ip`` that would exist if its link were up."""
        return next((r for r in self.dead_routes if ip & r.mask == r.net), None)

    def source_for(self, dev: str, nexthop: int) -> int | None:
        """The source address Linux picks for a packet out ``dev`` to ``nexthop`` (``inet_select_addr``):
        an address of ``dev`` whose subnet holds the next hop, else the first of ``dev``, else the first
        global address of another up link."""
        own = self.addresses.get(dev, ())
        for ip, plen in own:
            if nexthop & _mask(plen) == ip & _mask(plen):
                return ip
        if own:
            return own[0][0]
        for name, link in sorted(self.links.items(), key=lambda item: (item[1].ifindex or 0, item[0])):
            if link.up and link.kind != "loopback" and self.addresses.get(name):
                return self.addresses[name][0][0]
        return None


Key = tuple[Any, ...]


@dataclass(slots=True)
class Memo:
    """The walker's memo tables, one per kind of result (see the modules that fill them)."""

    src_class: dict[int, Any] = field(default_factory=dict)
    dst_class: dict[int, Any] = field(default_factory=dict)
    hook: dict[Key, Verdict] = field(default_factory=dict)
    visit: dict[Key, Step] = field(default_factory=dict)
    sent: dict[Key, Step] = field(default_factory=dict)
    rest: dict[Key, Rest] = field(default_factory=dict)
    egress: dict[Key, Egress] = field(default_factory=dict)
    bridged: dict[Key, Step] = field(default_factory=dict)
    tunnel: dict[Key, Tunnel] = field(default_factory=dict)
    tunnel_busy: dict[Key, bool] = field(default_factory=dict)
    frame: dict[Key, Frame] = field(default_factory=dict)
    bridge: dict[Key, tuple[Frame, str | None]] = field(default_factory=dict)
    own_macs: dict[Key, frozenset[str]] = field(default_factory=dict)
    learned: dict[Key, tuple[dict[str, str], tuple[str, ...]]] = field(default_factory=dict)
    broadcast: dict[Key, Broadcast] = field(default_factory=dict)
    arp_table: dict[Key, dict[int, tuple[tuple[str, str], ...]]] = field(default_factory=dict)
    resolve: dict[Key, Resolution] = field(default_factory=dict)


@dataclass(slots=True)
class World:
    """The index of one snapshot; build it with :meth:`from_snapshot`."""

    namespaces: dict[str, Namespace]
    #: lower device (ns, dev) -> its macvlans (ns, dev)
    macvlans: dict[tuple[str, str], tuple[tuple[str, str], ...]]
    #: (namespace of the UDP socket, port, VNI) -> the up VXLAN device (ns, dev) that decapsulates
    vxlan_sockets: dict[tuple[str, int, int], tuple[str, str]]
    #: namespaces holding a UDP socket for VXLAN port p: (ns, port)
    vxlan_ports: frozenset[tuple[str, int]]
    #: what the rulesets can tell about addresses, for sources and for destinations: (the addresses some rule
    #: compares with, the other tests); an address's class is which of them it is and passes, and no rule can
    #: tell apart two sources (destinations) of one class
    saddr_tests: tuple[frozenset[int], tuple[Callable[[int], bool], ...]]
    daddr_tests: tuple[frozenset[int], tuple[Callable[[int], bool], ...]]
    memo: Memo = field(default_factory=Memo)

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> World:
        """Index ``snapshot`` (namespace -> state) for walks."""
        namespaces = {name: _namespace(name, state) for name, state in snapshot.items()}
        macvlans: dict[tuple[str, str], list[tuple[str, str]]] = {}
        sockets: dict[tuple[str, int, int], tuple[str, str]] = {}
        for name, ns in sorted(namespaces.items()):
            for link in sorted(ns.links.values(), key=lambda x: (x.ifindex or 0, x.name)):
                if link.kind == "macvlan" and link.link is not None and link.link[1] is not None:
                    macvlans.setdefault((link.link[0], link.link[1]), []).append((name, link.name))
                if link.kind == "vxlan" and link.up and link.info is not None and link.link is not None:
                    vni, port = int(link.info[0]), int(link.info[2])
                    sockets.setdefault((link.link[0], port, vni), (name, link.name))
        tests: dict[str, AddrTest] = {}
        for ns in namespaces.values():
            if ns.nft is not None:
                for key, test in ns.nft.addr_tests.items():
                    tests.setdefault(key, test)
        return cls(namespaces, {k: tuple(v) for k, v in macvlans.items()}, sockets,
                   frozenset((ns, port) for ns, port, _ in sockets), _tests(tests, C_SADDR), _tests(tests, C_DADDR))

    def namespace(self, name: str) -> Namespace:
        ns = self.namespaces.get(name)
        if ns is None:
            raise NotFoundError(f"namespace {name!r} is not in the snapshot")
        return ns

    def link(self, ns: str, dev: str | None) -> LinkState | None:
        space = self.namespaces.get(ns)
        return None if space is None or dev is None else space.links.get(dev)

    def src_class(self, ip: int | None) -> Any:
        """What the rulesets can tell about a source address (the ``ip saddr`` tests); True for None."""
        if ip is None:
            return True
        table = self.memo.src_class
        value = table.get(ip)
        if value is None:
            exact, tests = self.saddr_tests
            value = table[ip] = (ip if ip in exact else -1, tuple(test(ip) for test in tests))
        return value

    def dst_class(self, ip: int) -> Any:
        """What the rulesets can tell about a destination address (the ``ip daddr`` tests)."""
        table = self.memo.dst_class
        value = table.get(ip)
        if value is None:
            exact, tests = self.daddr_tests
            value = table[ip] = (ip if ip in exact else -1, tuple(test(ip) for test in tests))
        return value

    def carrier(self, ns: str, dev: str) -> bool:
        """The link is up and has carrier: a veth's peer is up, a macvlan's lower device has carrier."""
        link = self.link(ns, dev)
        if link is None or not link.up:
            return False
        if link.kind == "veth":
            peer = self.link(*link.link) if link.link is not None else None
            return peer is not None and peer.up
        if link.kind == "macvlan" and link.link is not None and link.link[1] is not None:
            return self.carrier(link.link[0], link.link[1])
        return True


def _tests(tests: Mapping[str, AddrTest], which: int) -> tuple[frozenset[int], tuple[Callable[[int], bool], ...]]:
    """The addresses the rules on field ``which`` compare with, and their other tests."""
    exact: set[int] = set()
    others: list[Callable[[int], bool]] = []
    for key in sorted(tests):
        where, test = tests[key]
        if where != which:
            continue
        if isinstance(test, frozenset):
            exact |= test
        else:
            others.append(test)
    return frozenset(exact), tuple(others)


def _route_text(prefixlen: int, net: int, gateway: int | None, dev: str) -> str:
    where = "default" if prefixlen == 0 else f"{ip_str(net)}/{prefixlen}"
    return f"route {where}" + (f" via {ip_str(gateway)}" if gateway is not None else "") + f" dev {dev}"


def _namespace(name: str, state: NamespaceState) -> Namespace:
    links = dict(state.links)
    up = {n for n, link in links.items() if link.up}
    addresses: dict[str, list[tuple[int, int]]] = {}
    local: dict[int, str] = {}
    local_nets: list[tuple[int, int]] = []
    connected: list[Route] = []
    dead: list[Route] = []
    for dev, cidr in sorted(state.addresses):
        try:
            iface = ipaddress.IPv4Interface(cidr)
        except ValueError:
            raise InvalidRequestError(f"namespace {name!r}: address {cidr!r} on {dev!r} is not IPv4") from None
        ip, plen = int(iface.ip), iface.network.prefixlen
        addresses.setdefault(dev, []).append((ip, plen))
        net = ip & _mask(plen)
        subnet = Route(plen, net, _mask(plen), None, dev, _route_text(plen, net, None, dev))
        if dev not in up:
            dead.append(subnet)     # the kernel removes the routes of a link that goes down
        elif links[dev].kind == "loopback":
            local.setdefault(ip, dev)
            local_nets.append((net, _mask(plen)))
        else:
            local.setdefault(ip, dev)
            connected.append(subnet)
    routes: list[Route] = []
    for dst, gateway, through in sorted(state.routes, key=lambda r: (r[0], r[1] or "", r[2] or "")):
        try:
            network = ipaddress.IPv4Network("0.0.0.0/0" if dst == "default" else dst, strict=False)
        except ValueError:
            raise InvalidRequestError(f"namespace {name!r}: route destination {dst!r} is not IPv4") from None
        gw = ip_int(gateway) if gateway else None
        out = through
        if out is None and gw is not None:
            out = next((r.dev for r in sorted(connected, key=lambda r: -r.prefixlen) if gw & r.mask == r.net), None)
        plen, net = network.prefixlen, int(network.network_address)
        route = Route(plen, net, _mask(plen), gw, out or "?", _route_text(plen, net, gw, out or "?"))
        (routes if out in up else dead).append(route)
    # connected routes first among equal prefixes (the kernel refuses a second route to one prefix anyway)
    ordered = [replace(r, index=i) for i, r in enumerate(sorted(connected + routes, key=lambda r: -r.prefixlen))]
    fdb: dict[tuple[str, str], list[int]] = {}
    for dev, mac, dst in sorted(state.fdb):
        fdb.setdefault((dev, mac.lower()), []).append(ip_int(dst))
    ports: dict[str, list[str]] = {}
    for link in sorted(links.values(), key=lambda x: (x.ifindex or 0, x.name)):
        if link.master is not None:
            ports.setdefault(link.master, []).append(link.name)
    ruleset = Ruleset.compile(name, state.ruleset) if state.ruleset else None
    own = frozenset(ip for addrs in addresses.values() for ip, _ in addrs)
    return Namespace(
        name, links, local, own, tuple(local_nets), {k: tuple(v) for k, v in addresses.items()}, tuple(ordered),
        tuple(sorted(dead, key=lambda r: -r.prefixlen)), state.sysctls.get("net.ipv4.ip_forward", "0") == "1",
        {k: tuple(v) for k, v in fdb.items()}, {(dev, ip_int(ip)): mac.lower() for dev, ip, mac in state.neighbours},
        {k: tuple(v) for k, v in ports.items()}, ruleset)

