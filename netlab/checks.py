"""The check kinds of a scenario's ``expect:`` section: what each probes and what it expects.

=============  ===========================================================================
kind           meaning (``netlab.loading.CHECK_KINDS`` has each kind's parameters)
=============  ===========================================================================
reach          a ping from ``from`` to ``to`` (a container, an alias or an IPv4 address;
               ``network`` picks the address on that network) is answered by ``to``
isolated       the same ping gets no answer from ``to``
tcp / udp      with the harness's small server on ``port`` in ``to``, a connection
               (TCP) or a datagram exchange (UDP) from ``from`` reaches it
               (``expect: fail`` inverts)
names          each name resolves, inside ``from``, to that container's address on the
               first network they share (the harness writes the hosts files)
mtu            the largest IPv4 packet from ``from`` to ``to`` that passes with DF
external       ``from`` pings the lab's internet namespace (``expect: fail`` inverts)
published      ``port`` of ``host`` answers (the harness's server runs in the container
               that publishes it) from ``from``: ``internet`` (default), a host's
               namespace, or a container; ``protocol`` tcp (default) or udp
reachability   ``full``: every sandbox x address pair, observed = what the model implies
               (:mod:`netlab.harness_matrix`)
=============  ===========================================================================

:func:`evaluate` runs one check with a :class:`~netlab.probes.Prober` and returns an
:class:`Outcome`; it raises :class:`~netlab.errors.NetlabError` for a check that cannot be
run (an unknown container, an address nobody owns as a tcp target...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netlab.errors import InvalidRequestError, NotFoundError
from netlab.harness_matrix import MatrixResult, expected_matrix
from netlab.harness_model import DeployedLab
from netlab.model import Check
from netlab.probes import Listener, Prober

__all__ = ["Outcome", "describe", "evaluate", "expected_matrix"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a check expected, what was observed, and why (``detail``)."""

    expected: str
    observed: str
    passed: bool
    detail: str = ""
    matrix: MatrixResult | None = None


def describe(check: Check) -> str:
    """A short human label: ``reach app -> web``, ``published h1:8080/tcp from internet``...

    >>> describe(Check("tcp", {"from": "app", "to": "web", "port": 80}, "expect[0].tcp"))
    'tcp app -> web:80'
    """
    p = check.params
    on = f" on {p['network']}" if p.get("network") else ""
    labels: dict[str, Callable[[], str]] = {
        "reach": lambda: f"reach {p['from']} -> {p['to']}{on}",
        "isolated": lambda: f"isolated {p['from']} -> {p['to']}{on}",
        "tcp": lambda: f"tcp {p['from']} -> {p['to']}:{p['port']}",
        "udp": lambda: f"udp {p['from']} -> {p['to']}:{p['port']}",
        "names": lambda: f"names in {p['from']}: {', '.join(map(str, p['names']))}",
        "mtu": lambda: f"mtu {p['from']} -> {p['to']}",
        "external": lambda: f"external {p['from']}",
        "published": lambda: (f"published {p['host']}:{p['port']}/{p.get('protocol', 'tcp')} "
                              f"from {p.get('from', 'internet')}"),
        "reachability": lambda: "reachability full",
    }
    return labels[check.kind]() if check.kind in labels else check.kind


def _verdict(params: Any) -> bool:
    return bool(params.get("expect", "pass") != "fail")


def _ping(view: DeployedLab, prober: Prober, check: Check) -> Outcome:
    p = check.params
    src = view.sandbox(p["from"])
    target = view.target(src, str(p["to"]), p.get("network"))
    return _ping_outcome(prober, view.sandbox_ns(src), target.ip, target.ns, f"{src} -> {target.label}",
                         want=check.kind == "reach")


def _ping_outcome(prober: Prober, src_ns: str, ip: str, responder: str | None, detail: str, want: bool) -> Outcome:
    """A ping from ``src_ns`` to ``ip`` answered by ``responder``, against ``want``; a surprise is explained."""
    got = prober.ping(src_ns, ip, responder)
    if got != want:
        detail = _with_reason(detail, prober.explain(src_ns, ip))
    words = {True: "reachable", False: "no answer"}
    return Outcome(words[want], words[got], got == want, detail)


def _with_reason(detail: str, reason: str) -> str:
    return f"{detail}\n{reason}" if reason else detail


def _connect(view: DeployedLab, prober: Prober, check: Check) -> Outcome:
    p = check.params
    src = view.sandbox(p["from"])
    target = view.target(src, str(p["to"]))
    if target.ns is None:
        raise InvalidRequestError(f"{check.kind} check at {check.path}: no container has {target.ip}, so the "
                                  "harness cannot start a server there")
    port, proto, want = int(p["port"]), check.kind, _verdict(p)
    got = prober.connect(view.sandbox_ns(src), target.ip, port, proto, Listener(target.ns, port, proto))
    detail = f"{src} -> {target.label}:{port}/{proto}"
    if got != want:
        detail = _with_reason(detail, prober.explain(view.sandbox_ns(src), target.ip, proto, port))
    words = {True: "connects", False: "does not connect"}
    return Outcome(words[want], words[got], got == want, detail)


