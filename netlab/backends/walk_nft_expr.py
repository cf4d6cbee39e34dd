"""nft expressions for the packet walker: what a match reads and how it tests it, and rules as nft text.

A packet context is a tuple indexed by the ``C_*`` constants: input and output
interface names (``""`` when there is none), source and destination address
(ints), layer-4 protocol name, ports (0 for ICMP), ICMP type name (``""``
otherwise) and conntrack state (``new``, ``established`` or ``invalid``).
:func:`compile_match` turns one ``{"match": ...}`` into a predicate over it;
a match on a transport field also needs that protocol (nft adds the
dependency ``meta l4proto`` itself), and a match on an IPv6 field never holds
for the IPv4 packets the walker carries. Anything else raises :class:`Unsupported`.

>>> rule = [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "br-x"}},
...         {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "br-x"}}, {"drop": None}]
>>> render_rule(rule)
'iifname "br-x" oifname "br-x" drop'
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["AddrTest", "C_DADDR", "C_SADDR", "Ctx", "NO_OP", "Pred", "SIMPLE_VERDICTS", "Unsupported", "compile_match",
           "render_expr", "render_rule", "safe_render"]

C_IIF, C_OIF, C_SADDR, C_DADDR, C_PROTO, C_SPORT, C_DPORT, C_ICMP, C_CT = range(9)
Ctx = tuple[str, str, int, int, str, int, int, str, str]
Pred = Callable[[Ctx], bool]
#: a condition on an address field: (C_SADDR or C_DADDR, a test, or the set of addresses it only compares with)
AddrTest = tuple[int, Callable[[int], bool] | frozenset[int]]

_PROTO_NUMBERS = {1: "icmp", 6: "tcp", 17: "udp"}
_ICMP_TYPES = {0: "echo-reply", 3: "destination-unreachable", 8: "echo-request", 11: "time-exceeded"}
#: statements that change nothing for the walker, and verdicts that take no argument
NO_OP = ("counter", "log", "comment")
SIMPLE_VERDICTS = ("accept", "drop", "reject", "return", "continue")


class Unsupported(Exception):
    """An expression the walker does not model (the caller adds where it was)."""


_FIELDS: dict[tuple[str, str], tuple[int, str, str | None]] = {
    # (kind, name) -> (context index, value type, protocol the field needs)
    ("meta", "iifname"): (C_IIF, "ifname", None),
    ("meta", "oifname"): (C_OIF, "ifname", None),
    ("meta", "l4proto"): (C_PROTO, "proto", None),
    ("meta", "nfproto"): (-1, "nfproto", None),
    ("meta", "protocol"): (-1, "nfproto", None),
    ("ip", "saddr"): (C_SADDR, "addr", None),
    ("ip", "daddr"): (C_DADDR, "addr", None),
    ("ip", "protocol"): (C_PROTO, "proto", None),
    ("tcp", "sport"): (C_SPORT, "port", "tcp"),
    ("tcp", "dport"): (C_DPORT, "port", "tcp"),
    ("udp", "sport"): (C_SPORT, "port", "udp"),
    ("udp", "dport"): (C_DPORT, "port", "udp"),
    ("th", "sport"): (C_SPORT, "port", "th"),
    ("th", "dport"): (C_DPORT, "port", "th"),
    ("icmp", "type"): (C_ICMP, "icmp", "icmp"),
    ("ct", "state"): (C_CT, "ctstate", None),
}
#: payload protocols no IPv4 packet has (an inet table's IPv6 rules): a match on them never holds
_NOT_IPV4 = ("ip6", "icmpv6")


def _left(left: Any) -> tuple[int, str, str | None, str]:
    """(context index, value type, protocol needed, nft text) of a match's left side."""
    if isinstance(left, dict) and len(left) == 1:
        ((kind, arg),) = left.items()
        if kind == "meta" and isinstance(arg, dict):
            key = ("meta", str(arg.get("key")))
            text = key[1] if key[1] in ("iifname", "oifname") else f"meta {key[1]}"
        elif kind == "payload" and isinstance(arg, dict):
            key = (str(arg.get("protocol")), str(arg.get("field")))
            text = f"{key[0]} {key[1]}"
        elif kind == "ct" and isinstance(arg, dict) and set(arg) == {"key"}:
            key = ("ct", str(arg.get("key")))
            text = f"ct {key[1]}"
        else:
            raise Unsupported(f"the packet walker does not understand the match on {json.dumps(left)}")
        if key in _FIELDS:
            index, kind_, needs = _FIELDS[key]
            return index, kind_, needs, text
    raise Unsupported(f"the packet walker does not understand the match on {json.dumps(left)}")


