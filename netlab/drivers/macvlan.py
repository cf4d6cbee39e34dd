"""Macvlan driver: endpoints are macvlan sub-interfaces of the host's uplink (bridge mode).

In lab mode the parent is the host's underlay interface ``eth0``; the network's
subnet and gateway are the underlay's (the internet namespace is the gateway),
as a Docker macvlan network uses its parent's LAN. Containers on different
hosts talk over the underlay wire directly; like on real hardware, a macvlan
cannot reach its own parent's address.
"""

from __future__ import annotations

from netlab.backends import AddAddress, CreateMacvlan, DeleteLink, SetUp, Step
from netlab.drivers import BUILTIN_DRIVERS, DriverInfo, EndpointContext, NetworkContext

__all__ = ["MacvlanDriver"]

UPLINK = "eth0"


class MacvlanDriver:
    info: DriverInfo = BUILTIN_DRIVERS["macvlan"]

    def create_network(self, ctx: NetworkContext) -> list[Step]:
        return []  # the parent exists already; nothing is shared per network

    def delete_network(self, ctx: NetworkContext) -> list[Step]:
        return []

    def join(self, ctx: EndpointContext) -> list[Step]:
        options = ctx.net.network.options
        steps: list[Step] = [CreateMacvlan(ctx.net.host_ns, options.get("parent", UPLINK), ctx.sandbox_ns,
                                           ctx.ifname, options.get("macvlan_mode", "bridge"), ctx.mac,
                                           ctx.net.mtu)]
        if ctx.address:
            steps.append(AddAddress(ctx.sandbox_ns, ctx.ifname, ctx.address))
        steps.append(SetUp(ctx.sandbox_ns, ctx.ifname))
        return steps

    def leave(self, ctx: EndpointContext) -> list[Step]:
        return [DeleteLink(ctx.sandbox_ns, ctx.ifname)]
