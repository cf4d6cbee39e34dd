"""Bridge driver: one Linux bridge per network on its host, a veth per endpoint (Docker's semantics).

Steps per CNM verb:

* create_network: ``CreateBridge br-<net>`` in the host namespace, gateway address on it;
* join: a veth whose host end is a port of the bridge and whose other end is
  ``ethN`` in the sandbox, with the endpoint's MAC (02:42 + IPv4) and address;
* leave: delete the host end (the kernel removes the pair);
* delete_network: delete the bridge.

Filtering and NAT (ICC, isolation, masquerade, published ports) are one
ruleset per host built by :func:`host_rules`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netlab import nft
from netlab.backends import AddAddress, CreateBridge, CreateVeth, DeleteLink, SetUp, Step
from netlab.drivers import (
    BRIDGE_NAME_OPTION,
    BUILTIN_DRIVERS,
    ICC_OPTION,
    MASQUERADE_OPTION,
    DriverInfo,
    EndpointContext,
    NetworkContext,
)
from netlab.model import PortMapping
from netlab.naming import bridge_name, derived_mac, veth_host_name

__all__ = ["BridgeDriver", "BridgeRules", "PublishedPort", "host_rules"]

UPLINK = "eth0"


def _bridge(ctx: NetworkContext) -> str:
    return bridge_name(ctx.network.name, ctx.network.options.get(BRIDGE_NAME_OPTION))


def _prefix(subnet: str | None) -> str:
    return subnet.split("/")[1] if subnet else "32"


class BridgeDriver:
    info: DriverInfo = BUILTIN_DRIVERS["bridge"]

    def create_network(self, ctx: NetworkContext) -> list[Step]:
        bridge = _bridge(ctx)
        steps: list[Step] = [CreateBridge(ctx.host_ns, bridge, ctx.mtu, derived_mac(ctx.host_ns, bridge))]
        if ctx.gateway:
            steps.append(AddAddress(ctx.host_ns, bridge, f"{ctx.gateway}/{_prefix(ctx.subnet)}"))
        return steps

    def delete_network(self, ctx: NetworkContext) -> list[Step]:
        return [DeleteLink(ctx.host_ns, _bridge(ctx))]

    def join(self, ctx: EndpointContext) -> list[Step]:
        net = ctx.net
        host_end = veth_host_name(ctx.sandbox, ctx.index)
        steps: list[Step] = [
            CreateVeth(net.host_ns, host_end, ctx.sandbox_ns, ctx.ifname, master=_bridge(net),
                       mac=derived_mac(net.host_ns, host_end), peer_mac=ctx.mac, mtu=net.mtu),
        ]
        if ctx.address:
            steps.append(AddAddress(ctx.sandbox_ns, ctx.ifname, ctx.address))
        steps.append(SetUp(ctx.sandbox_ns, ctx.ifname))
        return steps

    def leave(self, ctx: EndpointContext) -> list[Step]:
        return [DeleteLink(ctx.net.host_ns, veth_host_name(ctx.sandbox, ctx.index))]


@dataclass(frozen=True, slots=True)
class BridgeRules:
    """One bridge network's part of its host's ruleset."""

    bridge: str
    subnet: str
    internal: bool
    icc: bool
    masquerade: bool

    @classmethod
    def of(cls, ctx: NetworkContext) -> BridgeRules:
        options = ctx.network.options
        return cls(_bridge(ctx), ctx.subnet or "", ctx.network.internal,
                   options.get(ICC_OPTION, "true").lower() == "true",
                   options.get(MASQUERADE_OPTION, "true").lower() == "true")


@dataclass(frozen=True, slots=True)
class PublishedPort:
    """A published port: ``host_ip:port.host_port`` DNATed to ``container_ip:port.container_port``."""

    host_ip: str
    port: PortMapping
    container_ip: str
    bridge: str


def host_rules(networks: Sequence[BridgeRules], ports: Sequence[PublishedPort]) -> dict[str, list[nft.Rule]]:
    """The ``forward``/``prerouting``/``postrouting`` rules of one host (see :mod:`netlab.nft`)."""
    forward: list[nft.Rule] = [[nft.ct_established(), nft.accept()]]
    prerouting: list[nft.Rule] = []
    postrouting: list[nft.Rule] = []
    for pub in ports:
        proto, port = pub.port.protocol, pub.port
        # from outside the bridge only, as libnetwork's `! -i br -o br ... -j ACCEPT`: ICC off still holds inside
        forward.append([nft.match("iifname", pub.bridge, "!="), nft.match("oifname", pub.bridge),
                        nft.match("ip.daddr", pub.container_ip),
                        nft.match(f"{proto}.dport", port.container_port), nft.accept()])
        prerouting.append([nft.match("ip.daddr", port.host_ip or pub.host_ip),
                           nft.match("iifname", pub.bridge, "!="),
                           nft.match(f"{proto}.dport", port.host_port),
                           nft.dnat(pub.container_ip, port.container_port)])
    for net in networks:
        inside = [nft.match("iifname", net.bridge), nft.match("oifname", net.bridge)]
        forward.append(inside + [nft.accept() if net.icc else nft.drop()])
        if net.internal:
            continue
        forward.append([nft.match("iifname", net.bridge), nft.match("oifname", UPLINK), nft.accept()])
        if net.masquerade and net.subnet:
            postrouting.append([nft.match("ip.saddr", net.subnet), nft.match("oifname", net.bridge, "!="),
                                nft.masquerade()])
    return {"forward": forward, "prerouting": prerouting, "postrouting": postrouting}