def _scalar(kind: str, value: Any) -> Any:
    if kind == "addr" and isinstance(value, str):
        try:
            return int(ipaddress.IPv4Address(value))
        except ValueError:
            raise Unsupported(f"{value!r} is not an IPv4 address") from None
    if kind == "port" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "proto":
        return _PROTO_NUMBERS.get(value, value) if isinstance(value, int) else value
    if kind == "icmp":
        return _ICMP_TYPES.get(value, value) if isinstance(value, int) else value
    if kind in ("ifname", "ctstate", "nfproto") and isinstance(value, str):
        return value
    raise Unsupported(f"value {json.dumps(value)} is not a {kind} the packet walker understands")


def _element(kind: str, value: Any) -> Callable[[Any], bool]:
    """A test for one element of the right side: a value, a prefix or a range."""
    if isinstance(value, dict) and len(value) == 1:
        ((tag, arg),) = value.items()
        if tag == "prefix" and kind == "addr" and isinstance(arg, dict):
            try:
                net = ipaddress.IPv4Network(f"{arg.get('addr')}/{arg.get('len')}", strict=False)
            except ValueError:
                raise Unsupported(f"{json.dumps(value)} is not an IPv4 prefix") from None
            base, mask = int(net.network_address), int(net.netmask)
            return lambda v: v & mask == base
        if tag == "range" and isinstance(arg, list) and len(arg) == 2:
            low, high = _scalar(kind, arg[0]), _scalar(kind, arg[1])
            return lambda v: low <= v <= high
        raise Unsupported(f"the packet walker does not understand the value {json.dumps(value)}")
    if isinstance(value, str) and value.startswith("@"):
        raise Unsupported(f"named sets and maps ({value}) are not modelled by the packet walker")
    scalar = _scalar(kind, value)
    if kind == "nfproto":
        return lambda v: scalar in ("ip", "ipv4")
    if kind == "ifname" and isinstance(scalar, str) and scalar.endswith("*") and not scalar.endswith("\\*"):
        head = scalar[:-1]
        return lambda v: v.startswith(head)
    return lambda v: v == scalar


def compile_match(arg: Any) -> tuple[Pred, AddrTest | None]:
    if not isinstance(arg, dict) or not {"left", "right"} <= arg.keys():
        raise Unsupported(f"malformed match {json.dumps(arg)}")
    op = arg.get("op", "==")
    left = arg["left"]
    if isinstance(left, dict) and isinstance(left.get("payload"), dict) and left["payload"].get(
            "protocol") in _NOT_IPV4:
        return _constant(False), None
    index, kind, needs, _ = _left(left)
    right = arg["right"]
    items: list[Any] = []
    if isinstance(right, dict) and set(right) == {"|"} and isinstance(right["|"], list):   # exact OR of flags
        if op not in ("==", "!="):
            raise Unsupported(f"operator {op!r} on a flag combination")
        test = _flags_test(frozenset(_scalar(kind, v) for v in right["|"]), op == "==")
    else:
        items = right if isinstance(right, list) else right["set"] if isinstance(right, dict) and set(
            right) == {"set"} and isinstance(right["set"], list) else [right]
        test = _values_test(kind, op, items, right)
    if index < 0:
        return _constant(test(None)), None
    pred = _field_pred(index, needs, test)
    if index not in (C_SADDR, C_DADDR):
        return pred, None
    if items and op in ("==", "!=", "in") and all(isinstance(item, str) for item in items):   # "is it one of"
        return pred, (index, frozenset(_scalar(kind, item) for item in items))
    return pred, (index, test)


def _flags_test(flags: frozenset[Any], equal: bool) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        return (frozenset((value,)) == flags) == equal
    return test


