"""Addressing: a whole Topology addressed at once, purely and deterministically.

:func:`plan_addresses` / :func:`allocate` give every network a subnet and
gateway and every endpoint an IP and MAC. The same model always gets the same
addresses, whatever order it was built in: explicit subnets are reserved
first, then networks without one get a default pool in name order; static IPs
are reserved before dynamic ones, which go out in container name order.

>>> from netlab.model import Topology
>>> topo = Topology("demo")
>>> _ = topo.add_host("h1")
>>> _ = topo.add_network("front")
>>> _ = topo.add_sandbox("web", host="h1")
>>> _ = topo.connect("web", "front")
>>> plan = allocate(topo)
>>> str(plan.networks["front"].subnet), str(plan.networks["front"].gateway)
('172.17.0.0/16', '172.17.0.1')
>>> plan.address_of("web", "front")
EndpointAddress(ip=IPv4Interface('172.17.0.2/16'), mac='02:42:ac:11:00:02')
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from netlab.drivers import DriverInfo, known_drivers
from netlab.errors import NetlabError, NotFoundError, Problem, UnavailableError, ValidationError
from netlab.ipam import NO_POOL_MESSAGE, Ipam
from netlab.model import Endpoint, Network, Topology
from netlab.pools import DEFAULT_POOLS, _mac, _parse_network
from netlab.underlay import host_addresses, internet_address

__all__ = ["Addressing", "EndpointAddress", "NetworkAddress", "allocate", "plan_addresses"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NetworkAddress:
    """A network's IPv4 configuration: subnet, gateway and optional sub-range."""

    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: IPv4Network | None = None


@dataclass(frozen=True, slots=True)
class EndpointAddress:
    """An endpoint's address (with the subnet's prefix length) and MAC."""

    ip: IPv4Interface
    mac: str


