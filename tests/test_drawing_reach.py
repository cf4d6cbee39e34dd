"""Reachability heatmap and trace pictures."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from matplotlib.colors import to_rgb

from netlab import naming
from netlab.drawing import layout
from netlab.drawing_reach import MATRIX_COLORS, plot_matrix, plot_trace, trace_points
from netlab.errors import InvalidRequestError
from netlab.loading import load_text

TOPO = """
name: pic
hosts: [h1, h2]
networks:
  front: {host: h1, subnet: 10.1.0.0/24}
  ov: {driver: overlay, subnet: 10.2.0.0/24}
containers:
  a: {host: h1, networks: [front, ov]}
  b: {host: h1, networks: [front]}
  c: {host: h2, networks: [ov]}
"""


@dataclass(frozen=True)
class Hop:
    ns: str
    device: str
    action: str = ""


@dataclass(frozen=True)
class Drop:
    ns: str
    reason: str


@dataclass(frozen=True)
class FakeTrace:
    hops: tuple[Hop, ...]
    drop: Drop | None = None
    reply: FakeTrace | None = None
    lines: list[str] = field(default_factory=lambda: ["a -> c", "delivered"])

    @property
    def ok(self) -> bool:
        return self.drop is None

    def explain(self) -> str:
        return "\n".join(self.lines)


def _cell(fig: object, i: int, j: int) -> tuple[float, ...]:
    data = fig.axes[0].images[0].get_array()  # type: ignore[attr-defined]
    return tuple(float(x) for x in data[i][j][:3])


def test_matrix_colours_each_pair_and_marks_disagreement() -> None:
    observed = [[False, True, False], [True, False, False], [False, True, False]]
    expected = [[False, True, True], [True, False, False], [False, False, False]]
    fig = plot_matrix(["a", "b", "c"], observed, expected)
    assert _cell(fig, 0, 1) == pytest.approx(to_rgb(MATRIX_COLORS[(True, True)]))
    assert _cell(fig, 1, 2) == pytest.approx(to_rgb(MATRIX_COLORS[(False, True)]))
    assert _cell(fig, 0, 2) == pytest.approx(to_rgb(MATRIX_COLORS[(False, False)]))
    assert _cell(fig, 2, 1) == pytest.approx(to_rgb(MATRIX_COLORS[(True, False)]))
    assert fig.axes[0].get_title() == "reachability: 2 of 6 pairs differ from the model"
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["!", "!"]


def test_matrix_without_expectation_counts_reachable_pairs() -> None:
    fig = plot_matrix(["a", "b"], [[False, True], [False, False]])
    assert fig.axes[0].get_title() == "reachability: 1 of 2 pairs reachable"


def test_matrix_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="observed matrix must be 2 x 2"):
        plot_matrix(["a", "b"], [[True]])


def test_large_matrix_hides_labels() -> None:
    n = 80
    fig = plot_matrix([f"s{i}" for i in range(n)], [[i != j for j in range(n)] for i in range(n)])
    assert fig.axes[0].get_xticks().size == 0


def test_trace_points_follow_sandbox_bridge_overlay_and_underlay() -> None:
    topo = load_text(TOPO)
    lay = layout(topo)
    lab = topo.name
    hops = (Hop(naming.sandbox_netns(lab, "a"), "eth1"), Hop(naming.overlay_netns(lab, "ov", "h1"), "ov-100"),
            Hop(naming.host_netns(lab, "h1"), "eth0"), Hop(naming.underlay_netns(lab), "br0"),
            Hop(naming.host_netns(lab, "h2"), "eth0"), Hop(naming.overlay_netns(lab, "ov", "h2"), "ov-100"),
            Hop(naming.sandbox_netns(lab, "c"), "eth0"), Hop(naming.sandbox_netns(lab, "c"), "lo"))
    points = trace_points(topo, lay, hops)
    assert len(points) == 7                     # the last two hops are in one place
    a, c = lay.sandboxes["a"], lay.sandboxes["c"]
    assert points[0] == ((a.x0 + a.x1) / 2, (a.y0 + a.y1) / 2)
    assert points[-1] == ((c.x0 + c.x1) / 2, (c.y0 + c.y1) / 2)
    bar = lay.bars["ov"]
    assert bar.y0 <= points[1][1] <= bar.y1 and bar.y0 <= points[5][1] <= bar.y1
    assert points[1][0] < points[5][0]         # h1's part of the bar is left of h2's
    bridge = trace_points(topo, lay, [Hop(naming.host_netns(lab, "h1"), "br-front")])
    front = lay.bars["front"]
    assert front.y0 <= bridge[0][1] <= front.y1


def test_trace_picture_draws_arrows_drop_and_explanation() -> None:
    topo = load_text(TOPO)
    lab = topo.name
    hops = (Hop(naming.sandbox_netns(lab, "a"), "eth0"), Hop(naming.host_netns(lab, "h1"), "br-front"),
            Hop(naming.sandbox_netns(lab, "b"), "eth0"))
    ok = plot_trace(topo, FakeTrace(hops, reply=FakeTrace(tuple(reversed(hops)))))
    dropped = plot_trace(topo, FakeTrace(hops[:2], drop=Drop(naming.host_netns(lab, "h1"), "policy drop"),
                                         lines=["a -> b", "dropped: policy drop"]))
    ax_ok, ax_drop = ok.axes[0], dropped.axes[0]
    assert len([t for t in ax_ok.texts if getattr(t, "arrow_patch", None) is not None]) == 4
    assert not [line for line in ax_ok.lines if line.get_marker() == "X"]
    assert [line for line in ax_drop.lines if line.get_marker() == "X"]
    assert "dropped: policy drop" in [t.get_text() for t in ax_drop.texts]
