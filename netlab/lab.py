"""Lab: the kernel objects a topology needs in lab mode, as ordered groups of steps.

Lab mode (tests, notebooks, teaching): every host is a namespace, every
sandbox is a namespace, and the hosts meet on an underlay bridge in a
namespace of its own, behind which an "internet" namespace plays the outside
world. Nothing is created in the machine's own namespace.

::

    nl-<lab>-internet  eth0 192.0.2.1 ---+
                                         |  bridge "ul" in nl-<lab>-underlay
    nl-<lab>-h-<host>  eth0 192.0.2.11 --+--- ...
      br-<net> (gateway)  --veth--  nl-<lab>-s-<sandbox> ethN

:func:`desired_objects` turns a validated topology and its addressing into
:class:`LabObject` groups in creation order. Each group has the steps that
create it, the steps that remove it, the namespaces it lives in and the keys
of the groups it depends on; the controller reconciles these against the
store (see :mod:`netlab.controller`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netlab import naming, nft
from netlab.addressing import Addressing
from netlab.backends import (
    AddAddress,
    AddRoute,
    ApplyRuleset,
    CreateBridge,
    CreateNamespace,
    CreateVeth,
    DeleteNamespace,
    DeleteRoute,
    SetSysctl,
    SetUp,
    Step,
)
from netlab.drivers import (
    BRIDGE_NAME_OPTION,
    ICC_OPTION,
    IFACE_PREFIX_OPTION,
    MASQUERADE_OPTION,
    MTU_OPTION,
    EndpointContext,
    NetworkContext,
    get_driver,
)
from netlab.drivers.bridge import BridgeRules, PublishedPort, host_rules
from netlab.drivers.overlay import VXLAN_OVERHEAD, OverlayDriver, assign_vnis, bridge_netfilter_off
from netlab.loading import from_dict
from netlab.model import Network, Topology
from netlab.underlay import host_addresses, internet_address

__all__ = [
    "GATEWAY_BRIDGE", "LabObject", "UNDERLAY_BRIDGE", "desired_objects", "gateway_endpoint", "with_gateway_bridges",
]

UNDERLAY_BRIDGE = "ul"


@dataclass(frozen=True, slots=True)
class LabObject:
    """One group of kernel objects created and removed together.

    ``spec`` is what identifies its configuration: a changed spec means the
    group is rebuilt (or, when ``replace`` is set, its create steps are simply
    re-applied, as for an atomic ruleset).
    """

    key: str
    kind: str
    spec: Any
    create: tuple[Step, ...]
    delete: tuple[Step, ...]
    namespaces: tuple[str, ...]
    parents: tuple[str, ...] = ()
    owns_namespace: bool = False
    replace: bool = False
    detail: dict[str, Any] = field(default_factory=dict, compare=False)


def _mtu(net: Network) -> int | None:
    if net.mtu is not None:
        return net.mtu
    option = net.options.get(MTU_OPTION)
    return int(option) if option and option.isdigit() else None


def gateway_endpoint(topo: Topology, sandbox: str, addressing: Addressing,
                     order: Mapping[tuple[str, str], int]) -> tuple[str, str] | None:
    """(network, gateway IP) of the sandbox's default route: its first non-internal bridge or macvlan
    endpoint (overlays give none: an overlay-only sandbox gets a gateway bridge endpoint)."""
    endpoints = sorted(topo.endpoints_of(sandbox), key=lambda ep: order[(sandbox, ep.network)])
    for ep in endpoints:
        net = topo.network(ep.network)
        info = addressing.networks.get(net.name)
        if not net.internal and net.driver in ("bridge", "macvlan") and info is not None:
            return net.name, str(info.gateway)
    return None


def _fabric(lab: str, topo: Topology, hosts: Mapping[str, str]) -> list[LabObject]:
    underlay, internet = naming.underlay_netns(lab), naming.internet_netns(lab)
    prefix = topo.underlay.subnet.split("/")[1]
    inet_ip = internet_address(topo)
    objects = [
        LabObject("ns/underlay", "underlay", {"mtu": topo.underlay.mtu},
                  (CreateNamespace(underlay), *bridge_netfilter_off(underlay),
                   CreateBridge(underlay, UNDERLAY_BRIDGE, topo.underlay.mtu,
                                naming.derived_mac(underlay, UNDERLAY_BRIDGE))),
                  (DeleteNamespace(underlay),), (underlay,), owns_namespace=True),
    ]
    if topo.underlay.internet:
        objects.append(LabObject(
            "ns/internet", "internet", {"ip": inet_ip},
            (CreateNamespace(internet), SetUp(internet, "lo"),
             CreateVeth(underlay, "ul-internet", internet, "eth0", UNDERLAY_BRIDGE,
                        naming.derived_mac(underlay, "ul-internet"), naming.derived_mac(internet, "eth0"),
                        topo.underlay.mtu),
             AddAddress(internet, "eth0", f"{inet_ip}/{prefix}"), SetUp(internet, "eth0")),
            (DeleteNamespace(internet),), (internet, underlay), ("ns/underlay",), owns_namespace=True))
    for host in sorted(hosts):
        ns = naming.host_netns(lab, host)
        uplink = naming.fit_ifname(f"ul-{host}")
        objects.append(LabObject(
            f"ns/host/{host}", "host", {"ip": hosts[host], "gateway": inet_ip},
            (CreateNamespace(ns), SetUp(ns, "lo"), SetSysctl(ns, "net.ipv4.ip_forward", "1"),
             CreateVeth(underlay, uplink, ns, "eth0", UNDERLAY_BRIDGE, naming.derived_mac(underlay, uplink),
                        naming.derived_mac(ns, "eth0"), topo.underlay.mtu),
             AddAddress(ns, "eth0", f"{hosts[host]}/{prefix}"), SetUp(ns, "eth0"),
             AddRoute(ns, "default", inet_ip)),
            (DeleteNamespace(ns),), (ns, underlay), ("ns/underlay",), owns_namespace=True,
            detail={"host": host}))
    return objects


def desired_objects(lab: str, topo: Topology, addressing: Addressing,
                    ifindex: Mapping[tuple[str, str], int] | None = None) -> list[LabObject]:
    """Every object group of the lab, in creation order.

    ``ifindex`` pins the ``ethN`` number of endpoints already deployed so that
    a reconcile never renames a surviving interface; new endpoints take the
    lowest free numbers.
    """
    hosts = host_addresses(topo)
    objects = _fabric(lab, topo, hosts)
    order = _interface_numbers(topo, ifindex or {})
    vnis = assign_vnis(topo)
    net_ctx: dict[tuple[str, str], NetworkContext] = {}
    for net in topo.networks:
        info = addressing.networks.get(net.name)
        overlay = net.driver == "overlay"
        mtu = _mtu(net) or (topo.underlay.mtu - VXLAN_OVERHEAD if overlay else None)
        for host in topo.network_hosts(net.name):
            ctx = NetworkContext(lab, net, host, naming.host_netns(lab, host),
                                 str(info.subnet) if info else None, str(info.gateway) if info else None, mtu,
                                 vnis.get(net.name), hosts.get(host),
                                 naming.overlay_netns(lab, net.name, host) if overlay else None)
            net_ctx[(net.name, host)] = ctx
            steps = get_driver(net.driver).create_network(ctx)
            lives_in = (ctx.network_ns, ctx.host_ns) if ctx.network_ns else (ctx.host_ns,)
            objects.append(LabObject(
                f"net/{net.name}@{host}", "network",
                {"driver": net.driver, "subnet": ctx.subnet, "gateway": ctx.gateway, "mtu": ctx.mtu,
                 "internal": net.internal, "options": dict(net.options), "vni": ctx.vni, "vtep": ctx.vtep},
                tuple(steps), tuple(get_driver(net.driver).delete_network(ctx)), lives_in,
                (f"ns/host/{host}",), owns_namespace=overlay, detail={"network": net.name, "host": host}))
        if overlay:
            objects += _overlay_peers(topo, net, net_ctx, addressing)
    rules_ports: dict[str, list[PublishedPort]] = {h: [] for h in hosts}
    for sbx in topo.sandboxes:
        placed = topo.host_of(sbx.name)
        if placed is None:
            continue
        host = placed
        shares_host = any(n.driver == "host" for n in topo.networks_of(sbx.name))
        ns = naming.host_netns(lab, host) if shares_host else naming.sandbox_netns(lab, sbx.name)
        if not shares_host:
            objects.append(LabObject(f"ns/sbx/{sbx.name}", "sandbox", {"host": host},
                                     (CreateNamespace(ns), SetUp(ns, "lo")), (DeleteNamespace(ns),), (ns,),
                                     owns_namespace=True, detail={"sandbox": sbx.name, "host": host}))
        parent = f"ns/host/{host}" if shares_host else f"ns/sbx/{sbx.name}"
        for ep in topo.endpoints_of(sbx.name):
            net = topo.network(ep.network)
            index = order[(sbx.name, net.name)]
            address = addressing.endpoints.get((sbx.name, net.name))
            ctx = net_ctx[(net.name, host)]
            ectx = EndpointContext(ctx, sbx.name, ns, index,
                                   naming.sandbox_ifname(index, net.options.get(IFACE_PREFIX_OPTION, "eth")),
                                   str(address.ip) if address else None, address.mac if address else None)
            driver = get_driver(net.driver)
            attach_ns = ctx.network_ns or ctx.host_ns
            objects.append(LabObject(
                f"ep/{sbx.name}/{net.name}", "endpoint",
                {"ifname": ectx.ifname, "index": index, "address": ectx.address, "mac": ectx.mac,
                 "network": net.name},
                tuple(driver.join(ectx)), tuple(driver.leave(ectx)), (attach_ns, ns),
                (parent, f"net/{net.name}@{host}"),
                detail={"sandbox": sbx.name, "network": net.name, "ifname": ectx.ifname}))
        gateway = None if shares_host else gateway_endpoint(topo, sbx.name, addressing, order)
        if gateway is not None:
            gw_net, gw_ip = gateway
            objects.append(LabObject(f"route/{sbx.name}", "route", {"via": gw_ip, "network": gw_net},
                                     (AddRoute(ns, "default", gw_ip),), (DeleteRoute(ns, "default"),), (ns,),
                                     (f"ep/{sbx.name}/{gw_net}",), detail={"sandbox": sbx.name}))
            if topo.network(gw_net).driver == "bridge" and host in hosts:
                bridge = BridgeRules.of(net_ctx[(gw_net, host)]).bridge
                container_ip = str(addressing.endpoints[(sbx.name, gw_net)].ip.ip)
                rules_ports[host].extend(PublishedPort(hosts[host], port, container_ip, bridge)
                                         for port in sbx.ports)
    for host in sorted(hosts):
        bridges = [BridgeRules.of(ctx) for (net, h), ctx in net_ctx.items()
                   if h == host and ctx.network.driver == "bridge"]
        ns = naming.host_netns(lab, host)
        document = nft.ruleset(host_rules(bridges, rules_ports[host])) if bridges else nft.empty_ruleset()
        objects.append(LabObject(f"rules/{host}", "ruleset", document, (ApplyRuleset(ns, document),), (), (ns,),
                                 (f"ns/host/{host}",), replace=True, detail={"host": host}))
    return objects


def _interface_numbers(topo: Topology, pinned: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    numbers: dict[tuple[str, str], int] = {}
    for sbx in topo.sandboxes:
        endpoints = topo.endpoints_of(sbx.name)
        used = {pinned[(sbx.name, ep.network)] for ep in endpoints if (sbx.name, ep.network) in pinned}
        free = (n for n in range(len(endpoints) + len(used) + 1) if n not in used)
        for ep in endpoints:
            key = (sbx.name, ep.network)
            numbers[key] = pinned[key] if key in pinned else next(free)
    return numbers


def _overlay_peers(topo: Topology, net: Network, net_ctx: Mapping[tuple[str, str], NetworkContext],
                   addressing: Addressing) -> list[LabObject]:
    """Flood entries between the network's hosts, and every endpoint programmed on the other hosts."""
    driver = OverlayDriver()
    objects: list[LabObject] = []
    present = topo.network_hosts(net.name)
    for here in present:
        ctx = net_ctx[(net.name, here)]
        for there in present:
            remote = net_ctx[(net.name, there)].vtep
            if there == here or remote is None:
                continue
            objects.append(LabObject(
                f"flood/{net.name}@{here}/{there}", "flood", {"vtep": remote},
                tuple(driver.flood_add(ctx, remote)), tuple(driver.flood_delete(ctx, remote)),
                (ctx.network_ns or ctx.host_ns,), (f"net/{net.name}@{here}",),
                detail={"network": net.name, "host": here}))
    for ep in topo.endpoints_on(net.name):
        address = addressing.endpoints.get((ep.sandbox, net.name))
        home = topo.host_of(ep.sandbox)
        if address is None or home is None:
            continue
        vtep = net_ctx[(net.name, home)].vtep
        ip = str(address.ip.ip)
        for there in present:
            if there == home or vtep is None:
                continue
            ctx = net_ctx[(net.name, there)]
            objects.append(LabObject(
                f"peer/{net.name}/{ep.sandbox}@{there}", "peer", {"ip": ip, "mac": address.mac, "vtep": vtep},
                tuple(driver.peer_add(ctx, ip, address.mac, vtep)),
                tuple(driver.peer_delete(ctx, ip, address.mac, vtep)),
                (ctx.network_ns or ctx.host_ns,), (f"net/{net.name}@{there}",),
                detail={"network": net.name, "sandbox": ep.sandbox, "host": there}))
    return objects


