"""Overlay driver: libnetwork's VXLAN overlay, one namespace per network and host.

Per overlay network and host (libnetwork ``ov_network.go``):

* a namespace ``nl-<lab>-o-<net>-<host>`` holding a bridge ``ov-<vni>`` that
  carries the subnet's gateway address, and a VXLAN device ``vx-<vni>``
  enslaved to it (VNI from ``vxlanid_list`` or allocated from 256, UDP 4789,
  learning off). The VXLAN is created from the host's namespace, so its UDP
  socket lives on the underlay while the device sits in the overlay namespace;
* a flood entry on the VXLAN per other host of the network (BUM traffic);
* br_netfilter off in that namespace (:func:`bridge_netfilter_off`): it holds
  no firewall rules (filtering and NAT happen in the host namespace), so the
  IP hooks a bridged frame would pass there only cost time.

Per endpoint: a veth from the overlay bridge to ``ethN`` in the sandbox,
MTU = underlay MTU - 50 (``vxlanEncap``). Per endpoint and *other* host: a
permanent neighbour entry and a static FDB entry (peer IP/MAC -> its host's
VTEP), as libnetwork's ``peerAdd`` programs them. Overlays give no default
route; external connectivity comes from the gateway bridge (see
:func:`netlab.lab.with_gateway_bridges`).
"""

from __future__ import annotations

from netlab.backends import (
    AddAddress,
    AddFdb,
    AddNeigh,
    CreateBridge,
    CreateNamespace,
    CreateVeth,
    CreateVxlan,
    DeleteFdb,
    DeleteLink,
    DeleteNamespace,
    DeleteNeigh,
    SetMaster,
    SetSysctl,
    SetUp,
    Step,
)
from netlab.drivers import BUILTIN_DRIVERS, VXLANID_OPTION, DriverInfo, EndpointContext, NetworkContext
from netlab.model import Topology
from netlab.naming import derived_mac, veth_host_name, vxlan_names

__all__ = ["BRIDGE_NETFILTER_SYSCTLS", "FLOOD_MAC", "OverlayDriver", "UPLINK", "VNI_START", "VXLAN_OVERHEAD",
           "assign_vnis", "bridge_netfilter_off"]

VXLAN_OVERHEAD = 50
VNI_START = 256  # libnetwork's first VXLAN id
UPLINK = "eth0"
FLOOD_MAC = "00:00:00:00:00:00"
#: br_netfilter's per-namespace switches: bridged frames pass the namespace's IPv4/IPv6/ARP hooks when 1
BRIDGE_NETFILTER_SYSCTLS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
                            "net.bridge.bridge-nf-call-arptables")


def bridge_netfilter_off(ns: str) -> list[Step]:
    """Steps that stop br_netfilter in ``ns``, a namespace whose bridge has no firewall rules to meet.

    The kernel sets these to 1 in every new namespace, so each frame a bridge forwards there pays
    br_netfilter's IP hooks for nothing. Used for the overlay namespaces and the lab's underlay. Optional
    steps: skipped where ``br_netfilter`` is not loaded (then bridged frames pass no IP hooks anyway).

    >>> [step.key for step in bridge_netfilter_off("nl-x-underlay")][0]
    'net.bridge.bridge-nf-call-iptables'
    """
    return [SetSysctl(ns, key, "0", optional=True) for key in BRIDGE_NETFILTER_SYSCTLS]


def _names(ctx: NetworkContext) -> tuple[str, str, str]:
    if ctx.vni is None or ctx.network_ns is None or ctx.vtep is None:
        raise ValueError(f"overlay {ctx.network.name!r} on {ctx.host!r} needs a VNI, a VTEP and a namespace")
    bridge, vxlan = vxlan_names(ctx.vni)
    return ctx.network_ns, bridge, vxlan