def _names(view: DeployedLab, prober: Prober, check: Check) -> Outcome:
    src = view.sandbox(check.params["from"])
    wanted = {str(name): view.expected_address(src, str(name)) for name in check.params["names"]}
    got = {name: prober.resolve(view.sandbox_ns(src), name) for name in wanted}
    unknown = [name for name, address in wanted.items() if address is None]
    detail = (f"not a container or alias on a network {src} is on: {', '.join(unknown)}" if unknown else "")
    expected = ", ".join(f"{n}={a or '?'}" for n, a in wanted.items())
    observed = ", ".join(f"{n}={a or 'unresolved'}" for n, a in got.items())
    return Outcome(expected, observed, not unknown and got == wanted, detail)


def _mtu(view: DeployedLab, prober: Prober, check: Check) -> Outcome:
    p = check.params
    src = view.sandbox(p["from"])
    target = view.target(src, str(p["to"]))
    got = prober.largest_df(view.sandbox_ns(src), target.ip, target.ns)
    return Outcome(str(p["expect"]), "unreachable" if got is None else str(got), got == p["expect"],
                   f"{src} -> {target.label}, DF set")


def _external(view: DeployedLab, prober: Prober, check: Check) -> Outcome:
    src = view.sandbox(check.params["from"])
    if view.internet_ip is None:
        raise InvalidRequestError(f"external check at {check.path}: lab {view.lab!r} has no internet namespace "
                                  "(underlay.internet is false)")
    return _ping_outcome(prober, view.sandbox_ns(src), view.internet_ip, view.internet_ns,
                         f"{src} -> internet {view.internet_ip}", want=_verdict(check.params))


def _publisher(view: DeployedLab, host: str, port: int, proto: str) -> Listener | None:
    """The harness's server for a published port: in the container publishing ``port/proto`` on ``host``."""
    for sbx in view.topo.sandboxes_on(host):
        for mapping in sbx.ports:
            if mapping.host_port == port and mapping.protocol == proto:
                return Listener(view.sandbox_ns(sbx.name), mapping.container_port, proto)
    return None


def _published(view: DeployedLab, prober: Prober, check: Check) -> Outcome:
    p = check.params
    host, port, proto = str(p["host"]), int(p["port"]), str(p.get("protocol", "tcp"))
    origin = str(p.get("from", "internet"))
    if origin == "internet":
        if view.internet_ip is None:
            raise InvalidRequestError(f"published check at {check.path}: lab {view.lab!r} has no internet namespace")
        src_ns = view.internet_ns
    elif view.topo.has("host", origin):
        src_ns = view.host_ns(origin)
    else:
        src_ns = view.sandbox_ns(view.sandbox(origin))
    listener = _publisher(view, host, port, proto)
    address = view.host_ip(host)
    want = _verdict(p)
    got = prober.connect(src_ns, address, port, proto, listener)
    server = "no container publishes it" if listener is None else f"server in {listener.ns} port {listener.port}"
    detail = f"{origin} -> {host} {address}:{port}/{proto} ({server})"
    if got != want:
        detail = _with_reason(detail, prober.explain(src_ns, address, proto, port))
    words = {True: "answers", False: "no answer"}
    return Outcome(words[want], words[got], got == want, detail)


def _reachability(view: DeployedLab, prober: Prober, check: Check) -> Outcome:
    result = expected_matrix(view)
    namespaces = [view.sandbox_ns(name) for name in result.sources]
    result.observed = prober.matrix(namespaces, [(view.sandbox_ns(c.sandbox), c.ip) for c in result.columns])
    wrong = result.disagreements()
    lines = [f"{src} -> {col.sandbox} {col.ip} ({col.network}): expected "
             f"{'reachable' if want else 'no answer'}, observed {'reachable' if got else 'no answer'}"
             for src, col, want, got in wrong]
    observed = "as expected" if not wrong else f"{len(wrong)} pair(s) differ"
    return Outcome(f"{result.pairs} pairs as the model implies", observed, not wrong, "\n".join(lines), result)


_KINDS: dict[str, Callable[[DeployedLab, Prober, Check], Outcome]] = {
    "reach": _ping, "isolated": _ping, "tcp": _connect, "udp": _connect, "names": _names, "mtu": _mtu,
    "external": _external, "published": _published, "reachability": _reachability,
}


def evaluate(view: DeployedLab, prober: Prober, check: Check) -> Outcome:
    """Run one check against a deployed lab; raises NetlabError when it cannot be run."""
    run = _KINDS.get(check.kind)
    if run is None:
        raise NotFoundError(f"unknown check kind {check.kind!r} at {check.path}")
    return run(view, prober, check)
