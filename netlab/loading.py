"""Loading: scenario YAML / dict <-> Topology (shape only; meaning is validation's job).

Every shape problem (unknown key, wrong type, duplicate name, dangling
reference) is collected with its dotted path and YAML line; nothing stops at
the first one. See ``docs/scenario-format.md`` for the format.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netlab.bulk import gc_paused
from netlab.errors import InvalidRequestError, Problem, ValidationError
from netlab.model import Check, PortMapping, Topology, Underlay
from netlab.yaml_lines import YamlSyntaxError, join, read_yaml

__all__ = [
    "CHECK_KINDS",
    "load_file",
    "load_text",
    "from_dict",
    "parse_dict",
    "parse_file",
    "parse_text",
    "topology_to_dict",
]

TOP_KEYS = ("name", "description", "underlay", "hosts", "networks", "containers", "expect")
UNDERLAY_KEYS = ("subnet", "mtu", "internet")
HOST_KEYS = ("underlay_ip", "labels")
NETWORK_KEYS = ("driver", "host", "subnet", "gateway", "ip_range", "internal", "mtu", "options", "labels")
CONTAINER_KEYS = ("host", "networks", "ports", "labels")
ENDPOINT_KEYS = ("ip", "mac", "aliases")

#: check kind -> (required params, optional params)
CHECK_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "reach": (("from", "to"), ("network",)),
    "isolated": (("from", "to"), ("network",)),
    "tcp": (("from", "to", "port"), ("expect",)),
    "udp": (("from", "to", "port"), ("expect",)),
    "names": (("from", "names"), ()),
    "mtu": (("from", "to", "expect"), ()),
    "external": (("from",), ("expect",)),
    "published": (("host", "port"), ("from", "protocol", "expect")),
    "reachability": ((), ()),
}


class _Reader:
    """Collects shape problems while turning plain data into a Topology."""

    def __init__(self, lines: Mapping[str, int], source: str | None) -> None:
        self.lines = lines
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, path: str, code: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(path, code, message, hint, locate(self.lines, path), self.source))

    def mapping(self, value: Any, path: str, what: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, "bad-type", f"{what} must be a mapping, not {_kind(value)}")
            return {}
        good: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                self.problem(join(path, str(key)), "bad-type",
                             f"{what}: key {key!r} must be a non-empty name")
                continue
            good[key] = item
        return good

    def keys(self, data: Mapping[str, Any], path: str, allowed: tuple[str, ...], what: str) -> None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(allowed)}"
                self.problem(join(path, key), "unknown-key", f"{what} has no key {key!r}", hint)

    def typed(self, data: Mapping[str, Any], key: str, path: str, kind: type | tuple[type, ...],
              label: str) -> Any:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) and kind is not bool:
            self.problem(join(path, key), "bad-type", f"{key} must be {label}, not a boolean")
            return None
        if not isinstance(value, kind):
            self.problem(join(path, key), "bad-type", f"{key} must be {label}, not {_kind(value)}")
            return None
        return value

    def text(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        value: str | None = self.typed(data, key, path, str, "a string")
        return value

    def integer(self, data: Mapping[str, Any], key: str, path: str) -> int | None:
        value: int | None = self.typed(data, key, path, int, "an integer")
        return value

    def flag(self, data: Mapping[str, Any], key: str, path: str) -> bool:
        value = data.get(key)
        if value is None:
            return False
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            self.problem(join(path, key), "bad-type", f"{key} must be true or false, not {value!r}")
            return False
        return value

    def string_map(self, data: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
        raw = self.mapping(data.get(key), join(path, key), key)
        result: dict[str, str] = {}
        for name, value in raw.items():
            if isinstance(value, bool):
                result[name] = "true" if value else "false"
            elif isinstance(value, (str, int, float)):
                result[name] = str(value)
            else:
                self.problem(join(join(path, key), name), "bad-type",
                             f"{key} value for {name!r} must be a plain value, not {_kind(value)}")
        return result


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "a boolean"}.get(type(value), type(value).__name__)


def locate(lines: Mapping[str, int], path: str) -> int | None:
    """Line of ``path``, or of its nearest enclosing item that has one."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            break
        path = path[:cut]
    return lines.get(path)


