"""HTML for notebooks: a packet trace, a deployed lab, a reachability matrix.

These are the rich reprs (``_repr_html_``) of :class:`netlab.backends.walk.Trace`,
:class:`netlab.Lab` and :class:`netlab.harness_matrix.MatrixResult`, and the panels
of :class:`netlab.widgets_lab.LabView`. Pure functions returning an HTML string:
every name, address and text is escaped, styles are inline (so the output looks
the same in JupyterLab, VS Code and nbviewer, which drop ``<style>`` elements),
and a repr never raises (a lab that is not deployed, or whose handle is closed or
belongs to another thread, says so).

Stable CSS classes: ``netlab-trace`` (the trace: ``netlab-trace-ok`` or
``netlab-trace-failed`` beside it), ``netlab-hop`` (a hop's row, in ``netlab-request``
or ``netlab-reply`` tables), ``netlab-drop`` (the row where it stopped, the object
in ``netlab-drop-obj``, the nft rule in ``netlab-drop-rule``), ``netlab-verdict``;
``netlab-lab`` (a lab; one ``netlab-state-<state>`` cell per object); ``netlab-matrix``
(one ``netlab-reach-yes`` / ``netlab-reach-no`` cell per pair, ``netlab-mismatch`` added
where the model disagrees).

>>> from netlab.backends.walk import Drop, Hop, Probe, Trace
>>> t = Trace("nl-d-s-a", "10.0.0.9", Probe(), False, None, None, None,
...           (Hop("nl-d-s-a", "eth0", "route <10.0.0.0/24>"),), Drop("nl-d-s-a", "eth0", "no ARP reply"), None)
>>> "route &lt;10.0.0.0/24&gt;" in trace_html(t) and "netlab-drop" in trace_html(t)
True
"""

from __future__ import annotations

import html
import sqlite3
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from netlab.drawing_reach import MATRIX_COLORS
from netlab.errors import NetlabError

if TYPE_CHECKING:
    from netlab.backends.walk_types import Drop, Hop, Trace
    from netlab.harness_matrix import MatrixResult
    from netlab.labapi import Lab

__all__ = ["lab_html", "lab_status_html", "matrix_html", "trace_html", "trace_verdict"]

_TABLE = "border-collapse:collapse;font-size:12px;margin:2px 0 6px 0"
_CELL = "border:1px solid #d0d4da;padding:2px 6px;text-align:left;vertical-align:top"
_HEAD = _CELL + ";background:#f1f3f6;font-weight:600"
_DROP = "background:#fdecea;color:#8e1b10"
_RULE = "background:#ffffff;border:1px solid #e3b4ae;padding:0 3px;color:#8e1b10;font-weight:600"
_OK = "color:#1b6e20;font-weight:600;font-size:13px"
_BAD = "color:#b00020;font-weight:600;font-size:13px"
_STATE_COLORS = {"up": "#1b6e20", "pending": "#a35c00", "missing": "#b00020", "absent": "#b00020"}


def _e(value: object) -> str:
    """Escaped text of ``value`` (None is empty)."""
    return "" if value is None else html.escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[str], css: str, caption: str = "") -> str:
    head = "".join(f'<th style="{_HEAD}">{_e(h)}</th>' for h in headers)
    title = f'<caption style="text-align:left;font-weight:600">{_e(caption)}</caption>' if caption else ""
    return f'<table class="{css}" style="{_TABLE}">{title}<tr>{head}</tr>{"".join(rows)}</table>'


def _row(cells: Sequence[str], css: str = "", style: str = "", nowrap: int = 0) -> str:
    """A table row of cells that are HTML already; the first ``nowrap`` cells do not wrap."""
    body = "".join(f'<td style="{_CELL}{";white-space:nowrap" if i < nowrap else ""}">{cell}</td>'
                   for i, cell in enumerate(cells))
    return f'<tr class="{css}" style="{style}">{body}</tr>'


