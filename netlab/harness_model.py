"""The harness's view of a deployed lab: which namespace is whose, which address a name means.

:class:`DeployedLab` is pure data (no backend): the deployable topology (with
libnetwork's gateway bridges, :func:`netlab.lab.with_gateway_bridges`), its
addressing, and the lab's name, from which every namespace name follows
(:mod:`netlab.naming`). It answers:

* where a sandbox's processes run (:meth:`DeployedLab.sandbox_ns`; a sandbox on the
  ``host`` driver shares its host's namespace);
* which address a check's ``to`` means (:meth:`DeployedLab.target`);
* the hosts file the harness writes in each sandbox (:meth:`DeployedLab.hosts_entries`)
  and what a name should resolve to there (:meth:`DeployedLab.expected_address`).

Names as Docker's embedded DNS sees them: a container sees the names and
aliases of the other containers on each of its networks (aliases only on the
network that declares them), the gateway bridges excepted; when a name is on
several of its networks, the first in its connect order wins.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netlab import naming
from netlab.addressing import Addressing, EndpointAddress, NetworkAddress
from netlab.errors import InvalidRequestError, NotFoundError
from netlab.lab import GATEWAY_BRIDGE, with_gateway_bridges
from netlab.model import Network, Topology
from netlab.underlay import host_addresses, internet_address

__all__ = ["Column", "DeployedLab", "Target", "addressing_from_dict"]

DEFAULT_BRIDGE_OPTION = "com.docker.network.bridge.default_bridge"


def addressing_from_dict(data: Mapping[str, Any]) -> Addressing:
    """The inverse of :meth:`Addressing.to_dict` (what the store keeps for a deployed lab)."""
    networks = {name: NetworkAddress(ipaddress.IPv4Network(net["subnet"]), ipaddress.IPv4Address(net["gateway"]),
                                     ipaddress.IPv4Network(net["ip_range"]) if net.get("ip_range") else None)
                for name, net in data.get("networks", {}).items()}
    endpoints = {(sandbox, network): EndpointAddress(ipaddress.IPv4Interface(ep["ip"]), ep["mac"])
                 for sandbox, nets in data.get("endpoints", {}).items() for network, ep in nets.items()}
    return Addressing(networks, endpoints)


@dataclass(frozen=True, slots=True)
class Target:
    """An address to probe and the namespace expected to answer (None: whoever owns it)."""

    ip: str
    ns: str | None
    label: str


@dataclass(frozen=True, slots=True)
class Column:
    """One address of a sandbox, a column of the reachability matrix (``network`` is ``host`` for the host's own)."""

    sandbox: str
    network: str
    ip: str


def _is_address(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def is_gateway_bridge(network: Network) -> bool:
    return network.name.startswith(f"{GATEWAY_BRIDGE}-")


def has_names(network: Network) -> bool:
    """Whether containers on ``network`` resolve each other by name (not on a gateway or default bridge)."""
    return not is_gateway_bridge(network) and network.options.get(DEFAULT_BRIDGE_OPTION, "false") != "true"


class DeployedLab:
    """A deployed lab as the harness sees it (see the module docstring)."""

    def __init__(self, lab: str, topo: Topology, addressing: Addressing) -> None:
        self.lab = lab
        self.topo = topo if any(is_gateway_bridge(n) for n in topo.networks) else with_gateway_bridges(topo)
        self.addressing = addressing
        self.host_ips = host_addresses(self.topo)
        self.internet_ip = internet_address(self.topo) if self.topo.underlay.internet else None
        self.internet_ns = naming.internet_netns(lab)

    # -- places ------------------------------------------------------------------------------
    @property
    def sandboxes(self) -> list[str]:
        """Sandboxes placed on a host (the ones with a namespace), by name."""
        return sorted(s.name for s in self.topo.sandboxes if self.topo.host_of(s.name) is not None)

    def sandbox(self, name: str) -> str:
        """The sandbox called ``name``, or owning the alias ``name``; NotFoundError otherwise."""
        if self.topo.has("sandbox", name):
            return name
        owners = sorted({ep.sandbox for ep in self.topo.endpoints if name in ep.aliases})
        if owners:
            return owners[0]
        raise NotFoundError(f"lab {self.lab!r} has no container or alias {name!r} "
                            f"(containers: {', '.join(self.sandboxes) or 'none'})")

    def shares_host_ns(self, sandbox: str) -> bool:
        return any(n.driver == "host" for n in self.topo.networks_of(sandbox))

    def host_of(self, sandbox: str) -> str:
        host = self.topo.host_of(sandbox)
        if host is None:
            raise NotFoundError(f"container {sandbox!r} of lab {self.lab!r} is on no host")
        return host

    def sandbox_ns(self, sandbox: str) -> str:
        host = self.host_of(sandbox)
        return naming.host_netns(self.lab, host) if self.shares_host_ns(sandbox) else naming.sandbox_netns(
            self.lab, sandbox)

    def host_ns(self, host: str) -> str:
        self.topo.host(host)
        return naming.host_netns(self.lab, host)

    def host_ip(self, host: str) -> str:
        self.topo.host(host)
        if host not in self.host_ips:
            raise NotFoundError(f"host {host!r} of lab {self.lab!r} has no underlay address")
        return self.host_ips[host]

    def addressed(self, sandbox: str) -> list[tuple[Network, str]]:
        """The sandbox's networks that gave it an address, in connect order, with that address."""
        found = []
        for ep in self.topo.endpoints_of(sandbox):
            address = self.addressing.endpoints.get((sandbox, ep.network))
            if address is not None:
                found.append((self.topo.network(ep.network), str(address.ip.ip)))
        return found

    def columns(self, sandbox: str) -> list[Column]:
        """Every address ``sandbox`` answers on: its endpoints' (connect order), or its host's (host driver)."""
        if self.shares_host_ns(sandbox):
            return [Column(sandbox, "host", self.host_ip(self.host_of(sandbox)))]
        return [Column(sandbox, net.name, ip) for net, ip in self.addressed(sandbox)]

    # -- what a check's "to" means --------------------------------------------------------------
    def target(self, src: str, to: str, network: str | None = None) -> Target:
        """The address ``to`` (a container, an alias or an IPv4 address) means for ``src``.

        A name means its address on ``network`` when given, else on the first
        network ``src`` shares with it (``src``'s connect order; gateway bridges do
        not count), else its first address. An address is answered by the container that has it on a
        network ``src`` is on, else by its only owner in the lab (a host, the
        internet namespace, a container), else by anyone.
        """
        src = self.sandbox(src)
        if _is_address(to):
            return self._address_target(src, to)
        if network is not None:
            self.topo.network(network)
            owner = self._named_on(to, network)
            if owner is None:
                raise NotFoundError(f"{to!r} is not a container or alias on network {network!r}")
            return self._endpoint_target(owner, network)
        for net, _ in self.addressed(src):
            owner = None if is_gateway_bridge(net) else self._named_on(to, net.name)
            if owner is not None and owner != src:
                return self._endpoint_target(owner, net.name)
        owner = self.sandbox(to)
        columns = self.columns(owner)
        if not columns:
            raise InvalidRequestError(f"container {owner!r} has no address to reach (null network?)")
        first = columns[0]
        return Target(first.ip, self.sandbox_ns(owner), f"{owner} {first.ip}")

    def _named_on(self, name: str, network: str) -> str | None:
        for ep in self.topo.endpoints_on(network):
            if ep.sandbox == name or name in ep.aliases:
                return ep.sandbox
        return None

    def _endpoint_target(self, sandbox: str, network: str) -> Target:
        address = self.addressing.endpoints.get((sandbox, network))
        if address is None:
            raise InvalidRequestError(f"container {sandbox!r} has no address on network {network!r}")
        ip = str(address.ip.ip)
        return Target(ip, self.sandbox_ns(sandbox), f"{sandbox} {ip}")

    def _address_target(self, src: str, ip: str) -> Target:
        own = {net.name for net, _ in self.addressed(src)}
        owners = [(s, net) for (s, net), address in self.addressing.endpoints.items() if str(address.ip.ip) == ip]
        near = [(s, net) for s, net in owners if net in own]
        chosen = near or (owners if len({s for s, _ in owners}) == 1 else [])
        if chosen:
            sandbox = chosen[0][0]
            return Target(ip, self.sandbox_ns(sandbox), f"{sandbox} {ip}")
        if ip == self.internet_ip:
            return Target(ip, self.internet_ns, f"internet {ip}")
        for host, host_ip in self.host_ips.items():
            if host_ip == ip:
                return Target(ip, self.host_ns(host), f"host {host} {ip}")
        return Target(ip, None, ip)

    # -- names ------------------------------------------------------------------------------
    def hosts_entries(self, sandbox: str) -> list[tuple[str, list[str]]]:
        """(address, names) lines of ``sandbox``'s hosts file: the others on its named networks, connect order."""
        entries: list[tuple[str, list[str]]] = []
        for net, _ in self.addressed(sandbox):
            if not has_names(net):
                continue
            for ep in sorted(self.topo.endpoints_on(net.name), key=lambda e: e.sandbox):
                address = self.addressing.endpoints.get((ep.sandbox, net.name))
                if ep.sandbox != sandbox and address is not None:
                    entries.append((str(address.ip.ip), [ep.sandbox, *ep.aliases]))
        return entries

    def expected_address(self, sandbox: str, name: str) -> str | None:
        """What ``name`` should resolve to inside ``sandbox`` (None: it is nobody on its named networks)."""
        for net, _ in self.addressed(sandbox):
            if not has_names(net):
                continue
            owner = self._named_on(name, net.name)
            if owner is not None and owner != sandbox:
                return str(self.addressing.endpoints[(owner, net.name)].ip.ip)
        return None
