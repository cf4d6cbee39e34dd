"""nftables for the packet walker: compile a snapshot's ruleset, evaluate it on a packet, write rules as nft text.

The input is the normalised list of ``{"table"|"chain"|"rule": ...}`` objects a
:class:`~netlab.backends.NamespaceState` holds (see :mod:`netlab.backends.nftjson`).
Tables of family ``ip`` and ``inet`` see IPv4; ``ip6`` tables are ignored;
``bridge``, ``arp`` and ``netdev`` base chains are refused (the walker does not
model those hooks). Each rule becomes a tuple of predicates over a packet
context and a tuple of statements; an expression the walker does not know
raises :class:`~netlab.errors.NotSupportedError` naming the namespace, the
chain and the expression, rather than being skipped.

Understood: ``match`` on ``meta iifname|oifname|l4proto|nfproto|protocol``,
``ip saddr|daddr|protocol``, ``tcp|udp|th sport|dport``, ``icmp type``,
``ct state``, with ``==``, ``!=``, ``in``, ``<``, ``<=``, ``>``, ``>=`` against
values, prefixes, ranges, anonymous sets and flag lists; statements
``counter``, ``log``, ``accept``, ``drop``, ``reject`` (a drop for the walker),
``return``, ``continue``, ``jump``, ``goto``, ``masquerade``, ``snat``, ``dnat``.

Packets are evaluated as contexts (:data:`netlab.backends.walk_nft_expr.Ctx`);
the match language is in :mod:`netlab.backends.walk_nft_expr`.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netlab.backends.walk_nft_expr import (
    NO_OP,
    SIMPLE_VERDICTS,
    AddrTest,
    Ctx,
    Pred,
    Unsupported,
    compile_match,
    render_expr,
    render_rule,
    safe_render,
)
from netlab.errors import NotSupportedError

__all__ = ["ACCEPT", "HOOKS", "Ruleset", "Verdict", "render_rule"]

HOOKS = ("prerouting", "input", "forward", "output", "postrouting")
_IGNORED_FAMILIES = ("ip6",)
_REFUSED_FAMILIES = ("bridge", "arp", "netdev")
_MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class _BaseChain:
    key: tuple[str, str, str]      # (family, table, name)
    hook: str
    type: str
    prio: int
    policy: str


@dataclass(frozen=True, slots=True)
class _Rule:
    text: str
    conds: tuple[Pred, ...]
    stmts: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one hook did to a packet.

    ``accepted`` False means dropped, by ``rule`` (nft text, or ``"policy drop"``) in ``chain``.
    ``nat`` is ``("masquerade", None, port)``, ``("snat", addr, port)`` or ``("dnat", addr, port)``
    (addr an int, port None when unchanged). ``trail`` has one line per base chain that decided
    something, e.g. ``"nft forward: accept by 'ct state established,related accept'"``.
    """

    accepted: bool
    chain: str | None = None
    rule: str | None = None
    nat: tuple[str, int | None, int | None] | None = None
    trail: tuple[str, ...] = ()


ACCEPT = Verdict(True)


