"""nft: building netlab's nftables rulesets as nft JSON documents.

Drivers describe the rules a host needs; this module turns them into one
document per namespace that :class:`~netlab.backends.ApplyRuleset` applies
atomically. The document first adds, deletes and re-adds the ``ip netlab``
table, so applying it again replaces the old rules in one transaction.

The rules follow Docker's bridge driver (libnetwork ``setup_ip_tables.go``),
written for nftables:

* ``forward`` (filter, policy drop): established/related accepted; published
  ports accepted towards their container; per network, traffic inside the
  bridge accepted (ICC on) or dropped (ICC off); traffic from a non-internal
  bridge to the uplink accepted. Everything else, e.g. between two bridge
  networks, falls to the drop policy: that is Docker's isolation.
* ``prerouting`` (nat): DNAT for each published port on the host's address.
* ``postrouting`` (nat): masquerade of a non-internal network's subnet when it
  leaves through anything but its own bridge.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TABLE", "Rule", "accept", "ct_established", "dnat", "drop", "empty_ruleset", "masquerade", "match", "ruleset",
]

TABLE = "netlab"
FAMILY = "ip"

Rule = list[dict[str, Any]]

_CHAINS = (
    {"name": "forward", "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"},
    {"name": "prerouting", "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"},
    {"name": "postrouting", "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"},
)


def _left(field: str) -> dict[str, Any]:
    if field in ("iifname", "oifname"):
        return {"meta": {"key": field}}
    protocol, name = field.split(".")
    return {"payload": {"protocol": protocol, "field": name}}


def match(field: str, value: Any, op: str = "==") -> dict[str, Any]:
    """A match on ``iifname``/``oifname`` or ``proto.field`` (``ip.saddr``, ``tcp.dport``).

    A value with a ``/`` becomes a prefix: ``match("ip.saddr", "10.0.0.0/24")``.
    """
    right: Any = value
    if isinstance(value, str) and "/" in value:
        addr, length = value.split("/")
        right = {"prefix": {"addr": addr, "len": int(length)}}
    return {"match": {"op": op, "left": _left(field), "right": right}}


def ct_established() -> dict[str, Any]:
    return {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}


def accept() -> dict[str, Any]:
    return {"accept": None}


def drop() -> dict[str, Any]:
    return {"drop": None}


def masquerade() -> dict[str, Any]:
    return {"masquerade": None}


def dnat(addr: str, port: int) -> dict[str, Any]:
    return {"dnat": {"addr": addr, "port": port}}


def ruleset(rules: dict[str, list[Rule]]) -> dict[str, Any]:
    """The whole document: ``rules`` maps chain name (forward, prerouting, postrouting) to rules."""
    table = {"family": FAMILY, "name": TABLE}
    commands: list[dict[str, Any]] = [{"add": {"table": table}}, {"delete": {"table": table}},
                                      {"add": {"table": table}}]
    for chain in _CHAINS:
        commands.append({"add": {"chain": {"family": FAMILY, "table": TABLE, **chain}}})
    for chain in _CHAINS:
        for expr in rules.get(str(chain["name"]), []):
            commands.append({"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": chain["name"],
                                              "expr": expr}}})
    return {"nftables": commands}


def empty_ruleset() -> dict[str, Any]:
    """A document that removes netlab's table (used when a host has no rules left)."""
    table = {"family": FAMILY, "name": TABLE}
    return {"nftables": [{"add": {"table": table}}, {"delete": {"table": table}}]}
