"""Editor edits: what the TopologyEditor does to a Topology, through its builder only.

No ipywidgets here: parsing form text (network options as ``key=value``
lines, MTU), edits made of several builder calls that leave the topology as
it was when one of them fails, and routing each problem to the item and the
form field at fault.

>>> parse_options("com.docker.network.bridge.enable_icc = false\\n\\n# a comment\\nparent=eth0")
{'com.docker.network.bridge.enable_icc': 'false', 'parent': 'eth0'}
>>> locate_problem("containers.web.networks.front.ip", {"container": {"web"}})
('container', 'web', 'networks.front.ip')
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import fields
from typing import Any

from netlab.errors import InvalidRequestError, NetlabError
from netlab.model import Host, Network, Sandbox, Topology

__all__ = [
    "ITEM_KINDS",
    "NETWORK_FIELDS",
    "add_container",
    "endpoint_changes",
    "format_options",
    "item_path",
    "locate_problem",
    "network_changes",
    "parse_options",
    "replace_record",
]

#: the kinds of item the editor lists, as scenario files name them
ITEM_KINDS = ("host", "network", "container")
#: the network fields the editor changes (a network's name is fixed once added)
NETWORK_FIELDS = ("driver", "host", "subnet", "gateway", "ip_range", "internal", "mtu", "options")
_SECTION = {"host": "hosts", "network": "networks", "container": "containers"}
_OPTIONAL_TEXT = ("host", "subnet", "gateway", "ip_range")


def item_path(kind: str, name: str) -> str:
    """The dotted path of an item, as problems name it: ``item_path("network", "front") == "networks.front"``."""
    return f"{_SECTION[kind]}.{name}"


def parse_options(text: str) -> dict[str, str]:
    """Driver options from ``key=value`` lines; blank lines and ``#`` comments are skipped.

    Raises
    ------
    InvalidRequestError
        A line is not ``key=value``, has no key, or repeats a key; the message names the line.
    """
    options: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            raise InvalidRequestError(f"options line {number} {line!r} is not key=value")
        if not key:
            raise InvalidRequestError(f"options line {number} {line!r} has no key before '='")
        if key in options:
            raise InvalidRequestError(f"options line {number} repeats key {key!r} (first given on line "
                                      f"{first_line[key]})")
        options[key] = value.strip()
        first_line[key] = number
    return options


def format_options(options: Mapping[str, str]) -> str:
    """The ``key=value`` lines :func:`parse_options` reads back."""
    return "\n".join(f"{key}={value}" for key, value in options.items())


def _text_or_none(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"{field} must be text, not {type(value).__name__}")
    return value.strip() or None


def _mtu(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidRequestError(f"mtu {value!r} is not a whole number")
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidRequestError(f"mtu {value!r} is not a whole number") from None


def network_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Form values -> :meth:`Topology.update_network` keywords.

    Empty text means "not set" (``None``); ``mtu`` may be text; ``options``
    may be a mapping or ``key=value`` lines.

    Raises
    ------
    InvalidRequestError
        An unknown field, an empty driver, a non-boolean ``internal``, an MTU that
        is not a number, or options that do not parse.
    """
    out: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in NETWORK_FIELDS:
            raise InvalidRequestError(f"network field {field!r} cannot be edited; editable fields: "
                                      f"{', '.join(NETWORK_FIELDS)}")
        if field == "driver":
            driver = _text_or_none("driver", value)
            if driver is None:
                raise InvalidRequestError("driver must not be empty")
            out[field] = driver
        elif field in _OPTIONAL_TEXT:
            out[field] = _text_or_none(field, value)
        elif field == "internal":
            if not isinstance(value, bool):
                raise InvalidRequestError(f"internal must be True or False, not {value!r}")
            out[field] = value
        elif field == "mtu":
            out[field] = _mtu(value)
        elif isinstance(value, str):
            out[field] = parse_options(value)
        elif isinstance(value, Mapping):
            out[field] = {str(key): str(val) for key, val in value.items()}
        else:
            raise InvalidRequestError(f"options must be key=value lines or a mapping, not {type(value).__name__}")
    return out


def endpoint_changes(ip: Any = None, mac: Any = None, aliases: str | Sequence[str] | None = None,
                     given: Collection[str] = ()) -> dict[str, Any]:
    """Form values -> :meth:`Topology.update_endpoint` keywords, for the fields in ``given``.

    ``aliases`` may be a list or text with names separated by commas or blanks.
    """
    out: dict[str, Any] = {}
    if "ip" in given:
        out["ip"] = _text_or_none("ip", ip)
    if "mac" in given:
        out["mac"] = _text_or_none("mac", mac)
    if "aliases" in given:
        names = aliases.replace(",", " ").split() if isinstance(aliases, str) else aliases or ()
        out["aliases"] = tuple(alias.strip() for alias in names if alias.strip())
    return out


def add_container(topo: Topology, name: str, host: str | None, networks: Sequence[str]) -> None:
    """Add a container and connect it, in that order; on any failure the container is gone again."""
    topo.add_sandbox(name, host=host)
    try:
        for network in networks:
            topo.connect(name, network)
    except NetlabError:
        topo.remove_sandbox(name)
        raise


def replace_record(topo: Topology, record: Host | Sandbox) -> None:
    """Swap one host (e.g. a new ``underlay_ip``) or container (e.g. a new host) in place.

    The builder can add and remove but not change hosts and containers, so
    every container, network and host is removed and added back in its old
    order with the one record swapped; endpoints keep their order (eth0,
    eth1, ...), addresses, MACs and aliases. References are checked first:
    when this raises, nothing has changed.
    """
    if isinstance(record, Host):
        topo.host(record.name)
    else:
        topo.sandbox(record.name)
        if record.host is not None:
            topo.host(record.host)
    hosts = [record if isinstance(record, Host) and h.name == record.name else h for h in topo.hosts]
    networks = topo.networks
    sandboxes = [record if isinstance(record, Sandbox) and s.name == record.name else s for s in topo.sandboxes]
    endpoints = topo.endpoints
    for sandbox in sandboxes:
        topo.remove_sandbox(sandbox.name)
    for network in networks:
        topo.remove_network(network.name, force=True)
    for host in hosts:
        topo.remove_host(host.name)
    for host in hosts:
        topo.add_host(host.name, underlay_ip=host.underlay_ip, labels=host.labels)
    for network in networks:
        extra = {f.name: getattr(network, f.name) for f in fields(Network) if f.name not in ("name", "driver")}
        topo.add_network(network.name, network.driver, **extra)
    for sandbox in sandboxes:
        topo.add_sandbox(sandbox.name, host=sandbox.host, ports=sandbox.ports, labels=sandbox.labels)
    for ep in endpoints:
        topo.connect(ep.sandbox, ep.network, ip=ep.ip, aliases=ep.aliases, mac=ep.mac)


def locate_problem(path: str, names: Mapping[str, Collection[str]]) -> tuple[str, str, str] | None:
    """``(kind, name, field)`` of the listed item a problem's path points into, else ``None``.

    ``names`` maps each kind of :data:`ITEM_KINDS` to the item names; a name
    may itself contain dots (such a name is a problem too, and still found;
    the longest name that fits the path wins).
    ``field`` is the rest of the path (``""`` when the item itself is at fault).
    """
    for kind, section in _SECTION.items():
        if not path.startswith(section + "."):
            continue
        parts = path[len(section) + 1:].split(".")
        known = names.get(kind, ())
        for cut in range(len(parts), 0, -1):  # the longest name that fits wins
            name = ".".join(parts[:cut])
            if name in known:
                return kind, name, ".".join(parts[cut:])
    return None