def _named_items(reader: _Reader, value: Any, path: str, what: str) -> dict[str, Any]:
    """Accept a mapping ``{name: {...}}`` or a list of names ``[a, b]``."""
    if isinstance(value, list):
        items: dict[str, Any] = {}
        for index, name in enumerate(value):
            item_path = f"{path}[{index}]"
            if not isinstance(name, str) or not name:
                reader.problem(item_path, "bad-type", f"{what} entry must be a name, not {_kind(name)}")
            elif name in items:
                reader.problem(item_path, "duplicate-name", f"{what} {name!r} is listed twice")
            else:
                items[name] = None
        return items
    return reader.mapping(value, path, f"{what}s section")


def parse_dict(data: Any, lines: Mapping[str, int] | None = None, source: str | None = None,
               default_name: str = "lab") -> tuple[Topology, list[Problem]]:
    """Build a Topology from plain data; never raises for bad input.

    Returns the topology (with every well-formed item) and the shape problems.
    """
    reader = _Reader(lines or {}, source)
    top = reader.mapping(data, "", "a scenario")
    reader.keys(top, "", TOP_KEYS, "a scenario")
    name = reader.text(top, "name", "") or default_name
    underlay_data = reader.mapping(top.get("underlay"), "underlay", "underlay")
    reader.keys(underlay_data, "underlay", UNDERLAY_KEYS, "underlay")
    default = Underlay()
    underlay = Underlay(reader.text(underlay_data, "subnet", "underlay") or default.subnet,
                        reader.integer(underlay_data, "mtu", "underlay") or default.mtu,
                        underlay_data.get("internet") is None or reader.flag(underlay_data, "internet", "underlay"))
    topo = Topology(name, underlay)
    topo.lines = dict(lines or {})
    topo.source = source
    _load_hosts(reader, topo, top.get("hosts"))
    _load_networks(reader, topo, top.get("networks"))
    _load_containers(reader, topo, top.get("containers"))
    topo.expect = _load_expect(reader, top.get("expect"))
    return topo, reader.problems


def _load_hosts(reader: _Reader, topo: Topology, value: Any) -> None:
    for name, raw in _named_items(reader, value, "hosts", "host").items():
        path = join("hosts", name)
        data = reader.mapping(raw, path, f"host {name!r}")
        reader.keys(data, path, HOST_KEYS, f"host {name!r}")
        topo.add_host(name, underlay_ip=reader.text(data, "underlay_ip", path),
                      labels=reader.string_map(data, "labels", path))


def _reference(reader: _Reader, topo: Topology, kind: str, name: str | None, path: str) -> str | None:
    if name is None or topo.has(kind, name):
        return name
    known = [n for (k, n) in topo.graph.nodes if k == kind]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else (
        f"known {kind}s: {', '.join(known)}" if known else f"declare it under {kind}s:")
    reader.problem(path, f"unknown-{kind}", f"{kind} {name!r} is not declared", hint)
    return None


def _load_networks(reader: _Reader, topo: Topology, value: Any) -> None:
    for name, raw in _named_items(reader, value, "networks", "network").items():
        path = join("networks", name)
        data = reader.mapping(raw, path, f"network {name!r}")
        reader.keys(data, path, NETWORK_KEYS, f"network {name!r}")
        host = _reference(reader, topo, "host", reader.text(data, "host", path), join(path, "host"))
        topo.add_network(
            name,
            reader.text(data, "driver", path) or "bridge",
            host=host,
            subnet=reader.text(data, "subnet", path),
            gateway=reader.text(data, "gateway", path),
            ip_range=reader.text(data, "ip_range", path),
            internal=reader.flag(data, "internal", path),
            mtu=reader.integer(data, "mtu", path),
            options=reader.string_map(data, "options", path),
            labels=reader.string_map(data, "labels", path),
        )