class Ruleset:
    """The ``ip``/``inet`` tables of one namespace, compiled."""

    def __init__(self, ns: str, hooks: dict[str, tuple[_BaseChain, ...]],
                 chains: dict[tuple[str, str, str], tuple[_Rule, ...]],
                 addr_tests: dict[str, AddrTest]) -> None:
        self.ns = ns
        self.hooks = hooks
        self.chains = chains
        #: every condition on ``ip saddr`` or ``ip daddr``, by its nft text: (C_SADDR or C_DADDR, the test, or
        #: the addresses it compares with when it only asks "is it one of these"); what the rules can tell
        #: about a source (destination) is which of the saddr (daddr) tests it passes
        self.addr_tests = addr_tests

    @classmethod
    def compile(cls, ns: str, listing: Sequence[dict[str, Any]]) -> Ruleset:
        chains_meta: list[_BaseChain] = []
        rules: dict[tuple[str, str, str], list[_Rule]] = {}
        addr_tests: dict[str, AddrTest] = {}
        for item in listing:
            ((kind, obj),) = item.items()
            family = obj.get("family", "ip")
            if kind not in ("table", "chain", "rule") or family in _IGNORED_FAMILIES:
                continue
            if kind == "chain":
                key = (family, obj.get("table", ""), obj.get("name", ""))
                rules.setdefault(key, [])
                if "hook" in obj:
                    if family in _REFUSED_FAMILIES or obj["hook"] not in HOOKS:
                        raise NotSupportedError(
                            f"nft in netns {ns!r}: base chain {family} {key[1]} {key[2]} on hook {obj['hook']!r} "
                            "is not modelled by the packet walker (only ip/inet prerouting, input, forward, "
                            "output and postrouting)")
                    prio = obj.get("prio", 0)
                    chains_meta.append(_BaseChain(key, str(obj["hook"]), str(obj.get("type", "filter")),
                                                  prio if isinstance(prio, int) else 0, obj.get("policy", "accept")))
            elif kind == "rule" and family not in _REFUSED_FAMILIES:
                key = (family, obj.get("table", ""), obj.get("chain", ""))
                expr = obj.get("expr", [])
                try:
                    rule, tests = _compile_rule(expr)
                except Unsupported as exc:
                    raise NotSupportedError(
                        f"nft in netns {ns!r}, chain {family} {key[1]} {key[2]}, rule {safe_render(expr)!r}: "
                        f"{exc}") from None
                rules.setdefault(key, []).append(rule)
                addr_tests.update(tests)
        hooks: dict[str, tuple[_BaseChain, ...]] = {}
        for chain in sorted(chains_meta, key=lambda c: c.prio):   # stable: equal priorities keep listing order
            hooks[chain.hook] = hooks.get(chain.hook, ()) + (chain,)
        return cls(ns, hooks, {k: tuple(v) for k, v in rules.items()}, addr_tests)

    def run(self, hook: str, ctx: Ctx, new: bool) -> Verdict:
        """Run every base chain on ``hook`` in priority order; NAT chains only for a new connection."""
        trail: list[str] = []
        nat: tuple[str, int | None, int | None] | None = None
        for chain in self.hooks.get(hook, ()):
            if chain.type == "nat" and (not new or nat is not None):
                continue
            outcome, rule, mapping = self._chain(chain.key, ctx, 0)
            name = chain.key[2]
            if outcome in ("drop", "reject") or (outcome is None and chain.policy == "drop"):
                text = rule if outcome is not None else "policy drop"
                return Verdict(False, name, text, None, tuple(trail))
            if mapping is not None:
                nat = mapping
                trail.append(f"nft {name}: {_nat_text(mapping)} by '{rule}'")
            elif outcome == "accept":
                trail.append(f"nft {name}: accept by '{rule}'")
            elif chain.type != "nat":
                trail.append(f"nft {name}: policy {chain.policy}")
        return Verdict(True, None, None, nat, tuple(trail))

    def _chain(self, key: tuple[str, str, str], ctx: Ctx, depth: int
               ) -> tuple[str | None, str | None, tuple[str, int | None, int | None] | None]:
        """(terminal verdict or None when the chain ran out, rule text, nat mapping)."""
        if depth > _MAX_DEPTH:
            raise NotSupportedError(f"nft in netns {self.ns!r}: jumps nested deeper than {_MAX_DEPTH} at {key[2]}")
        for rule in self.chains.get(key, ()):
            if not all(cond(ctx) for cond in rule.conds):
                continue
            for stmt in rule.stmts:
                verb = stmt[0]
                if verb in ("accept", "drop", "reject"):
                    return verb, rule.text, None
                if verb in ("masquerade", "snat", "dnat"):
                    return "accept", rule.text, (verb, stmt[1], stmt[2])
                if verb == "return":
                    return None, None, None
                if verb == "continue":
                    break
                target = (key[0], key[1], stmt[1])
                if target not in self.chains:
                    raise NotSupportedError(f"nft in netns {self.ns!r}: rule {rule.text!r} jumps to missing chain "
                                            f"{stmt[1]!r}")
                outcome, text, mapping = self._chain(target, ctx, depth + 1)
                if outcome is not None or verb == "goto":
                    return outcome, text, mapping
        return None, None, None


def _nat_text(mapping: tuple[str, int | None, int | None]) -> str:
    verb, addr, port = mapping
    if verb == "masquerade":
        return "masquerade" + (f" to :{port}" if port is not None else "")
    target = (str(ipaddress.IPv4Address(addr)) if addr is not None else "") + (f":{port}" if port is not None else "")
    return f"{verb} to {target}"


def _compile_rule(expr: Any) -> tuple[_Rule, dict[str, AddrTest]]:
    if not isinstance(expr, list):
        raise Unsupported("a rule's expr must be a list")
    conds: list[Pred] = []
    stmts: list[tuple[Any, ...]] = []
    tests: dict[str, AddrTest] = {}
    for item in expr:
        if not isinstance(item, dict) or len(item) != 1:
            raise Unsupported(f"malformed expression {json.dumps(item)}")
        ((verb, arg),) = item.items()
        if verb == "match":
            if stmts:
                raise Unsupported("a match after a statement is not modelled")
            pred, addr_test = compile_match(arg)
            conds.append(pred)
            if addr_test is not None:
                tests[render_expr(item)] = addr_test
        elif verb in NO_OP:
            continue
        elif verb in SIMPLE_VERDICTS:
            stmts.append((verb,))
        elif verb in ("jump", "goto") and isinstance(arg, dict) and isinstance(arg.get("target"), str):
            stmts.append((verb, arg["target"]))
        elif verb == "masquerade" and (arg is None or isinstance(arg, dict) and set(arg) <= {"port", "flags"}):
            port = arg.get("port") if isinstance(arg, dict) else None
            stmts.append(("masquerade", None, _port(port)))
        elif verb in ("snat", "dnat") and isinstance(arg, dict) and set(arg) <= {"addr", "port", "family", "flags"}:
            addr = arg.get("addr")
            if addr is not None and not isinstance(addr, str):
                raise Unsupported(f"{verb} to {json.dumps(addr)} (maps, ranges) is not modelled")
            stmts.append((verb, int(ipaddress.IPv4Address(addr)) if addr else None, _port(arg.get("port"))))
        else:
            raise Unsupported(f"the packet walker does not understand the expression {json.dumps(item)}")
    return _Rule(render_rule(expr), tuple(conds), tuple(stmts)), tests


def _port(value: Any) -> int | None:
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    raise Unsupported(f"port {json.dumps(value)} (ranges, maps) is not modelled")


