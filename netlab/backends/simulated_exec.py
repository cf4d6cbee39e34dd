"""What the simulated backend's ``exec`` answers: ``ip`` and ``bridge`` listings, and ``getent hosts``.

No process runs. ``ip [-br] addr|link|route|neigh [show]`` (also ``address``/``a``, ``l``,
``r``, ``neighbour``/``n``) and ``bridge fdb [show]`` are rendered from the simulated state in
iproute2's layout, for teaching (``bridge fdb`` lists only the VXLAN entries that steps added;
carrier follows the peer of a veth, the ports of a bridge, the lower device of a macvlan).
``getent hosts KEY...`` answers from the namespace's hosts file as glibc does
(:func:`netlab.backends.hostsfile.getent_hosts`). Anything else is ``NotSupportedError``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from netlab.backends import ExecResult, hostsfile
from netlab.backends.simulated import SimulatedBackend, _Link, _Netns
from netlab.errors import NotSupportedError

__all__ = ["run"]


def run(sim: SimulatedBackend, ns: str, argv: Sequence[str]) -> ExecResult:
    """What :meth:`SimulatedBackend.exec` answers (``NotSupportedError`` for any other command)."""
    words = list(argv)
    if words[:2] == ["getent", "hosts"] and len(words) > 2:
        return hostsfile.getent_hosts(sim._get(ns, "exec").hosts, words[2:])
    brief = words[:1] == ["ip"] and len(words) > 1 and words[1] in ("-br", "-brief")
    rest = words[2 if brief else 1:]
    what = {"a": "addr", "addr": "addr", "address": "addr", "l": "link", "link": "link", "r": "route",
            "route": "route", "n": "neigh", "neigh": "neigh", "neighbour": "neigh", "neighbor": "neigh",
            }.get(rest[0] if rest else "") if words[:1] == ["ip"] else None
    if words[:2] == ["bridge", "fdb"]:
        what = "fdb"
    if what is None or rest[1:] not in ([], ["show"], ["list"]) or (brief and what == "neigh"):
        raise NotSupportedError("the simulated backend runs no processes; use --backend kernel to run commands"
                                " (it only answers 'ip [-br] addr|link|route', 'ip neigh', 'bridge fdb' and"
                                " 'getent hosts NAME...')")
    net = sim._get(ns, "exec")
    if what == "neigh":
        text = "".join(f"{ip} dev {dev} lladdr {mac} PERMANENT\n" for (dev, ip), mac in net.neighbours.items())
    elif what == "fdb":
        text = "".join(f"{mac} dev {dev} dst {dst} self permanent\n" for dev, mac, dst in net.fdb)
    else:
        text = _render_routes(sim._ns, net) if what == "route" else _render_links(sim._ns, net, what, brief)
    return ExecResult(0, text, "")


def _carrier(world: Mapping[str, _Netns], net: _Netns, link: _Link) -> bool:
    if not link.up:
        return False
    if link.kind == "veth":
        peer = world[link.peer[0]].links.get(link.peer[1]) if link.peer and link.peer[0] in world else None
        return peer is not None and peer.up
    if link.kind == "bridge":
        return any(_carrier(world, net, p) for p in net.links.values() if p.master == link.name)
    if link.parent is not None:   # a macvlan follows its lower device
        lower_net = world.get(link.parent[0])
        lower = lower_net.links.get(link.parent[1]) if lower_net else None
        return lower_net is not None and lower is not None and _carrier(world, lower_net, lower)
    return True


def _render_links(world: Mapping[str, _Netns], net: _Netns, what: str, brief: bool) -> str:
    lines: list[str] = []
    for link in sorted(net.links.values(), key=lambda x: x.ifindex):
        carrier, loop = _carrier(world, net, link), link.kind == "loopback"
        state = ("UNKNOWN" if loop or link.kind == "vxlan" else "UP") if carrier else (
            "LOWERLAYERDOWN" if link.up and link.kind in ("veth", "macvlan") else "DOWN")
        flags = (["NO-CARRIER"] if link.up and not carrier else []) + (
            ["LOOPBACK"] if loop else ["BROADCAST", "MULTICAST"]) + (["UP"] if link.up else []) + (
            ["LOWER_UP"] if carrier else [])
        shown, lower_key = link.name, link.peer or link.parent   # "name@peer" / "name@parent"
        if lower_key is not None:
            peer_net = world.get(lower_key[0])
            peer = peer_net.links.get(lower_key[1]) if peer_net else None
            shown += f"@{lower_key[1]}" if peer_net is net else f"@if{peer.ifindex if peer else 0}"
        if brief:
            tail = " ".join(link.addresses) if what == "addr" else f"{link.mac} <{','.join(flags)}>"
            lines.append(f"{shown:<16} {state:<14} {tail}".rstrip())
            continue
        master = f"master {link.master} " if link.master else ""
        mode = "mode DEFAULT " if what == "link" else ""
        lines.append(f"{link.ifindex}: {shown}: <{','.join(flags)}> mtu {link.mtu} qdisc "
                     f"{'noqueue' if link.up else 'noop'} {master}state {state} {mode}group default qlen 1000")
        other = f" link-netns {lower_key[0]}" if lower_key and world.get(lower_key[0]) is not net else ""
        lines.append(f"    link/{'loopback' if loop else 'ether'} {link.mac} brd "
                     f"{'00:00:00:00:00:00' if loop else 'ff:ff:ff:ff:ff:ff'}{other}")
        for cidr in link.addresses if what == "addr" else ():
            iface = ipaddress.IPv4Interface(cidr)
            brd = f" brd {iface.network.broadcast_address}" if iface.network.prefixlen < 31 else ""
            scope = "host" if iface.ip.is_loopback else "global"
            lines += [f"    inet {cidr}{brd} scope {scope} {link.name}",
                      "       valid_lft forever preferred_lft forever"]
    return "".join(line + "\n" for line in lines)


def _render_routes(world: Mapping[str, _Netns], net: _Netns) -> str:
    rows: list[tuple[ipaddress.IPv4Network, str]] = []
    for dst, (gw, dev) in net.routes.items():
        via = f"via {gw} dev {dev}" if gw else f"dev {dev} scope link"
        rows.append((ipaddress.IPv4Network("0.0.0.0/0" if dst == "default" else dst), f"{dst} {via}"))
    for subnet, dev, src in net.connected():
        if net.links[dev].kind == "loopback":
            continue  # lo's 127.0.0.0/8 lives in the local table, which `ip route` does not show
        down = "" if _carrier(world, net, net.links[dev]) else " linkdown"
        rows.append((subnet, f"{subnet} dev {dev} proto kernel scope link src {src}{down}"))
    rows.sort(key=lambda row: (int(row[0].network_address), row[0].prefixlen))
    return "".join(text + "\n" for _, text in rows)