def _load_containers(reader: _Reader, topo: Topology, value: Any) -> None:
    for name, raw in _named_items(reader, value, "containers", "container").items():
        path = join("containers", name)
        data = reader.mapping(raw, path, f"container {name!r}")
        reader.keys(data, path, CONTAINER_KEYS, f"container {name!r}")
        host = _reference(reader, topo, "host", reader.text(data, "host", path), join(path, "host"))
        topo.add_sandbox(name, host, _ports(reader, data.get("ports"), join(path, "ports")),
                         reader.string_map(data, "labels", path))
        nets_path = join(path, "networks")
        for net, ep_raw in _named_items(reader, data.get("networks"), nets_path, "network").items():
            ep_path = join(nets_path, net)
            ep = reader.mapping(ep_raw, ep_path, f"endpoint {name}.{net}")
            reader.keys(ep, ep_path, ENDPOINT_KEYS, f"endpoint {name}.{net}")
            aliases = ep.get("aliases") or []
            if isinstance(aliases, str):
                aliases = [aliases]
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                reader.problem(join(ep_path, "aliases"), "bad-type", "aliases must be a list of names")
                aliases = []
            if _reference(reader, topo, "network", net, ep_path) is None:
                continue
            topo.connect(name, net, ip=reader.text(ep, "ip", ep_path), aliases=aliases,
                         mac=reader.text(ep, "mac", ep_path))


def _ports(reader: _Reader, value: Any, path: str) -> list[PortMapping]:
    if value is None:
        return []
    if not isinstance(value, list):
        reader.problem(path, "bad-type", f"ports must be a list like ['8080:80/tcp'], not {_kind(value)}")
        return []
    ports = []
    for index, spec in enumerate(value):
        try:
            ports.append(PortMapping.parse(str(spec)))
        except InvalidRequestError as exc:
            reader.problem(f"{path}[{index}]", "bad-port", str(exc), "write it as HOST:CONTAINER[/tcp|udp]")
    return ports


def _load_expect(reader: _Reader, value: Any) -> list[Check]:
    if value is None:
        return []
    if not isinstance(value, list):
        reader.problem("expect", "bad-type", f"expect must be a list of checks, not {_kind(value)}")
        return []
    checks = []
    for index, item in enumerate(value):
        path = f"expect[{index}]"
        if not isinstance(item, dict) or len(item) != 1:
            reader.problem(path, "bad-check", "each check is a mapping with one key, e.g. "
                           "'- reach: {from: a, to: b}'", f"check kinds: {', '.join(CHECK_KINDS)}")
            continue
        ((kind, params),) = item.items()
        check = _check(reader, str(kind), params, join(path, str(kind)))
        if check is not None:
            checks.append(check)
    return checks


def _check(reader: _Reader, kind: str, params: Any, path: str) -> Check | None:
    if kind not in CHECK_KINDS:
        close = difflib.get_close_matches(kind, CHECK_KINDS, n=1)
        reader.problem(path, "bad-check", f"unknown check kind {kind!r}",
                       f"did you mean {close[0]!r}?" if close else f"check kinds: {', '.join(CHECK_KINDS)}")
        return None
    if kind == "reachability":
        if params != "full":
            reader.problem(path, "bad-check", f"reachability takes the value 'full', not {params!r}")
            return None
        return Check(kind, {"mode": "full"}, path)
    data = reader.mapping(params, path, f"{kind} check")
    required, optional = CHECK_KINDS[kind]
    reader.keys(data, path, required + optional, f"a {kind} check")
    missing = [key for key in required if key not in data]
    for key in missing:
        reader.problem(path, "bad-check", f"{kind} check needs {key!r}",
                       f"a {kind} check takes: {', '.join(required + optional)}")
    return None if missing else Check(kind, data, path)