def _values_test(kind: str, op: str, items: list[Any], right: Any) -> Callable[[Any], bool]:
    elements = [_element(kind, item) for item in items]
    if op in ("==", "in", "!="):
        want = op != "!="

        def member(value: Any) -> bool:
            return any(e(value) for e in elements) == want
        return member
    if op in ("<", "<=", ">", ">=") and len(items) == 1 and not isinstance(items[0], dict):
        bound = _scalar(kind, items[0])
        compare: dict[str, Callable[[Any], bool]] = {
            "<": lambda v: bool(v < bound), "<=": lambda v: bool(v <= bound), ">": lambda v: bool(v > bound),
            ">=": lambda v: bool(v >= bound)}
        return compare[op]
    raise Unsupported(f"the packet walker does not understand operator {op!r} with {json.dumps(right)}")


def _constant(value: bool) -> Pred:
    def pred(ctx: Ctx) -> bool:
        return value
    return pred


def _field_pred(index: int, needs: str | None, test: Callable[[Any], bool]) -> Pred:
    """The test on field ``index``; a transport field needs its protocol (nft's implicit dependency)."""
    if needs is None:
        def pred(ctx: Ctx) -> bool:
            return test(ctx[index])
    elif needs == "th":
        def pred(ctx: Ctx) -> bool:
            return ctx[C_PROTO] in ("tcp", "udp") and test(ctx[index])
    else:
        def pred(ctx: Ctx) -> bool:
            return ctx[C_PROTO] == needs and test(ctx[index])
    return pred


def render_rule(expr: Sequence[Any]) -> str:
    """A rule's expressions written as ``nft list ruleset`` shows them."""
    return " ".join(render_expr(e) for e in expr)


def safe_render(expr: Any) -> str:
    try:
        return render_rule(expr) if isinstance(expr, list) else json.dumps(expr)
    except Exception:   # a rule that cannot be written is shown as JSON
        return json.dumps(expr)


def _render_value(value: Any, quote: bool) -> str:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, arg),) = value.items()
        if tag == "prefix" and isinstance(arg, dict):
            return f"{arg.get('addr')}/{arg.get('len')}"
        if tag == "range" and isinstance(arg, list):
            return "-".join(_render_value(v, quote) for v in arg)
        if tag == "set" and isinstance(arg, list):
            return "{ " + ", ".join(_render_value(v, quote) for v in arg) + " }"
        if tag == "|" and isinstance(arg, list):
            return "|".join(_render_value(v, quote) for v in arg)
    if isinstance(value, list):
        return ",".join(_render_value(v, quote) for v in value)
    if isinstance(value, str):
        return f'"{value}"' if quote else value
    return json.dumps(value)


def _left_text(left: Any) -> tuple[str, str]:
    """(nft text, value type) of a match's left side, also for fields the walker does not evaluate."""
    try:
        _, kind, _, text = _left(left)
        return text, kind
    except Unsupported:
        pass
    if isinstance(left, dict) and len(left) == 1:
        ((tag, arg),) = left.items()
        if tag == "payload" and isinstance(arg, dict):
            return f"{arg.get('protocol')} {arg.get('field')}", ""
        if tag in ("meta", "ct") and isinstance(arg, dict):
            return f"{tag} {arg.get('key')}", ""
    return json.dumps(left), ""


def render_expr(item: Any) -> str:
    if not isinstance(item, dict) or len(item) != 1:
        return json.dumps(item)
    ((verb, arg),) = item.items()
    if verb == "match" and isinstance(arg, dict):
        left, kind = _left_text(arg.get("left"))
        op = arg.get("op", "==")
        shown = "" if op in ("==", "in") else f"{op} "
        return f"{left} {shown}{_render_value(arg.get('right'), kind == 'ifname')}"
    if verb in SIMPLE_VERDICTS or verb in NO_OP:
        return str(verb)
    if verb in ("jump", "goto") and isinstance(arg, dict):
        return f"{verb} {arg.get('target')}"
    if verb == "masquerade":
        port = arg.get("port") if isinstance(arg, dict) else None
        return "masquerade" + (f" to :{port}" if port is not None else "")
    if verb in ("snat", "dnat") and isinstance(arg, dict):
        target = str(arg.get("addr", "")) + (f":{arg['port']}" if arg.get("port") is not None else "")
        return f"{verb} to {target}"
    return str(json.dumps(item))
