"""Drawing: a picture of a topology that teaches the CNM at a glance.

Hosts are regions side by side holding their sandboxes (a grid of boxes) and, as
bars underneath, their local networks; global networks (overlay) are bars below,
spanning every host they touch. An endpoint is a wire from a sandbox to a bar,
its interface and address written where it leaves the box. Networks are coloured
by driver (internal ones dashed); things on no host go to an ``unplaced`` region.
:func:`layout` is the pure geometry; rendering uses a matplotlib ``Figure`` on an
Agg canvas (no pyplot, no global state).
"""

from __future__ import annotations

import importlib
import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netlab.errors import InvalidRequestError, NotSupportedError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from netlab.model import Topology

__all__ = ["DRIVER_COLORS", "FORMATS", "MAX_ADDRESS_LABELS", "Layout", "Rect", "Wire", "draw_topology",
           "endpoint_addresses", "layout", "new_figure", "topology_png", "topology_svg"]

#: network colour by driver; any other driver (a plugin) is drawn as ``other``
DRIVER_COLORS: dict[str, str] = {
    "bridge": "#2f6db5", "overlay": "#e07b1a", "macvlan": "#2e9a4a", "ipvlan": "#2e9a4a",
    "null": "#8a8a8a", "host": "#c23b3b", "other": "#8060b0",
}
#: file formats :func:`draw_topology` saves, chosen by the path's extension
FORMATS = ("png", "svg")
#: at most this many endpoint addresses are written (wires and names always are)
MAX_ADDRESS_LABELS = 400

_MISSING = "drawing needs matplotlib: pip install 'netlab-cnm[draw]'"
_MARGIN, _TITLE_H, _HEAD, _PAD, _REGION_GAP = 0.3, 0.8, 0.36, 0.18, 0.35
_BOX_W, _LINE, _ROW_GAP, _LANE, _MIN_GAP = 1.05, 0.15, 0.22, 0.075, 0.26
_BAR_H, _BAR_GAP, _MIN_REGION_W, _MIN_W, _ASPECT = 0.2, 0.13, 2.3, 6.0, 2.0
_LEGEND_ENTRIES, _LEGEND_ENTRY_W, _LEGEND_ROW_H = 10, 1.45, 0.2
_HOST_FC, _HOST_EC, _INK, _GREY = "#f3f5f9", "#7d8799", "#222222", "#5a5a5a"


@dataclass(frozen=True, slots=True)
class Rect:
    """An axis-aligned rectangle in inches; ``y`` grows downwards."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def contains(self, other: Rect) -> bool:
        """Whether ``other`` lies inside this rectangle (edges included)."""
        eps = 1e-9
        return (self.x0 - eps <= other.x0 and other.x1 <= self.x1 + eps
                and self.y0 - eps <= other.y0 and other.y1 <= self.y1 + eps)

    def overlaps(self, other: Rect) -> bool:
        """Whether the interiors of the two rectangles intersect."""
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1


@dataclass(frozen=True, slots=True)
class Wire:
    """An endpoint: a polyline from the sandbox box, via its lane, to the network bar."""

    sandbox: str
    network: str
    interface: str
    points: tuple[tuple[float, float], ...]
    label: str | None


@dataclass(frozen=True, slots=True)
class Layout:
    """Where everything goes, in inches (``y`` down); made by :func:`layout`.

    ``regions`` maps host names to their regions and ``None`` to the unplaced
    region; ``spanning`` lists the networks drawn below the hosts.
    """

    width: float
    height: float
    regions: dict[str | None, Rect]
    sandboxes: dict[str, Rect]
    bars: dict[str, Rect]
    spanning: tuple[str, ...]
    wires: tuple[Wire, ...]
    labels_omitted: int
    legend_top: float
    legend_cols: int


def _addr(value: Any) -> str:
    """An address without prefix length: ``10.0.1.5/24`` (or an interface) -> ``10.0.1.5``."""
    inner = getattr(value, "ip", None)
    return str(inner if inner is not None else value).split("/")[0]


def _plan(topo: Topology, addressing: Any) -> Any:
    """The ``Addressing`` given (or first of a ``plan_addresses`` tuple), else IPAM's plan, else ``None``."""
    if addressing is None:
        try:
            addressing = importlib.import_module("netlab.addressing").plan_addresses(topo)
        except Exception:  # IPAM missing or unhappy: fall back to the static addresses
            return None
    return (addressing[0] if addressing else None) if isinstance(addressing, tuple) else addressing