def topology_to_dict(topo: Topology) -> dict[str, Any]:
    """The scenario-file form of a topology, canonical (sorted names, defaults omitted)."""
    def pruned(fields: dict[str, Any]) -> dict[str, Any]:
        # options and labels are sorted; a container's networks keep their connect order (eth0, eth1, ...)
        return {k: (dict(sorted(v.items())) if isinstance(v, Mapping) and k != "networks" else v)
                for k, v in fields.items() if v not in (None, False, {}, [], ())}

    hosts = {h.name: pruned({"underlay_ip": h.underlay_ip, "labels": h.labels})
             for h in sorted(topo.hosts, key=lambda h: h.name)}
    networks = {
        n.name: {"driver": n.driver, **pruned({
            "host": n.host, "subnet": n.subnet, "gateway": n.gateway, "ip_range": n.ip_range,
            "internal": n.internal, "mtu": n.mtu, "options": n.options, "labels": n.labels})}
        for n in sorted(topo.networks, key=lambda n: n.name)
    }
    containers = {}
    for sbx in sorted(topo.sandboxes, key=lambda s: s.name):
        endpoints = {ep.network: pruned({"ip": ep.ip, "mac": ep.mac, "aliases": list(ep.aliases)})
                     for ep in topo.endpoints_of(sbx.name)}
        containers[sbx.name] = pruned({"host": sbx.host, "networks": endpoints,
                                       "ports": [str(p) for p in sbx.ports], "labels": sbx.labels})
    result: dict[str, Any] = {
        "name": topo.name,
        "underlay": {"subnet": topo.underlay.subnet, "mtu": topo.underlay.mtu,
                     **({} if topo.underlay.internet else {"internet": False})},
        "hosts": hosts,
        "networks": networks,
        "containers": containers,
    }
    if topo.expect:
        result["expect"] = [{c.kind: ("full" if c.kind == "reachability" else dict(c.params))}
                            for c in topo.expect]
    return result


def parse_text(text: str, source: str | None = None,
               default_name: str = "lab") -> tuple[Topology, list[Problem]]:
    """Parse scenario YAML text; never raises for bad input."""
    with gc_paused():
        try:
            doc = read_yaml(text)
        except YamlSyntaxError as exc:
            problem = Problem("", "yaml-syntax", f"not valid YAML: {exc}", "check indentation and quoting",
                              exc.line, source)
            return Topology(default_name), [problem]
        topo, problems = parse_dict(doc.data, doc.lines, source, default_name)
    dupes = [Problem(d.path, "duplicate-name", f"{d.key!r} is defined twice (first on line {d.first_line})",
                     "rename or remove one of them", d.line, source) for d in doc.duplicates]
    return topo, sorted(dupes + problems, key=_order)


def _order(problem: Problem) -> tuple[int, str]:
    return (problem.line or 0, problem.path)


def parse_file(path: str | Path) -> tuple[Topology, list[Problem]]:
    """Read and parse a scenario file; an unreadable file is one problem, not an exception."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Topology(file.stem), [Problem("", "unreadable", f"cannot read {file}: {reason}", "", None,
                                             str(file))]
    return parse_text(text, str(file), default_name=file.stem)


def _raise_if(parsed: tuple[Topology, list[Problem]]) -> Topology:
    topo, problems = parsed
    if problems:
        raise ValidationError(problems)
    return topo


def load_file(path: str | Path) -> Topology:
    """Load a scenario file; raise :class:`ValidationError` listing every shape problem."""
    return _raise_if(parse_file(path))


def load_text(text: str, source: str | None = None) -> Topology:
    return _raise_if(parse_text(text, source))


def from_dict(data: Mapping[str, Any]) -> Topology:
    """Build a Topology from the dict form (as :func:`topology_to_dict` returns)."""
    return _raise_if(parse_dict(data))


