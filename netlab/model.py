"""Model: typed CNM records (Host, Network, Sandbox, Endpoint) in a networkx graph.

A :class:`Topology` wraps an ``nx.MultiGraph`` (``topo.graph`` is public):

* nodes are ``(kind, name)`` tuples, ``kind`` one of ``"host"``, ``"network"``,
  ``"sandbox"``; the node attribute ``record`` holds the typed record;
* an **endpoint** is an edge sandbox--network with key ``"endpoint"`` and the
  attribute ``record`` holding an :class:`Endpoint`;
* a **placement** is an edge sandbox--host with key ``"placement"``.

The builder keeps the graph referentially consistent: it refuses dangling
references (``NotFoundError``) and duplicates (``ConflictError``). Semantic
checks (overlaps, ranges, names) live in :mod:`netlab.validation`; kernel
object names in :mod:`netlab.naming`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

from netlab.errors import ConflictError, InvalidRequestError, NotFoundError

__all__ = [
    "Check",
    "Endpoint",
    "Host",
    "Network",
    "NodeId",
    "PortMapping",
    "Sandbox",
    "Topology",
    "Underlay",
]

NodeId = tuple[str, str]

GLOBAL_SCOPE_DRIVERS = frozenset({"overlay"})

_PORT_RE = re.compile(
    r"^(?:(?P<ip>\d{1,3}(?:\.\d{1,3}){3}):)?(?P<host>\d{1,5}):(?P<ctr>\d{1,5})(?:/(?P<proto>[a-z]+))?$"
)


@dataclass(frozen=True, slots=True)
class PortMapping:
    """A published port: ``host_port`` on the host forwards to ``container_port``."""

    host_port: int
    container_port: int
    protocol: str = "tcp"
    host_ip: str | None = None

    @classmethod
    def parse(cls, spec: str) -> PortMapping:
        """Parse Docker's short form ``[IP:]HOST:CONTAINER[/PROTO]``.

        >>> PortMapping.parse("8080:80/tcp")
        PortMapping(host_port=8080, container_port=80, protocol='tcp', host_ip=None)
        """
        match = _PORT_RE.match(str(spec).strip())
        if not match:
            raise InvalidRequestError(
                f"port mapping {spec!r} is not of the form [IP:]HOST:CONTAINER[/tcp|udp]"
            )
        proto = match.group("proto") or "tcp"
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidRequestError(f"port mapping {spec!r}: protocol {proto!r} is not tcp, udp or sctp")
        host_port, ctr_port = int(match.group("host")), int(match.group("ctr"))
        for port in (host_port, ctr_port):
            if not 1 <= port <= 65535:
                raise InvalidRequestError(f"port mapping {spec!r}: port {port} is outside 1-65535")
        return cls(host_port, ctr_port, proto, match.group("ip"))

    def __str__(self) -> str:
        prefix = f"{self.host_ip}:" if self.host_ip else ""
        return f"{prefix}{self.host_port}:{self.container_port}/{self.protocol}"


@dataclass(frozen=True, slots=True)
class Underlay:
    """The network the lab's hosts meet on (lab mode)."""

    subnet: str = "192.0.2.0/24"
    mtu: int = 1500
    #: whether an "internet" namespace sits behind the underlay (at its first address)
    internet: bool = True