GATEWAY_BRIDGE = "docker_gwbridge"


def with_gateway_bridges(topo: Topology) -> Topology:
    """A copy of ``topo`` where every sandbox that needs a way out gets libnetwork's gateway bridge.

    A sandbox whose only non-internal networks are overlays has no default
    gateway (overlays provide none). As libnetwork does with ``docker_gwbridge``,
    its host gets a bridge network (ICC off, masquerade on) and the sandbox an
    extra endpoint on it, last in its interface order: it carries the default
    route and the sandbox's published ports. The network is named
    ``docker_gwbridge-<host>`` in the model (the underscore keeps it apart from
    any user network, which must be DNS-safe) and ``docker_gwbridge`` on the host.
    """
    needy: dict[str, list[str]] = {}
    for sbx in topo.sandboxes:
        host = topo.host_of(sbx.name)
        nets = topo.networks_of(sbx.name)
        outward = [n for n in nets if not n.internal]
        if host and any(n.driver == "overlay" for n in outward) and not any(
                n.driver in ("bridge", "macvlan", "host") for n in outward):
            needy.setdefault(host, []).append(sbx.name)
    if not needy:
        return topo
    copy = from_dict(topo.to_dict())
    copy.lines, copy.source = topo.lines, topo.source
    for host, sandboxes in needy.items():
        name = f"{GATEWAY_BRIDGE}-{host}"
        copy.add_network(name, "bridge", host=host, options={
            BRIDGE_NAME_OPTION: GATEWAY_BRIDGE, ICC_OPTION: "false", MASQUERADE_OPTION: "true"})
        for sandbox in sandboxes:
            copy.connect(sandbox, name)
    return copy

