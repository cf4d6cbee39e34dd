"""Underlay: the addresses of the lab's own wire (lab mode).

The underlay subnet (default 192.0.2.0/24) carries the hosts' uplinks: the
"internet" namespace has its first address (.1), hosts have their
``underlay_ip`` or .11, .12, ... in name order. Macvlan networks on the
underlay share it, so these addresses are reserved for them too.
"""

from __future__ import annotations

import ipaddress

from netlab.model import Topology

__all__ = ["FIRST_HOST_OFFSET", "host_addresses", "internet_address"]

FIRST_HOST_OFFSET = 11


def internet_address(topo: Topology) -> str:
    """The internet namespace's address: the underlay's first usable address."""
    return str(ipaddress.IPv4Network(topo.underlay.subnet).network_address + 1)


def host_addresses(topo: Topology) -> dict[str, str]:
    """Underlay address of each host: its ``underlay_ip``, else .11, .12, ... in name order.

    Hosts that do not fit in the underlay subnet are left out (validation reports them).
    """
    try:
        subnet = ipaddress.IPv4Network(topo.underlay.subnet)
    except ValueError:
        return {}
    taken = {h.underlay_ip for h in topo.hosts if h.underlay_ip}
    result: dict[str, str] = {}
    offset = FIRST_HOST_OFFSET
    for host in sorted(topo.hosts, key=lambda h: h.name):
        if host.underlay_ip:
            result[host.name] = host.underlay_ip
            continue
        while str(subnet.network_address + offset) in taken:
            offset += 1
        candidate = subnet.network_address + offset
        if candidate >= subnet.broadcast_address:
            continue
        result[host.name] = str(candidate)
        offset += 1
    return result