@dataclass(frozen=True)
class Addressing:
    """The addresses :func:`plan_addresses` gave a topology.

    Attributes
    ----------
    networks : dict of str to NetworkAddress
        By network name; only networks whose driver uses IPAM and that could be
        addressed.
    endpoints : dict of (str, str) to EndpointAddress
        By ``(sandbox, network)``; every key's network is in ``networks``.
    """

    networks: dict[str, NetworkAddress] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], EndpointAddress] = field(default_factory=dict)

    def address_of(self, sandbox: str, network: str) -> EndpointAddress:
        """The address of ``sandbox``'s endpoint on ``network``.

        Raises
        ------
        NotFoundError
            If that endpoint got no address (not connected, no IPAM, or skipped).
        """
        found = self.endpoints.get((sandbox, network))
        if found is None:
            raise NotFoundError(f"no address planned for sandbox {sandbox!r} on network {network!r}")
        return found

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe form, sorted by name.

        ``{"networks": {net: {"subnet", "gateway", "ip_range"}},
        "endpoints": {sandbox: {net: {"ip": "a.b.c.d/len", "mac"}}}}``.
        """
        networks: dict[str, object] = {
            name: {
                "subnet": str(net.subnet),
                "gateway": str(net.gateway),
                "ip_range": None if net.ip_range is None else str(net.ip_range),
            }
            for name, net in sorted(self.networks.items())
        }
        endpoints: dict[str, dict[str, object]] = {}
        for (sandbox, network), ep in sorted(self.endpoints.items()):
            endpoints.setdefault(sandbox, {})[network] = {"ip": str(ep.ip), "mac": ep.mac}
        return {"networks": networks, "endpoints": endpoints}


def _uses_ipam(network: Network, drivers: Mapping[str, DriverInfo]) -> bool:
    info = drivers.get(network.driver)
    return True if info is None else info.uses_ipam


def _hosts_by_network(
    topo: Topology, networks: Iterable[Network], endpoints: Mapping[str, list[Endpoint]]
) -> dict[str, frozenset[str]]:
    """``topo.network_hosts`` for many networks at once, in O(sandboxes + endpoints)."""
    hosts = [host.name for host in topo.hosts]
    only = hosts[0] if len(hosts) == 1 else None
    placed = {sbx.name: sbx.host if sbx.host is not None else only for sbx in topo.sandboxes}
    result: dict[str, frozenset[str]] = {}
    for net in networks:
        if net.scope == "local" and net.host is not None:
            result[net.name] = frozenset((net.host,))
        elif net.scope == "local" and only is not None:
            result[net.name] = frozenset((only,))
        else:
            found = (placed.get(ep.sandbox) for ep in endpoints[net.name])
            result[net.name] = frozenset(host for host in found if host is not None)
    return result


def _shares_scope(net: Network, other: Network, hosts: Mapping[str, frozenset[str]]) -> bool:
    """Whether an automatic subnet for ``net`` must avoid ``other``'s subnet.

    A network present on no host could meet anything, so it avoids, and is
    avoided by, every other network.
    """
    mine, theirs = hosts[net.name], hosts[other.name]
    if not mine or not theirs:
        return True
    if net.scope == "global" and other.scope == "global":
        return True
    return not mine.isdisjoint(theirs)


def _mac_for(ep: Endpoint, iface: IPv4Interface) -> str:
    """The endpoint's own MAC when it gives one, else Docker's derivation from its IP."""
    return ep.mac if isinstance(ep.mac, str) and ep.mac else _mac(int(iface))


def _exhausted(name: str, needed: int, available: int, where: str) -> Problem:
    return Problem(
        f"networks.{name}",
        "pool-exhausted",
        f"network {name!r} needs {needed} address(es) from {where} but only {available} are available",
        "use a bigger subnet or ip_range, or connect fewer endpoints without a static ip",
    )


def _address_network(
    net: Network,
    subnet: IPv4Network,
    endpoints: list[Endpoint],
    out: dict[tuple[str, str], EndpointAddress],
    reserved: Sequence[str] = (),
    default_gateway: str | None = None,
) -> tuple[NetworkAddress | None, Problem | None]:
    """Address one network: reserved addresses, static IPs, then gateway, then dynamic endpoints.

    ``reserved`` are addresses others hold on the same wire (a macvlan network on
    the underlay: the hosts and the internet namespace); ``default_gateway``,
    when given and ``net.gateway`` is not, is the gateway without being taken
    from the pool (it is one of the reserved addresses).
    """
    ipam = Ipam()
    master = ipam.request_pool(str(subnet))
    for address in reserved:
        try:
            ipam.request_address(master, address)
        except NetlabError:
            pass  # outside this subnet, or listed twice
    dynamic_pool = master
    ip_range: IPv4Network | None = None
    if net.ip_range is not None:
        parsed_range = _parse_network(net.ip_range)
        if parsed_range is not None and parsed_range.subnet_of(subnet):
            ip_range = parsed_range
            dynamic_pool = ipam.request_pool(str(subnet), str(parsed_range))
        else:
            logger.debug("network %s: ignoring unusable ip_range %r", net.name, net.ip_range)
    ordered = sorted(endpoints, key=lambda ep: ep.sandbox)
    mine: dict[tuple[str, str], EndpointAddress] = {}
    dynamic: list[Endpoint] = []
    for ep in ordered:
        if ep.ip is None:
            dynamic.append(ep)
            continue
        try:
            iface = ipam.request_address(master, ep.ip)
        except NetlabError as exc:
            logger.debug("network %s: skipping endpoint of %s: %s", net.name, ep.sandbox, exc)
            continue
        mine[(ep.sandbox, net.name)] = EndpointAddress(iface, _mac_for(ep, iface))
    gateway: IPv4Address | None = None
    if net.gateway is None and default_gateway is not None:
        gateway = IPv4Address(default_gateway)
    if net.gateway is not None:
        try:
            gateway = ipam.request_address(master, net.gateway).ip
        except NetlabError as exc:
            logger.debug("network %s: ignoring gateway %r: %s", net.name, net.gateway, exc)
    if gateway is None:
        try:
            gateway = ipam.request_address(master).ip
        except UnavailableError:
            return None, _exhausted(net.name, len(dynamic) + 1, 0, f"subnet {subnet} (gateway included)")
    available = ipam.available(dynamic_pool)
    problem: Problem | None = None
    if len(dynamic) > available:
        where = f"ip_range {ip_range}" if ip_range is not None else f"subnet {subnet}"
        problem = _exhausted(net.name, len(dynamic), available, where)
        dynamic = dynamic[:available]
    for ep in dynamic:
        iface = ipam.request_address(dynamic_pool)
        mine[(ep.sandbox, net.name)] = EndpointAddress(iface, _mac_for(ep, iface))
    out.update(mine)
    return NetworkAddress(subnet, gateway, ip_range), problem


def plan_addresses(topo: Topology) -> tuple[Addressing, list[Problem]]:
    """Choose subnets, gateways, IPs and MACs for a whole topology, deterministically.

    Networks are handled in name order. Explicit subnets are used as given (even
    overlapping ones: validation judges those); networks without one get the
    first default pool of their scope that overlaps nothing they could meet: the
    underlay, and for a local network every network present on one of its hosts,
    for an overlay every other overlay and every network on its hosts. Bridges
    on different hosts may therefore reuse the same subnet, as Docker does per
    host. A network present on no host (no ``host``, no sandboxes) overlaps
    nothing in the topology: it avoids every other subnet and every later
    automatic subnet avoids it.

    Within a network, static IPs are reserved first (sandbox name order), then
    the gateway (``gateway`` if usable, else the lowest free address of the
    subnet), then dynamic endpoints in sandbox name order take the lowest free
    addresses of ``ip_range`` (if usable) or the subnet. MACs are the endpoint's
    ``mac`` or :func:`mac_from_ip`.

    Unusable input is skipped silently, leaving the reporting to validation: a
    network whose driver uses no IPAM (``null``, ``host``) or whose ``subnet`` is
    not a strict IPv4 CIDR gets no entry; a bad ``gateway`` or ``ip_range`` is
    ignored; an endpoint whose static IP is malformed, outside the subnet, the
    network/broadcast address or already claimed (first claimant wins) gets no
    entry.

    Parameters
    ----------
    topo : Topology
        The model; it is not modified.

    Returns
    -------
    tuple of (Addressing, list of Problem)
        The addresses, and the sorted problems: ``no-available-pool`` when no
        default pool is free for a network, ``pool-exhausted`` when a network's
        subnet or ip_range lacks addresses for its dynamic endpoints (those
        left over get no entry).
    """
    drivers = known_drivers()
    networks = sorted((net for net in topo.networks if _uses_ipam(net, drivers)), key=lambda net: net.name)
    endpoints = {net.name: topo.endpoints_on(net.name) for net in networks}
    hosts = _hosts_by_network(topo, networks, endpoints)
    underlay = _parse_network(topo.underlay.subnet)
    problems: list[Problem] = []

    subnets: dict[str, IPv4Network] = {}
    for net in networks:
        if net.subnet is not None:
            parsed = _parse_network(net.subnet)
            if parsed is None:
                logger.debug("network %s: skipping unusable subnet %r", net.name, net.subnet)
            else:
                subnets[net.name] = parsed
    by_name = {net.name: net for net in networks}
    for net in networks:
        if net.subnet is not None:
            continue
        if net.driver == "macvlan" and underlay is not None:
            subnets[net.name] = underlay  # a macvlan sits on the underlay's wire, as Docker's on its parent's
            continue
        avoid = [subnets[other] for other in subnets if _shares_scope(net, by_name[other], hosts)]
        if underlay is not None:
            avoid.append(underlay)
        chosen = DEFAULT_POOLS[net.scope].first_free(avoid)
        if chosen is None:
            problems.append(
                Problem(
                    f"networks.{net.name}",
                    "no-available-pool",
                    f"network {net.name!r}: {NO_POOL_MESSAGE} for {net.scope}-scope networks",
                    "set the network's subnet explicitly",
                )
            )
            continue
        subnets[net.name] = chosen

    wire_addresses = [internet_address(topo), *host_addresses(topo).values()] if underlay is not None else []
    planned: dict[str, NetworkAddress] = {}
    addressed: dict[tuple[str, str], EndpointAddress] = {}
    for net in networks:
        subnet = subnets.get(net.name)
        if subnet is None:
            continue
        on_wire = net.driver == "macvlan" and underlay is not None and subnet.overlaps(underlay)
        config, problem = _address_network(
            net, subnet, endpoints[net.name], addressed,
            reserved=wire_addresses if on_wire else (),
            default_gateway=internet_address(topo) if on_wire and subnet == underlay else None)
        if config is not None:
            planned[net.name] = config
            if on_wire:   # the next macvlan network on the same wire must not hand these out again
                wire_addresses += [str(config.gateway)] + [str(addressed[(ep.sandbox, net.name)].ip.ip)
                                                           for ep in endpoints[net.name]
                                                           if (ep.sandbox, net.name) in addressed]
        if problem is not None:
            problems.append(problem)
    return Addressing(planned, dict(sorted(addressed.items()))), sorted(problems)


def allocate(topo: Topology) -> Addressing:
    """:func:`plan_addresses`, raising when anything could not be addressed.

    Parameters
    ----------
    topo : Topology
        The model.

    Returns
    -------
    Addressing
        The addresses of every IPAM network and endpoint.

    Raises
    ------
    ValidationError
        Carrying the ``pool-exhausted`` / ``no-available-pool`` problems.
    """
    addressing, problems = plan_addresses(topo)
    if problems:
        raise ValidationError(problems)
    return addressing