@dataclass(frozen=True, slots=True)
class Host:
    """A machine (in lab mode: a network namespace playing a machine)."""

    name: str
    underlay_ip: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Network:
    """A CNM network: endpoints on it can talk to each other directly.

    ``host`` pins a local-scope network (bridge, macvlan, null, host) to one
    host; when omitted it is inferred (see :meth:`Topology.network_hosts`).
    """

    name: str
    driver: str = "bridge"
    host: str | None = None
    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = None
    internal: bool = False
    mtu: int | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        """``"global"`` for drivers spanning hosts (overlay), else ``"local"``."""
        return "global" if self.driver in GLOBAL_SCOPE_DRIVERS else "local"


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A container's network stack (a network namespace) on one host."""

    name: str
    host: str | None = None
    ports: tuple[PortMapping, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Joins one sandbox to one network, with an optional static IP/MAC and aliases."""

    sandbox: str
    network: str
    ip: str | None = None
    mac: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation from a scenario's ``expect:`` section (run by the harness)."""

    kind: str
    params: Mapping[str, Any]
    path: str


def _node(kind: str, name: str) -> NodeId:
    return (kind, name)


class Topology:
    """Hosts, networks, sandboxes and endpoints as a networkx ``MultiGraph``.

    >>> topo = Topology("demo")
    >>> _ = topo.add_host("h1")
    >>> _ = topo.add_network("front", subnet="10.0.1.0/24")
    >>> _ = topo.add_sandbox("web", host="h1")
    >>> topo.connect("web", "front", ip="10.0.1.10").ip
    '10.0.1.10'
    >>> [n.name for n in topo.networks_of("web")]
    ['front']
    """

    def __init__(self, name: str = "lab", underlay: Underlay | None = None) -> None:
        self.name = name
        self.underlay = underlay or Underlay()
        self.graph: nx.MultiGraph = nx.MultiGraph()
        self.expect: list[Check] = []
        #: where each dotted path came from: ``{path: line}`` (filled by loading)
        self.lines: dict[str, int] = {}
        #: the file the model was loaded from, if any
        self.source: str | None = None
        self._host_names: list[str] | None = None  # cache, reset by the builder

    # -- lookups -----------------------------------------------------------
    def _record(self, kind: str, name: str) -> Any:
        data = self.graph.nodes.get(_node(kind, name))
        if data is None:
            raise NotFoundError(f"{kind} {name!r} not found in topology {self.name!r}")
        return data["record"]

    def host(self, name: str) -> Host:
        record: Host = self._record("host", name)
        return record

    def network(self, name: str) -> Network:
        record: Network = self._record("network", name)
        return record

    def sandbox(self, name: str) -> Sandbox:
        record: Sandbox = self._record("sandbox", name)
        return record

    def has(self, kind: str, name: str) -> bool:
        return _node(kind, name) in self.graph

    def _records(self, kind: str) -> Iterator[Any]:
        for (node_kind, _), data in self.graph.nodes(data=True):
            if node_kind == kind:
                yield data["record"]

    @property
    def hosts(self) -> list[Host]:
        return list(self._records("host"))

    @property
    def networks(self) -> list[Network]:
        return list(self._records("network"))

    @property
    def sandboxes(self) -> list[Sandbox]:
        return list(self._records("sandbox"))

    @property
    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, grouped by sandbox in connect order."""
        return [ep for sbx in self._records("sandbox") for ep in self.endpoints_of(sbx.name)]

    def endpoint(self, sandbox: str, network: str) -> Endpoint:
        data = self.graph.get_edge_data(_node("sandbox", sandbox), _node("network", network), "endpoint")
        if data is None:
            raise NotFoundError(f"sandbox {sandbox!r} is not connected to network {network!r}")
        record: Endpoint = data["record"]
        return record

    def endpoints_of(self, sandbox: str) -> list[Endpoint]:
        """The sandbox's endpoints in connect order (eth0, eth1, ...)."""
        node = _node("sandbox", sandbox)
        if node not in self.graph:
            raise NotFoundError(f"sandbox {sandbox!r} not found in topology {self.name!r}")
        return [keys["endpoint"]["record"] for keys in self.graph._adj[node].values() if "endpoint" in keys]

    def endpoints_on(self, network: str) -> list[Endpoint]:
        node = _node("network", network)
        if node not in self.graph:
            raise NotFoundError(f"network {network!r} not found in topology {self.name!r}")
        return [keys["endpoint"]["record"] for keys in self.graph._adj[node].values() if "endpoint" in keys]

    def networks_of(self, sandbox: str) -> list[Network]:
        return [self.network(ep.network) for ep in self.endpoints_of(sandbox)]

    def host_of(self, sandbox: str) -> str | None:
        """The sandbox's host: explicit, or the only host of the topology."""
        record = self.sandbox(sandbox)
        if record.host is not None:
            return record.host
        return self._only_host()

    def _only_host(self) -> str | None:
        """The single host's name, if the topology has exactly one (O(1) after the first call)."""
        if self._host_names is None:
            self._host_names = [name for kind, name in self.graph.nodes if kind == "host"]
        return self._host_names[0] if len(self._host_names) == 1 else None

    def sandboxes_on(self, host: str) -> list[Sandbox]:
        return [sbx for sbx in self._records("sandbox") if self.host_of(sbx.name) == host]

    def network_hosts(self, network: str) -> list[str]:
        """Hosts a network is present on.

        A local-scope network lives on its ``host``; without one, on the only
        host of the topology, else on the hosts of its sandboxes. A global
        network (overlay) is on every host where one of its sandboxes runs.
        """
        record = self.network(network)
        if record.scope == "local":
            if record.host is not None:
                return [record.host]
            only = self._only_host()
            if only is not None:
                return [only]
        found: dict[str, None] = {}
        for ep in self.endpoints_on(network):
            host = self.host_of(ep.sandbox)
            if host is not None:
                found[host] = None
        return list(found)

    # -- builder -------------------------------------------------------------
    def _add(self, kind: str, record: Any) -> None:
        node = _node(kind, record.name)
        if node in self.graph:
            raise ConflictError(f"{kind} {record.name!r} already exists in topology {self.name!r}")
        self.graph.add_node(node, kind=kind, record=record)
        if kind == "host":
            self._host_names = None

    def add_host(self, name: str, *, underlay_ip: str | None = None,
                 labels: Mapping[str, str] | None = None) -> Host:
        record = Host(name, underlay_ip, dict(labels or {}))
        self._add("host", record)
        return record

    def add_network(self, name: str, driver: str = "bridge", **options: Any) -> Network:
        """Add a network; keyword options are :class:`Network` fields."""
        if options.get("host") is not None:
            self.host(options["host"])
        record = Network(name, driver, **options)
        self._add("network", record)
        return record

    def add_sandbox(self, name: str, host: str | None = None,
                    ports: Sequence[PortMapping | str] = (),
                    labels: Mapping[str, str] | None = None) -> Sandbox:
        if host is not None:
            self.host(host)
        parsed = tuple(p if isinstance(p, PortMapping) else PortMapping.parse(p) for p in ports)
        record = Sandbox(name, host, parsed, dict(labels or {}))
        self._add("sandbox", record)
        if host is not None:
            self.graph.add_edge(_node("sandbox", name), _node("host", host), key="placement",
                                kind="placement")
        return record

    def connect(self, sandbox: str, network: str, ip: str | None = None,
                aliases: Sequence[str] = (), mac: str | None = None) -> Endpoint:
        """Create an endpoint joining ``sandbox`` to ``network``."""
        self.sandbox(sandbox)
        self.network(network)
        u, v = _node("sandbox", sandbox), _node("network", network)
        if self.graph.has_edge(u, v, "endpoint"):
            raise ConflictError(f"sandbox {sandbox!r} is already connected to network {network!r}")
        record = Endpoint(sandbox, network, ip, mac, tuple(aliases))
        self.graph.add_edge(u, v, key="endpoint", kind="endpoint", record=record)
        return record

    def disconnect(self, sandbox: str, network: str) -> None:
        self.endpoint(sandbox, network)
        self.graph.remove_edge(_node("sandbox", sandbox), _node("network", network), "endpoint")

    def remove_sandbox(self, name: str) -> None:
        """Remove a sandbox and its endpoints (as ``docker rm`` does)."""
        self.sandbox(name)
        self.graph.remove_node(_node("sandbox", name))

    def remove_network(self, name: str, force: bool = False) -> None:
        """Remove a network; refused while endpoints exist unless ``force``."""
        active = [ep.sandbox for ep in self.endpoints_on(name)]
        if active and not force:
            raise ConflictError(f"network {name!r} has active endpoints: {', '.join(active)}")
        self.graph.remove_node(_node("network", name))

    def remove_host(self, name: str) -> None:
        """Remove a host; refused while sandboxes or networks are placed on it."""
        self.host(name)
        users = [s.name for s in self._records("sandbox") if s.host == name]
        users += [n.name for n in self._records("network") if n.host == name]
        if users:
            raise ConflictError(f"host {name!r} is still used by: {', '.join(users)}")
        self.graph.remove_node(_node("host", name))
        self._host_names = None

    def update_network(self, name: str, **changes: Any) -> Network:
        """Replace fields of a network record (e.g. ``subnet=...``)."""
        record = replace(self.network(name), **changes)
        if record.host is not None:
            self.host(record.host)
        self.graph.nodes[_node("network", name)]["record"] = record
        return record

    def update_endpoint(self, sandbox: str, network: str, **changes: Any) -> Endpoint:
        record = replace(self.endpoint(sandbox, network), **changes)
        edge = self.graph.edges[_node("sandbox", sandbox), _node("network", network), "endpoint"]
        edge["record"] = record
        return record

    # -- conversions ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The scenario-file form (see docs/scenario-format.md); sorted by name."""
        from netlab.loading import topology_to_dict

        return topology_to_dict(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Topology):
            return NotImplemented
        # JSON text, not dicts: dict equality ignores a container's network order (its eth0, eth1, ...)
        return json.dumps(self.to_dict()) == json.dumps(other.to_dict())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"<Topology {self.name!r}: {len(self.hosts)} hosts, {len(self.networks)} networks, "
                f"{len(self.sandboxes)} sandboxes, {len(self.endpoints)} endpoints>")

    # -- pictures ------------------------------------------------------------
    def draw(self, path: str | None = None, **kwargs: Any) -> Any:
        """Draw the topology with matplotlib; save to ``path`` if given. Returns the figure."""
        from netlab.drawing import draw_topology

        return draw_topology(self, path=path, **kwargs)

    def _repr_png_(self) -> bytes | None:
        from netlab.drawing import topology_png

        return topology_png(self)