class OverlayDriver:
    info: DriverInfo = BUILTIN_DRIVERS["overlay"]

    def create_network(self, ctx: NetworkContext) -> list[Step]:
        ns, bridge, vxlan = _names(ctx)
        assert ctx.vni is not None and ctx.vtep is not None
        steps: list[Step] = [
            CreateNamespace(ns), SetUp(ns, "lo"), *bridge_netfilter_off(ns),
            CreateBridge(ns, bridge, ctx.mtu, derived_mac(ns, bridge)),
        ]
        if ctx.gateway and ctx.subnet:
            steps.append(AddAddress(ns, bridge, f"{ctx.gateway}/{ctx.subnet.split('/')[1]}"))
        steps += [
            CreateVxlan(ctx.host_ns, vxlan, ctx.vni, ctx.vtep, UPLINK, target_ns=ns, mtu=ctx.mtu,
                        mac=derived_mac(ns, vxlan)),
            SetMaster(ns, vxlan, bridge, learning=False),
            SetUp(ns, vxlan),
        ]
        return steps

    def delete_network(self, ctx: NetworkContext) -> list[Step]:
        return [DeleteNamespace(_names(ctx)[0])]

    def join(self, ctx: EndpointContext) -> list[Step]:
        ns, bridge, _ = _names(ctx.net)
        host_end = veth_host_name(ctx.sandbox, ctx.index)
        steps: list[Step] = [CreateVeth(ns, host_end, ctx.sandbox_ns, ctx.ifname, master=bridge,
                                        mac=derived_mac(ns, host_end), peer_mac=ctx.mac, mtu=ctx.net.mtu)]
        if ctx.address:
            steps.append(AddAddress(ctx.sandbox_ns, ctx.ifname, ctx.address))
        steps.append(SetUp(ctx.sandbox_ns, ctx.ifname))
        return steps

    def leave(self, ctx: EndpointContext) -> list[Step]:
        ns, _, _ = _names(ctx.net)
        return [DeleteLink(ns, veth_host_name(ctx.sandbox, ctx.index))]

    # -- peers (libnetwork peerdb) -------------------------------------------------
    def peer_add(self, ctx: NetworkContext, ip: str, mac: str, vtep: str) -> list[Step]:
        """Program a remote endpoint on this host: neighbour + FDB entry to its host's VTEP."""
        ns, _, vxlan = _names(ctx)
        return [AddNeigh(ns, vxlan, ip, mac), AddFdb(ns, vxlan, mac, vtep)]

    def peer_delete(self, ctx: NetworkContext, ip: str, mac: str, vtep: str) -> list[Step]:
        ns, _, vxlan = _names(ctx)
        return [DeleteNeigh(ns, vxlan, ip), DeleteFdb(ns, vxlan, mac, vtep)]

    def flood_add(self, ctx: NetworkContext, vtep: str) -> list[Step]:
        """Replicate broadcast/unknown traffic of this network to another host's VTEP."""
        ns, _, vxlan = _names(ctx)
        return [AddFdb(ns, vxlan, FLOOD_MAC, vtep, append=True)]

    def flood_delete(self, ctx: NetworkContext, vtep: str) -> list[Step]:
        ns, _, vxlan = _names(ctx)
        return [DeleteFdb(ns, vxlan, FLOOD_MAC, vtep)]


def assign_vnis(topo: Topology) -> dict[str, int]:
    """VXLAN ids: the ``vxlanid_list`` option, else the lowest free id from 256, in network name order."""
    overlays = sorted((n for n in topo.networks if n.driver == "overlay"), key=lambda n: n.name)
    vnis: dict[str, int] = {}
    for net in overlays:
        wanted = net.options.get(VXLANID_OPTION, "").split(",")[0].strip()
        if wanted.isdigit():
            vnis[net.name] = int(wanted)
    used = set(vnis.values())
    candidate = VNI_START
    for net in overlays:
        if net.name in vnis:
            continue
        while candidate in used:
            candidate += 1
        vnis[net.name] = candidate
        used.add(candidate)
    return vnis
