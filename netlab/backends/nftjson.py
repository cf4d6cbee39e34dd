"""nft JSON normalisation: rulesets as nft lists them, comparable across backends.

:func:`normalize_ruleset` turns either an applied document of commands or an
``nft -j list ruleset`` listing into the same plain list of
``{"table"|"chain"|"rule": {...}}`` objects, mapping the rewrites nft does on
the way back (documented on the function) so the kernel's listing and the
simulator's state compare equal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["normalize_ruleset"]


_PRIO = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
_BRIDGE_PRIO = {"dstnat": -300, "filter": -200, "out": 100, "srcnat": 300}
_REJECT = {"ip": "icmp", "ip6": "icmpv6"}  # other families: icmpx
_VOLATILE = ("handle", "index", "position")


def normalize_ruleset(doc: Mapping[str, Any] | Sequence[Any] | None) -> list[dict[str, Any]] | None:
    """The tables ``doc`` describes, as a list of ``{"table"|"chain"|"rule": {...}}`` objects; None if no tables.

    ``doc`` is nft JSON: either a listing (``nft -j list ruleset``) or a document
    of commands given to ``nft -j -f`` (``add``/``create``/``insert``,
    ``delete``/``destroy`` and ``flush`` of tables and chains; a bare object
    means ``add``), replayed on an empty ruleset. The result lists, per table in
    creation order, the table, its chains, other named objects (sets, maps, ...),
    then the rules chain by chain, as nft lists them; ``metainfo``, ``handle``,
    ``index`` and ``position`` are dropped.

    nft rewrites some things on the way back (measured with nft 1.0.6); both
    sides are mapped to one form:

    * a base chain without ``policy`` is listed with ``"policy": "accept"``; a
      named priority (``"filter"``, ``"dstnat"``...) becomes its number (but nft
      1.0.6 silently creates a *non-base* chain when JSON ``prio`` is a string:
      give numbers);
    * ``counter`` gains ``packets``/``bytes``: every counter becomes ``{"counter": None}``;
    * an anonymous ``{"set": [...]}`` is listed sorted, and with one element as
      the bare element; sets are sorted here and one-element sets unwrapped;
    * ``{"prefix": {"addr": A, "len": 32}}`` (128 for IPv6) is listed as ``"A"``;
    * a flag list on the right of a match (``ct state``): with ``op "=="`` nft
      lists ``{"|": [...]}`` (an exact OR of flags; *not* the same as ``in``),
      with ``op "in"`` a list in bit order; both are sorted here;
    * ``{"reject": null}`` is listed with its default ``type`` (``icmp``,
      ``icmpv6`` or ``icmpx`` by table family) and ``expr`` ``port-unreachable``.

    Not modelled: rule deletion or replacement by handle, set elements added
    separately, and nft's errors (a command nft would reject is replayed anyway).
    """
    items = doc.get("nftables", []) if isinstance(doc, Mapping) else list(doc or [])
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        ((verb, body),) = item.items()
        if verb == "metainfo":
            continue
        if verb not in ("add", "create", "insert", "delete", "destroy", "flush"):
            verb, body = "add", {verb: body}
        ((kind, obj),) = body.items()
        if kind == "ruleset":
            if verb == "flush":
                tables.clear()
            continue
        obj = {k: v for k, v in obj.items() if k not in _VOLATILE}
        key = (obj.get("family", "ip"), obj["name"] if kind == "table" else obj.get("table", ""))
        table = tables.get(key)
        if verb in ("delete", "destroy"):
            if kind == "table":
                tables.pop(key, None)
            elif kind == "chain" and table is not None:
                table["chains"].pop(obj.get("name"), None)
                table["rules"].pop(obj.get("name"), None)
            continue
        if verb == "flush":
            if table is not None:
                names = list(table["rules"]) if kind == "table" else [obj.get("name")]
                table["rules"].update({name: [] for name in names if name in table["rules"]})
            continue
        if table is None:
            tables[key] = table = {"table": {"family": key[0], "name": key[1]}, "chains": {}, "objects": {},
                                   "rules": {}}
        if kind == "table":
            table["table"].update(obj)
        elif kind == "chain":
            table["chains"].setdefault(obj["name"], {}).update(_chain(obj))
            table["rules"].setdefault(obj["name"], [])
        elif kind == "rule":
            rule = {**obj, "expr": [_expr(e, key[0]) for e in obj.get("expr", [])]}
            rules = table["rules"].setdefault(obj.get("chain", ""), [])
            rules.insert(0, rule) if verb == "insert" else rules.append(rule)
        else:
            table["objects"][(kind, obj.get("name"))] = {kind: obj}
    out: list[dict[str, Any]] = []
    for table in tables.values():
        out.append({"table": table["table"]})
        out += [{"chain": chain} for chain in table["chains"].values()]
        out += list(table["objects"].values())
        out += [{"rule": rule} for rules in table["rules"].values() for rule in rules]
    return out or None


def _chain(obj: dict[str, Any]) -> dict[str, Any]:
    if "hook" not in obj:
        return obj
    prio = obj.get("prio")
    if isinstance(prio, str):
        prio = (_BRIDGE_PRIO if obj.get("family") == "bridge" else _PRIO).get(prio, prio)
    return {**obj, "prio": prio, "policy": obj.get("policy", "accept")}


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) and not isinstance(value, bool) else \
        (1, json.dumps(value, sort_keys=True))


def _expr(value: Any, family: str) -> Any:
    """One expression (recursively) in the form nft lists it, see :func:`normalize_ruleset`."""
    if isinstance(value, list):
        return [_expr(v, family) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "counter":
            return {"counter": None}
        if key == "reject" and arg is None:
            return {"reject": {"type": _REJECT.get(family, "icmpx"), "expr": "port-unreachable"}}
        if key in ("set", "|") and isinstance(arg, list):
            elems = sorted((_expr(v, family) for v in arg), key=_sort_key)
            return elems[0] if key == "set" and len(elems) == 1 else {key: elems}
        if key == "prefix" and isinstance(arg, dict):
            addr, length = arg.get("addr"), arg.get("len")
            if isinstance(addr, str) and length == (128 if ":" in addr else 32):
                return addr
        if key == "match" and isinstance(arg, dict):
            match = {"op": "==", **{k: _expr(v, family) for k, v in arg.items()}}
            right = match.get("right")
            if isinstance(right, list):
                right = sorted(right, key=_sort_key)
                match["right"] = {"|": right} if match["op"] == "==" else right
            return {"match": match}
    return {k: _expr(v, family) for k, v in value.items()}
