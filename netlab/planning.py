"""Planning: the kernel objects a deploy of a (valid, addressed) topology would create.

A pure function of the model and its :class:`~netlab.addressing.Addressing`; used by
``netlab plan`` to show, before anything is touched, what ``up`` will build.
Names follow :mod:`netlab.naming`.
"""

from __future__ import annotations

from dataclasses import dataclass

from netlab import drivers, naming
from netlab.addressing import Addressing
from netlab.model import Network, Topology

__all__ = ["PlannedObject", "assign_vnis", "plan_objects"]

VNI_START = 256  # libnetwork's first VXLAN id


@dataclass(frozen=True, slots=True)
class PlannedObject:
    """One kernel object: what it is, where it lives, its name and details."""

    kind: str
    namespace: str
    name: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name, "detail": self.detail}


def assign_vnis(topo: Topology) -> dict[str, int]:
    """VXLAN ids for overlays: the ``vxlanid_list`` option, else the lowest free id from 256, by name."""
    overlays = sorted((n for n in topo.networks if n.driver == "overlay"), key=lambda n: n.name)
    vnis: dict[str, int] = {}
    for net in overlays:
        wanted = net.options.get(drivers.VXLANID_OPTION, "").split(",")[0].strip()
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


def _gateway_network(topo: Topology, sandbox: str, addressing: Addressing) -> Network | None:
    for net in topo.networks_of(sandbox):
        if not net.internal and net.name in addressing.networks and net.driver in ("bridge", "overlay"):
            return net
    return None


def plan_objects(topo: Topology, addressing: Addressing) -> list[PlannedObject]:
    """Every namespace, link, address, route and ruleset a lab-mode deploy creates, in order."""
    lab = topo.name
    plan: list[PlannedObject] = []
    add = plan.append
    vnis = assign_vnis(topo)
    hosts = [h.name for h in topo.hosts]
    if len(hosts) > 1:
        add(PlannedObject("netns", naming.lab_prefix(lab) + "underlay", "", f"underlay {topo.underlay.subnet}"))
    for host in hosts:
        add(PlannedObject("netns", naming.host_netns(lab, host), "", f"host {host}"))
    for net in topo.networks:
        info = addressing.networks.get(net.name)
        cidr = f"{info.gateway}/{info.subnet.prefixlen}" if info else ""
        for host in topo.network_hosts(net.name):
            if net.driver == "bridge":
                name = naming.bridge_name(net.name, net.options.get(drivers.BRIDGE_NAME_OPTION))
                add(PlannedObject("bridge", naming.host_netns(lab, host), name, f"{net.name} gw {cidr}"))
                if not net.internal:
                    add(PlannedObject("nft", naming.host_netns(lab, host), f"netlab-{net.name}",
                                      f"masquerade {info.subnet if info else ''}, isolation"))
            elif net.driver == "overlay":
                ns = naming.overlay_netns(lab, net.name, host)
                bridge, vxlan = naming.vxlan_names(vnis[net.name])
                add(PlannedObject("netns", ns, "", f"overlay {net.name} on {host}"))
                add(PlannedObject("bridge", ns, bridge, f"{net.name} gw {cidr}"))
                add(PlannedObject("vxlan", ns, vxlan, f"vni {vnis[net.name]} port 4789 learning off"))
    for sbx in topo.sandboxes:
        host = topo.host_of(sbx.name) or "?"
        sns = naming.sandbox_netns(lab, sbx.name)
        add(PlannedObject("netns", sns, "", f"sandbox {sbx.name} on {host}"))
        for index, ep in enumerate(topo.endpoints_of(sbx.name)):
            net = topo.network(ep.network)
            address = addressing.endpoints.get((sbx.name, ep.network))
            ifname = naming.sandbox_ifname(index, net.options.get(drivers.IFACE_PREFIX_OPTION, "eth"))
            if address is None:
                continue
            where = (naming.overlay_netns(lab, net.name, host) if net.driver == "overlay"
                     else naming.host_netns(lab, host))
            add(PlannedObject("veth", sns, ifname,
                              f"{address.ip} mac {address.mac}, peer {naming.veth_host_name(sbx.name, index)} "
                              f"in {where}"))
        gateway = _gateway_network(topo, sbx.name, addressing)
        if gateway is not None and gateway.driver == "bridge":
            add(PlannedObject("route", sns, "default", f"via {addressing.networks[gateway.name].gateway}"))
        elif gateway is not None:  # overlays give no gateway: libnetwork adds docker_gwbridge
            add(PlannedObject("route", sns, "default", f"via the gateway bridge of {host}"))
        for port in sbx.ports:
            add(PlannedObject("dnat", naming.host_netns(lab, host), str(port), f"to {sbx.name}"))
    return plan
