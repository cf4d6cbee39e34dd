"""Pictures of what the harness and the packet walker found: a reachability heatmap and a trace over the topology.

:func:`plot_matrix` colours each (from, to) pair: reachable or not, and, when the
model's expectation is given, marks every pair where observation and expectation
disagree. :func:`plot_trace` draws the topology (:func:`netlab.drawing.draw_topology`)
and the path a packet took over it: the request as solid arrows, the reply dashed,
and a cross where it was dropped, with the walk's explanation underneath.
Both return a matplotlib ``Figure`` on an Agg canvas (no pyplot, no global state).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from netlab import naming
from netlab.drawing import draw_topology, layout, new_figure
from netlab.errors import InvalidRequestError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from netlab.drawing import Layout
    from netlab.model import Topology

__all__ = ["MATRIX_COLORS", "plot_matrix", "plot_trace", "trace_points"]

#: cell colours: (reachable, as expected) -> colour
MATRIX_COLORS = {
    (True, True): "#3a9d5d",     # reachable, as expected
    (False, True): "#e6e8ec",    # unreachable, as expected
    (True, False): "#e08a1e",    # reachable although the model says no
    (False, False): "#c9302c",   # unreachable although the model says yes
}
_LABELS_SHOWN = 60


class _Hop(Protocol):
    @property
    def ns(self) -> str: ...
    @property
    def device(self) -> str: ...


class _Drop(Protocol):
    @property
    def ns(self) -> str: ...
    @property
    def reason(self) -> str: ...


class TraceLike(Protocol):
    """What :func:`plot_trace` reads of a :class:`netlab.backends.walk.Trace`."""

    @property
    def hops(self) -> Sequence[_Hop]: ...
    @property
    def drop(self) -> _Drop | None: ...
    @property
    def reply(self) -> TraceLike | None: ...
    @property
    def ok(self) -> bool: ...
    def explain(self) -> str: ...


def plot_matrix(labels: Sequence[str], observed: Sequence[Sequence[bool]],
                expected: Sequence[Sequence[bool]] | None = None, *, title: str = "reachability") -> Figure:
    """A heatmap of ``observed[i][j]`` (``labels[i]`` reaches ``labels[j]``), mismatches against ``expected`` marked.

    >>> fig = plot_matrix(["a", "b"], [[False, True], [True, False]], [[False, True], [False, False]])
    >>> fig.axes[0].get_title()
    'reachability: 1 of 2 pairs differ from the model'
    """
    n = len(labels)
    for name, grid in (("observed", observed), ("expected", expected)):
        if grid is not None and (len(grid) != n or any(len(row) != n for row in grid)):
            raise InvalidRequestError(f"{name} matrix must be {n} x {n} for {n} labels")
    from matplotlib.colors import to_rgb

    want = expected if expected is not None else observed
    cells = [[to_rgb(MATRIX_COLORS[(bool(observed[i][j]), bool(observed[i][j]) == bool(want[i][j]))])
              for j in range(n)] for i in range(n)]
    size = min(max(4.0, 0.28 * n + 2.5), 14.0)
    fig = new_figure(size + 2.0, size)
    ax = fig.add_axes((0.14, 0.14, 0.58, 0.72))
    ax.imshow(cells if n else [[to_rgb("white")]], interpolation="nearest", aspect="equal")
    pairs = n * (n - 1)
    wrong = sum(bool(observed[i][j]) != bool(want[i][j]) for i in range(n) for j in range(n) if i != j)
    ax.set_title(f"{title}: {wrong} of {pairs} pairs differ from the model" if expected is not None
                 else f"{title}: {sum(bool(observed[i][j]) for i in range(n) for j in range(n) if i != j)} "
                      f"of {pairs} pairs reachable", fontsize=10)
    ax.set_xlabel("to")
    ax.set_ylabel("from")
    if n <= _LABELS_SHOWN:
        ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), labels, fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if expected is not None and n <= _LABELS_SHOWN:
        for i in range(n):
            for j in range(n):
                if i != j and bool(observed[i][j]) != bool(want[i][j]):
                    ax.text(j, i, "!", ha="center", va="center", color="white", fontsize=8, weight="bold")
    from matplotlib.patches import Patch

    legend = [Patch(color=MATRIX_COLORS[(True, True)], label="reachable"),
              Patch(color=MATRIX_COLORS[(False, True)], label="no answer")]
    if expected is not None:
        legend += [Patch(color=MATRIX_COLORS[(True, False)], label="reachable, model: no"),
                   Patch(color=MATRIX_COLORS[(False, False)], label="no answer, model: yes")]
    fig.legend(handles=legend, loc="center left", bbox_to_anchor=(0.74, 0.5), fontsize=7, frameon=False)
    return fig


def trace_points(topo: Topology, lay: Layout, hops: Sequence[_Hop]) -> list[tuple[float, float]]:
    """Where each hop is drawn: its sandbox box, its network's bar, its host's region, the underlay or internet.

    Consecutive hops at the same place collapse into one point.
    """
    lab = topo.name
    regions = {name: rect for name, rect in lay.regions.items() if name is not None}
    top = min((r.y0 for r in regions.values()), default=0.9)
    floor = max((r.y1 for r in regions.values()), default=2.0)
    below = [lay.bars[name].y0 for name in lay.spanning if name in lay.bars]
    wire = (floor + min(below)) / 2 if below else floor + 0.12
    places: dict[str, tuple[float, float]] = {
        naming.underlay_netns(lab): (lay.width / 2, wire),
        naming.internet_netns(lab): (lay.width - 0.6, max(top - 0.25, 0.2)),
    }
    bridges: dict[tuple[str, str], tuple[float, float]] = {}
    for host, rect in regions.items():
        places[naming.host_netns(lab, host)] = ((rect.x0 + rect.x1) / 2, rect.y1 - 0.06)
        for net in topo.networks:
            bar = lay.bars.get(net.name)
            if bar is None:
                continue
            point = (min(max((rect.x0 + rect.x1) / 2, bar.x0 + 0.1), bar.x1 - 0.1), (bar.y0 + bar.y1) / 2)
            places[naming.overlay_netns(lab, net.name, host)] = point
            option = net.options.get("com.docker.network.bridge.name")
            bridges[(naming.host_netns(lab, host), naming.bridge_name(net.name, option))] = point
    for name, rect in lay.sandboxes.items():
        places[naming.sandbox_netns(lab, name)] = ((rect.x0 + rect.x1) / 2, (rect.y0 + rect.y1) / 2)
    points: list[tuple[float, float]] = []
    for hop in hops:
        at = bridges.get((hop.ns, hop.device)) or places.get(hop.ns)
        if at is not None and (not points or points[-1] != at):
            points.append(at)
    return points


def _arrows(ax: object, points: Sequence[tuple[float, float]], color: str, style: str) -> None:
    for start, end in zip(points, points[1:], strict=False):
        ax.annotate("", xy=end, xytext=start,  # type: ignore[attr-defined]
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": 2.0, "linestyle": style,
                                "shrinkA": 4, "shrinkB": 4, "connectionstyle": "arc3,rad=0.08"})


def plot_trace(topo: Topology, trace: TraceLike, *, title: str | None = None) -> Figure:
    """The topology with ``trace``'s path drawn over it and its explanation underneath."""
    fig = draw_topology(topo, title=title or f"{topo.name}: packet trace")
    ax = fig.axes[0]
    lay = layout(topo)
    lines = trace.explain().splitlines()
    extra = 0.3 + 0.15 * len(lines)
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, height + extra)
    ax.set_ylim(height + extra, 0)
    request = trace_points(topo, lay, trace.hops)
    _arrows(ax, request, "#3a9d5d" if trace.ok else "#c9302c", "solid")
    if trace.reply is not None:
        _arrows(ax, trace_points(topo, lay, trace.reply.hops), "#2f6db5", "dashed")
    drop = trace.drop if trace.drop is not None else (trace.reply.drop if trace.reply is not None else None)
    if drop is not None:
        hops = list(trace.hops) + (list(trace.reply.hops) if trace.reply is not None else [])
        at = trace_points(topo, lay, [h for h in hops if h.ns == drop.ns][-1:]) or request[-1:]
        for x, y in at:
            ax.plot([x], [y], marker="X", markersize=16, color="#c9302c", zorder=5)
    for i, line in enumerate(lines):
        ax.text(0.3, height + 0.25 + 0.15 * i, line, fontsize=7, family="monospace", va="center",
                color="#c9302c" if drop is not None and i == len(lines) - 1 else "#222222")
    return fig