# -- trace ---------------------------------------------------------------------------------------
def _drop_row(drop: Drop) -> str:
    rule = f'<br>rule: <code class="netlab-drop-rule" style="{_RULE}">{_e(drop.rule)}</code>' if drop.rule else ""
    return _row([_e(drop.ns), f'<b class="netlab-drop-obj">{_e(drop.obj)}</b>',
                 f"<b>dropped:</b> {_e(drop.reason)}{rule}"], "netlab-drop", _DROP, nowrap=2)


def _hops_table(hops: Sequence[Hop], drop: Drop | None, css: str, caption: str) -> str:
    rows = [_row([_e(h.ns), _e(h.device), _e(h.action)], "netlab-hop", nowrap=2) for h in hops]
    if drop is not None:
        rows.append(_drop_row(drop))
    return _table(["namespace", "device", "action"], rows, css, caption)


def trace_verdict(trace: Trace) -> str:
    """One line: delivered and answered, or where and why the request or its answer stopped."""
    if not trace.delivered:
        return f"DROPPED in {trace.drop.ns} at {trace.drop.obj}: {trace.drop.reason}" if trace.drop \
            else "not delivered"
    port = f":{trace.final_port}" if trace.final_port is not None else ""
    there = f"delivered to {trace.final_ip}{port} in {trace.final_ns}"
    if trace.reply is None:
        return f"{there}; no answer came back"
    if trace.reply.drop is not None:
        drop = trace.reply.drop
        return f"{there}; the answer was DROPPED in {drop.ns} at {drop.obj}: {drop.reason}"
    return f"{there}; the answer came back" if trace.ok else f"{there}; the answer did not come back"


def trace_html(trace: Trace) -> str:
    """The request's hops, the reply's hops, the drop highlighted (object and nft rule), then the verdict."""
    verdict_css = "netlab-trace-ok" if trace.ok else "netlab-trace-failed"
    head = (f"<div><b>{_e(trace.src)}</b> &rarr; <b>{_e(trace.dst)}</b> "
            f"<span style=\"color:#555\">{_e(trace.probe.describe())}</span></div>")
    parts = [head, _hops_table(trace.hops, trace.drop, "netlab-request", "request")]
    if trace.reply is not None:
        parts.append(_hops_table(trace.reply.hops, trace.reply.drop, "netlab-reply", "reply"))
    sign = "&#10003;" if trace.ok else "&#10006;"
    parts.append(f'<div class="netlab-verdict" style="{_OK if trace.ok else _BAD}">{sign} '
                 f"{_e(trace_verdict(trace))}</div>")
    return f'<div class="netlab-trace {verdict_css}">{"".join(parts)}</div>'


# -- lab -----------------------------------------------------------------------------------------
def _state(state: object) -> str:
    text = str(state)
    color = _STATE_COLORS.get(text, "#555")
    return f'<span class="netlab-state-{_e(text)}" style="color:{color};font-weight:600">{_e(text)}</span>'


def lab_status_html(status: Mapping[str, Any]) -> str:
    """:meth:`netlab.controller.Controller.status` as tables: hosts, networks, containers (with addresses)."""
    addresses: dict[str, list[str]] = {}
    for ep in status.get("endpoints", []):
        addresses.setdefault(str(ep["sandbox"]), []).append(
            f"{_e(ep.get('ip') or '(none)')} <span style=\"color:#666\">{_e(ep['network'])}"
            f"{' ' + _e(ep.get('interface')) if ep.get('interface') else ''}</span>")
    hosts = [_row([_e(h["name"]), _e(h.get("namespace")), _e(h.get("address")), _state(h["state"])])
             for h in status.get("hosts", [])]
    networks = [_row([_e(n["name"]), _e(n["driver"]) + (" (internal)" if n.get("internal") else ""),
                      _e(n.get("subnet")), _e(n.get("gateway")), _e(", ".join(n.get("hosts", []))),
                      _state(n["state"])]) for n in status.get("networks", [])]
    containers = [_row([_e(s["name"]), _e(s.get("host")), _e(s.get("namespace")),
                        "<br>".join(addresses.get(str(s["name"]), [])), _e(", ".join(s.get("ports", []))),
                        _state(s["state"])]) for s in status.get("sandboxes", [])]
    return "".join([
        _table(["host", "namespace", "underlay", "state"], hosts, "netlab-hosts", "hosts"),
        _table(["network", "driver", "subnet", "gateway", "hosts", "state"], networks, "netlab-networks", "networks"),
        _table(["container", "host", "namespace", "addresses", "ports", "state"], containers, "netlab-containers",
               "containers"),
    ])