def endpoint_addresses(topo: Topology, addressing: Any = None) -> dict[tuple[str, str], str]:
    """The address to write on each endpoint, keyed by ``(sandbox, network)``.

    Parameters
    ----------
    topo : Topology
        The topology.
    addressing : Addressing or tuple, optional
        A plan from :func:`netlab.addressing.plan_addresses` (the ``Addressing`` or the
        ``(addressing, problems)`` tuple); by default planned here if possible.

    Returns
    -------
    dict
        The allocated address if any, else the static ``Endpoint.ip``; endpoints
        with neither are absent.
    """
    return _addresses(topo, _plan(topo, addressing))


def _addresses(topo: Topology, plan: Any) -> dict[tuple[str, str], str]:
    planned = getattr(plan, "endpoints", None)
    planned = planned if isinstance(planned, Mapping) else {}
    found: dict[tuple[str, str], str] = {}
    for ep in topo.endpoints:
        value = getattr(planned.get((ep.sandbox, ep.network)), "ip", None) or ep.ip
        if value:
            found[(ep.sandbox, ep.network)] = _addr(value)
    return found


_Places = tuple[dict[str, str | None], dict[str | None, list[str]], dict[str, list[str | None]]]


def _places(topo: Topology) -> _Places:
    """The region of each sandbox, the networks inside each region, the spanning ones and their regions."""
    hosts = [h.name for h in topo.hosts]
    sbx_region = {s.name: (h if (h := topo.host_of(s.name)) in hosts else None) for s in topo.sandboxes}
    inside: dict[str | None, list[str]] = {}
    spanning: dict[str, list[str | None]] = {}
    for net in topo.networks:
        touched: dict[str | None, None] = {h: None for h in topo.network_hosts(net.name) if h in hosts}
        touched.update(dict.fromkeys(sbx_region[ep.sandbox] for ep in topo.endpoints_on(net.name)))
        if touched and (net.scope == "global" or len(touched) > 1):
            spanning[net.name] = list(touched)
        else:
            inside.setdefault(next(iter(touched), None), []).append(net.name)
    return sbx_region, inside, spanning


def _rows(counts: list[int], gaps: list[float], box_h: float, fixed_h: float) -> int:
    """The number of sandbox rows, shared by all regions, that brings the picture closest to 2:1."""

    def misfit(rows: int) -> float:
        width = sum(2 * _PAD + _REGION_GAP + max(_MIN_REGION_W, math.ceil(n / rows) * (_BOX_W + gap))
                    for n, gap in zip(counts, gaps, strict=True))
        return abs(math.log(width / (fixed_h + rows * (box_h + _ROW_GAP)) / _ASPECT))

    return min(range(1, max(counts, default=0) + 1), key=misfit, default=0)