def lab_html(lab: Lab) -> str:
    """A lab's name, backend and source, then its status tables; says so when it is not deployed or closed."""
    title = f"<div><b>lab {_e(lab.name)}</b>"
    try:
        status = lab.controller.status()
    except NetlabError as exc:
        return f'<div class="netlab-lab">{title}: {_e(exc)}</div></div>'
    except sqlite3.Error as exc:  # a closed handle
        return f'<div class="netlab-lab">{title}: its state cannot be read here ({_e(exc)})</div></div>'
    source = f' <span style="color:#666">from {_e(status["source"])}</span>' if status.get("source") else ""
    return (f'<div class="netlab-lab">{title} on the {_e(status["backend"])} backend{source}</div>'
            f"{lab_status_html(status)}</div>")


# -- reachability --------------------------------------------------------------------------------
def _cell(got: bool, want: bool) -> str:
    color = MATRIX_COLORS[(got, got == want)]
    css = ("netlab-reach-yes" if got else "netlab-reach-no") + ("" if got == want else " netlab-mismatch")
    mark = ("&#10003;" if got else "&middot;") + ("" if got == want else "!")
    note = "reachable" if got else "no answer"
    if got != want:
        note += f", the model says {'yes' if want else 'no'}"
    fg = "#ffffff" if got or got != want else "#555555"
    return (f'<td class="{css}" title="{note}" style="{_CELL};text-align:center;background:{color};'
            f'color:{fg}">{mark}</td>')


def matrix_html(result: MatrixResult) -> str:
    """Container x container: who answers whom (on any of its addresses); mismatches with the model marked ``!``.

    A result that was not measured (``observed`` empty) shows the model's expectation.
    """
    if result.observed:
        labels, observed, expected = result.by_sandbox()
        measured = True
    else:
        from netlab.harness_matrix import MatrixResult

        guess = [[True if want is None else want for want in row] for row in result.expected]  # None: itself
        labels, observed, expected = MatrixResult(result.sources, result.columns, result.expected,
                                                  guess).by_sandbox()
        measured = False
    n = len(labels)
    pairs = n * (n - 1)
    wrong = sum(observed[i][j] != expected[i][j] for i in range(n) for j in range(n) if i != j)
    reached = sum(observed[i][j] for i in range(n) for j in range(n) if i != j)
    summary = (f"{reached} of {pairs} pairs reachable, {wrong} differ from the model" if measured
               else f"the model's expectation (not measured): {reached} of {pairs} pairs reachable")
    head = "".join(f'<th style="{_HEAD}">{_e(label)}</th>' for label in labels)
    rows = "".join(f'<tr><th style="{_HEAD}">{_e(label)}</th>'
                   + "".join(_cell(observed[i][j], expected[i][j]) for j in range(n)) + "</tr>"
                   for i, label in enumerate(labels))
    return (f'<table class="netlab-matrix" style="{_TABLE}"><caption style="text-align:left">'
            f'<b>reachability</b> (row &rarr; column): {_e(summary)}</caption>'
            f'<tr><th style="{_HEAD}">from \\ to</th>{head}</tr>{rows}</table>')