def layout(topo: Topology, addresses: Mapping[tuple[str, str], str] | None = None) -> Layout:
    """Compute the picture's geometry: pure, deterministic, in topology order.

    Parameters
    ----------
    topo : Topology
        The topology.
    addresses : mapping, optional
        Endpoint labels keyed by ``(sandbox, network)``; by default the static IPs.

    Returns
    -------
    Layout
        Regions, sandbox boxes, network bars, wires and the legend's place.
    """
    if addresses is None:
        addresses = {(ep.sandbox, ep.network): _addr(ep.ip) for ep in topo.endpoints if ep.ip}
    sbx_region, inside, spanning = _places(topo)
    keys: list[str | None] = [h.name for h in topo.hosts]
    if None in inside or None in sbx_region.values() or any(None in t for t in spanning.values()):
        keys.append(None)
    members = {k: [s for s, r in sbx_region.items() if r == k] for k in keys}
    eps = {s: topo.endpoints_of(s) for s in sbx_region}
    box_h = 0.08 + _LINE * (1 + max((len(e) for e in eps.values()), default=0))
    used = {k: {ep.network for s in members[k] for ep in eps[s]} for k in keys}
    lanes = {k: [n.name for n in topo.networks if n.name in used[k]] for k in keys}
    gaps = {k: max(_MIN_GAP, _LANE * (len(lanes[k]) + 1) + 0.05) for k in keys}
    n_inside = max((len(inside.get(k, [])) for k in keys), default=0)
    fixed_h = _TITLE_H + _HEAD + (n_inside + len(spanning)) * (_BAR_H + _BAR_GAP) + 1.2
    rows = _rows([len(members[k]) for k in keys], list(gaps.values()), box_h, fixed_h)
    cols = {k: max(1, math.ceil(len(members[k]) / rows)) if rows else 1 for k in keys}
    grid_h = rows * box_h + max(0, rows - 1) * _ROW_GAP + (_BAR_GAP if rows else 0)
    region_h = _HEAD + grid_h + n_inside * (_BAR_H + _BAR_GAP) + _PAD
    widths = {k: 2 * _PAD + max(_MIN_REGION_W, cols[k] * (_BOX_W + gaps[k])) for k in keys}
    content_w = sum(widths.values()) + _REGION_GAP * max(0, len(keys) - 1)
    width = max(_MIN_W, content_w + 2 * _MARGIN)
    x, top = (width - content_w) / 2, _TITLE_H
    regions: dict[str | None, Rect] = {}
    bars: dict[str, Rect] = {}
    for k in keys:
        reg = regions[k] = Rect(x, top, x + widths[k], top + region_h)
        x += widths[k] + _REGION_GAP
        for i, name in enumerate(inside.get(k, [])):
            y = top + _HEAD + grid_h + i * (_BAR_H + _BAR_GAP)
            bars[name] = Rect(reg.x0 + _PAD, y, reg.x1 - _PAD, y + _BAR_H)
    y = top + (region_h if keys else 0.6) + 0.3
    for name, touched in spanning.items():
        x0, x1 = min(regions[t].x0 for t in touched), max(regions[t].x1 for t in touched)
        bars[name] = Rect(x0, y, x1, y + _BAR_H)
        y += _BAR_H + _BAR_GAP
    boxes: dict[str, Rect] = {}
    wires: list[Wire] = []
    shown = omitted = 0
    for k in keys:
        for i, s in enumerate(members[k]):
            r, c = divmod(i, cols[k])
            bx, by = regions[k].x0 + _PAD + c * (_BOX_W + gaps[k]), top + _HEAD + r * (box_h + _ROW_GAP)
            box = boxes[s] = Rect(bx, by, bx + _BOX_W, by + box_h)
            for j, ep in enumerate(eps[s]):
                lane_x = box.x1 + _LANE * (lanes[k].index(ep.network) + 1)
                stub_y = box.y0 + 0.04 + _LINE * (j + 1.5)
                label = addresses.get((s, ep.network))
                if label is not None and shown >= MAX_ADDRESS_LABELS:
                    label, omitted = None, omitted + 1
                shown += label is not None
                points = ((box.x1, stub_y), (lane_x, stub_y), (lane_x, bars[ep.network].y0))
                wires.append(Wire(s, ep.network, f"eth{j}", points, label))
    ncol = max(1, min(_LEGEND_ENTRIES, int((width - 2 * _MARGIN) // _LEGEND_ENTRY_W)))
    legend_top = y + 0.1 if not keys or spanning else y - 0.1
    height = legend_top + math.ceil(_LEGEND_ENTRIES / ncol) * _LEGEND_ROW_H + 0.15
    return Layout(width, height, regions, boxes, bars, tuple(spanning), tuple(wires), omitted, legend_top,
                  ncol)


def _format_of(path: str | os.PathLike[str]) -> str:
    ext = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    if ext not in FORMATS:
        allowed = " or ".join(f".{f}" for f in FORMATS)
        raise InvalidRequestError(f"cannot draw to {os.fspath(path)!r}: the file name must end in {allowed}")
    return ext


def _fit(text: str, width: float, size: float, bold: bool = False) -> str:
    """Shorten ``text`` in the middle (``web-fr…end-07``) to fit ``width`` inches at ``size`` points."""
    room = max(2, int(width / (size * (0.7 if bold else 0.62) / 72)))
    tail = (room - 1) * 2 // 5
    return text if len(text) <= room else text[: room - 1 - tail] + "\u2026" + text[len(text) - tail:]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}{'es' if word.endswith('x') else 's'}"


def _color(driver: str) -> str:
    return DRIVER_COLORS.get(driver, DRIVER_COLORS["other"])


def _tint(color: str) -> tuple[float, float, float]:
    """An opaque pale version of ``color`` (bars hide the wires passing behind them)."""
    from matplotlib.colors import to_rgb

    red, green, blue = (0.78 + 0.22 * c for c in to_rgb(color))
    return red, green, blue


def _text(ax: Axes, x: float, y: float, text: str, size: float, **style: Any) -> None:
    style.setdefault("color", _INK)
    ax.text(x, y, text, fontsize=size, va="center", parse_math=False, **style)


def _draw_regions(ax: Axes, topo: Topology, lay: Layout) -> None:
    from matplotlib.patches import FancyBboxPatch

    for key, reg in lay.regions.items():
        placed = key is not None
        ax.add_patch(FancyBboxPatch((reg.x0, reg.y0), reg.width, reg.height, lw=1.0, zorder=0, ec=_HOST_EC,
                                    fc=_HOST_FC if placed else "#fbfbfb", ls="-" if placed else "--",
                                    boxstyle="round,pad=0,rounding_size=0.12"))
        count = sum(1 for box in lay.sandboxes.values() if reg.contains(box))
        ip = topo.host(key).underlay_ip if key is not None else None
        head = f"host {key}" + (f"  {ip}" if ip else "") if key is not None else "unplaced"
        _text(ax, reg.x1 - _PAD, reg.y0 + 0.2, _plural(count, "sandbox"), 6.5, ha="right", color=_GREY)
        _text(ax, reg.x0 + _PAD, reg.y0 + 0.2, _fit(head, reg.width - 2 * _PAD - 0.9, 8.5, True), 8.5,
              weight="bold", style="normal" if placed else "italic")


def _draw_bars(ax: Axes, topo: Topology, lay: Layout, subnets: Mapping[str, str]) -> None:
    from matplotlib.patches import Rectangle

    for name, bar in lay.bars.items():
        net = topo.network(name)
        color = _color(net.driver)
        ax.add_patch(Rectangle((bar.x0, bar.y0), bar.width, bar.height, fc=_tint(color), ec=color, lw=1.2,
                               ls="--" if net.internal else "-", zorder=2))
        parts = [name, net.driver, subnets.get(name) or net.subnet or "", "internal" if net.internal else ""]
        label = _fit("   ".join(p for p in parts if p), bar.width - 0.14, 6.5)
        _text(ax, bar.x0 + 0.07, bar.y0 + bar.height / 2, label, 6.5, zorder=3)


def _draw_sandboxes(ax: Axes, topo: Topology, lay: Layout) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyBboxPatch

    for name, box in lay.sandboxes.items():
        ax.add_patch(FancyBboxPatch((box.x0, box.y0), box.width, box.height, fc="white", ec="#444444",
                                    lw=0.8, boxstyle="round,pad=0,rounding_size=0.05", zorder=3))
        _text(ax, (box.x0 + box.x1) / 2, box.y0 + 0.04 + _LINE / 2, _fit(name, box.width - 0.1, 6.5, True),
              6.5, ha="center", weight="bold", zorder=4)
    for wire in lay.wires:
        color = _color(topo.network(wire.network).driver)
        xs, ys = zip(*wire.points, strict=True)
        ax.add_line(Line2D(xs, ys, color=color, lw=0.9, zorder=1))
        ax.add_line(Line2D([xs[1], xs[-1]], [ys[1], ys[-1]], ls="none", marker="o", ms=2.4, color=color,
                           zorder=4))
        box, y = lay.sandboxes[wire.sandbox], ys[0]
        label = _fit(wire.label or "", box.width - 0.1, 5.5)
        if len(wire.interface) + len(label) + 2 <= int((box.width - 0.1) / (5.5 * 0.62 / 72)):
            _text(ax, box.x0 + 0.05, y, wire.interface, 5.5, color=_GREY, zorder=4)
        if label:
            _text(ax, box.x1 - 0.05, y, label, 5.5, ha="right", color=color, zorder=4)


def _draw_legend(ax: Axes, lay: Layout) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    wire = Line2D([], [], color=_GREY, marker="o", ms=2.4, lw=0.9, label="endpoint (ethN  address)")
    handles: list[Any] = [Patch(fc=_HOST_FC, ec=_HOST_EC, label="host"),
                          Patch(fc="white", ec="#444444", label="sandbox (container)"), wire]
    for driver in ("bridge", "overlay", "macvlan", "null", "host", "other"):
        label = "other / plugin" if driver == "other" else f"{driver} network"
        handles.append(Patch(fc=_tint(DRIVER_COLORS[driver]), ec=DRIVER_COLORS[driver], label=label))
    handles.append(Patch(fc="white", ec=_GREY, ls="--", label="internal network"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(lay.width / 2, lay.legend_top),
              bbox_transform=ax.transData, ncol=lay.legend_cols, fontsize=6.5, frameon=False,
              handlelength=1.6, columnspacing=1.2, borderaxespad=0.0)


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches on its own Agg canvas (no pyplot, no global state).

    Raises ``NotSupportedError`` when matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise NotSupportedError(_MISSING) from exc
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def draw_topology(topo: Topology, path: str | os.PathLike[str] | None = None, *, title: str | None = None,
                  addressing: Any = None) -> Figure:
    """Draw ``topo``: hosts, sandboxes, networks and endpoints with their addresses.

    Parameters
    ----------
    topo : Topology
        The topology to draw.
    path : str, optional
        Also save the picture there; the extension (``.png`` or ``.svg``) picks the format.
    title : str, optional
        The heading; by default the topology's name.
    addressing : Addressing, optional
        The address plan to label endpoints with; by default :func:`netlab.addressing.plan_addresses`
        when it is available and succeeds, else the static endpoint IPs.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, on an Agg canvas (pyplot is not involved).

    Raises
    ------
    InvalidRequestError
        ``path`` ends in something other than ``.png`` or ``.svg``.
    NotSupportedError
        matplotlib is not installed.
    """
    fmt = _format_of(path) if path is not None else None
    plan = _plan(topo, addressing)
    nets = getattr(plan, "networks", None)
    nets = nets.items() if isinstance(nets, Mapping) else ()
    subnets = {str(k): str(v.subnet) for k, v in nets if getattr(v, "subnet", None) is not None}
    lay = layout(topo, _addresses(topo, plan))
    fig = new_figure(lay.width, lay.height)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, lay.width)
    ax.set_ylim(lay.height, 0)
    ax.set_axis_off()
    counts = zip((len(topo.hosts), len(topo.networks), len(lay.sandboxes), len(lay.wires)),
                 ("host", "network", "sandbox", "endpoint"), strict=True)
    summary = "  |  ".join(_plural(n, word) for n, word in counts)
    if lay.labels_omitted:
        summary += f"  |  addresses of {lay.labels_omitted} endpoints not shown"
    heading = title if title is not None else topo.name
    _text(ax, _MARGIN, 0.3, _fit(heading, lay.width - 2 * _MARGIN, 13, True), 13, weight="bold")
    _text(ax, _MARGIN, 0.56, _fit(summary, lay.width - 2 * _MARGIN, 7), 7, color=_GREY)
    if not lay.regions:
        _text(ax, lay.width / 2, lay.legend_top - 0.5, "empty topology: no hosts, networks or sandboxes", 8,
              ha="center", style="italic", color=_GREY)
    _draw_regions(ax, topo, lay)
    _draw_bars(ax, topo, lay, subnets)
    _draw_sandboxes(ax, topo, lay)
    _draw_legend(ax, lay)
    if path is not None and fmt is not None:
        _save(fig, path, fmt)
    return fig


def _save(fig: Figure, target: Any, fmt: str) -> None:
    """Save with text kept as text in SVG, stable SVG ids and no date: same topology, same file."""
    from matplotlib import rc_context

    width, height = fig.get_size_inches()
    dpi = min(max(100.0, 1100.0 / width), 150.0, 12000.0 / max(width, height))
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "netlab"}):
        fig.savefig(target, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)


def _render(topo: Topology, fmt: str) -> bytes | None:
    try:
        fig = draw_topology(topo)
    except NotSupportedError:
        return None
    buf = io.BytesIO()
    _save(fig, buf, fmt)
    return buf.getvalue()


def topology_png(topo: Topology) -> bytes | None:
    """PNG bytes of :func:`draw_topology` (Jupyter's ``_repr_png_``); ``None`` without matplotlib."""
    return _render(topo, "png")


def topology_svg(topo: Topology) -> str | None:
    """SVG text of :func:`draw_topology`; ``None`` without matplotlib."""
    data = _render(topo, "svg")
    return data.decode("utf-8") if data is not None else None
