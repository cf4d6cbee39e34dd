"""Tests for netlab.drawing: layout geometry (no rendering) and PNG/SVG output."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable
from ipaddress import IPv4Interface
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

from netlab import drawing
from netlab.drawing import draw_topology, layout, topology_png, topology_svg
from netlab.errors import InvalidRequestError, NotSupportedError
from netlab.model import Topology

if TYPE_CHECKING:
    from matplotlib.figure import Figure

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def empty() -> Topology:
    return Topology("empty")


def one_host_bridge() -> Topology:
    topo = Topology("one-host")
    topo.add_host("h1")
    topo.add_network("front", subnet="10.0.1.0/24")
    for i, name in enumerate(["web", "api", "worker"]):
        topo.add_sandbox(name, host="h1")
        topo.connect(name, "front", ip=f"10.0.1.{10 + i}")
    return topo


def two_host_overlay() -> Topology:
    topo = Topology("two-host-overlay")
    topo.add_host("h1", underlay_ip="192.0.2.11")
    topo.add_host("h2", underlay_ip="192.0.2.12")
    topo.add_network("ov", "overlay", subnet="10.0.9.0/24")
    topo.add_network("br1", "bridge", host="h1", subnet="172.18.0.0/24")
    topo.add_network("br2", "bridge", host="h2", subnet="172.19.0.0/24", internal=True)
    for host, names in (("h1", ["web", "api"]), ("h2", ["db", "cache"])):
        for name in names:
            topo.add_sandbox(name, host=host)
            topo.connect(name, "ov")
            topo.connect(name, f"br{host[1]}")
    return topo


def three_by_thirty() -> Topology:
    topo = Topology("three-host-mix")
    topo.add_network("ov-app", "overlay", subnet="10.10.0.0/16")
    topo.add_network("ov-db", "overlay", subnet="10.20.0.0/24", internal=True)
    for h in range(1, 4):
        topo.add_host(f"h{h}")
        topo.add_network(f"br{h}", "bridge", host=f"h{h}", subnet=f"172.18.{h}.0/24")
        for i in range(30):
            name = f"web{h}-{i:02d}"
            topo.add_sandbox(name, host=f"h{h}")
            topo.connect(name, f"br{h}", ip=f"172.18.{h}.{10 + i}")
            if i % 2 == 0:
                topo.connect(name, "ov-app", ip=f"10.10.{h}.{10 + i}")
            if i % 5 == 0:
                topo.connect(name, "ov-db")
    return topo


def odd_corners() -> Topology:
    """A host with no sandboxes, a sandbox with no endpoints, unplaced things, every driver."""
    topo = Topology("corners")
    topo.add_host("idle")
    topo.add_host("h2")
    topo.add_network("mv", "macvlan", host="h2", subnet="192.168.50.0/24")
    topo.add_network("none", "null", host="h2")
    topo.add_network("hostnet", "host", host="h2")
    topo.add_network("plug", "weave", host="h2")
    topo.add_network("orphan", "bridge")
    topo.add_sandbox("lonely", host="h2")
    topo.add_sandbox("busy", host="h2")
    for net in ("mv", "none", "hostnet", "plug"):
        topo.connect("busy", net)
    topo.add_sandbox("nomad")
    topo.connect("nomad", "orphan", ip="10.99.0.5")
    return topo


BUILDERS: list[Callable[[], Topology]] = [
    empty, one_host_bridge, two_host_overlay, three_by_thirty, odd_corners,
]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("ext", ["png", "svg"])
def test_renders_valid_file(build: Callable[[], Topology], ext: str, tmp_path: Path) -> None:
    path = tmp_path / f"out.{ext}"
    fig = draw_topology(build(), str(path))
    data = path.read_bytes()
    assert fig.get_figwidth() > 0 and len(data) > 1000
    if ext == "png":
        assert data.startswith(PNG_MAGIC)
    else:
        assert b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")


def test_empty_topology_has_nothing_but_title_and_legend() -> None:
    lay = layout(empty())
    assert lay.regions == {} and lay.sandboxes == {} and lay.bars == {} and lay.wires == ()
    assert "empty" in (topology_svg(empty()) or "")


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_every_sandbox_box_lies_inside_its_host_region(build: Callable[[], Topology]) -> None:
    topo = build()
    lay = layout(topo)
    assert set(lay.sandboxes) == {s.name for s in topo.sandboxes}
    for sbx in topo.sandboxes:
        region = lay.regions[topo.host_of(sbx.name)]
        assert region.contains(lay.sandboxes[sbx.name]), sbx.name
        others = [r for key, r in lay.regions.items() if key != topo.host_of(sbx.name)]
        assert not any(r.overlaps(lay.sandboxes[sbx.name]) for r in others)


@pytest.mark.parametrize("build", [two_host_overlay, three_by_thirty], ids=lambda b: b.__name__)
def test_overlay_bars_span_every_host_they_touch_below_the_hosts(build: Callable[[], Topology]) -> None:
    topo = build()
    lay = layout(topo)
    overlays = [n.name for n in topo.networks if n.driver == "overlay"]
    assert overlays and set(overlays) <= set(lay.spanning)
    bottom = max(r.y1 for r in lay.regions.values())
    for name in overlays:
        bar = lay.bars[name]
        hosts = topo.network_hosts(name)
        assert len(hosts) >= 2
        for host in hosts:
            assert bar.x0 <= lay.regions[host].x0 and bar.x1 >= lay.regions[host].x1, (name, host)
        assert bar.y0 > bottom


def test_local_bars_sit_inside_their_host() -> None:
    topo = two_host_overlay()
    lay = layout(topo)
    for name in ("br1", "br2"):
        host = topo.network_hosts(name)[0]
        assert lay.regions[host].contains(lay.bars[name])
        assert all(lay.bars[name].y0 >= box.y1 for box in lay.sandboxes.values())


def test_no_two_sandbox_boxes_overlap_at_3x30() -> None:
    lay = layout(three_by_thirty())
    assert len(lay.sandboxes) == 90
    for (a, ra), (b, rb) in itertools.combinations(lay.sandboxes.items(), 2):
        assert not ra.overlaps(rb), (a, b)
    for r in lay.sandboxes.values():
        assert 0 <= r.x0 and r.x1 <= lay.width and 0 <= r.y0 and r.y1 <= lay.height


def test_3x30_stays_readable_size() -> None:
    small, big = layout(one_host_bridge()), layout(three_by_thirty())
    assert big.width > small.width and big.height > small.height
    assert 1.0 <= big.width / big.height <= 3.5
    assert big.width < 40 and big.legend_top >= max(b.y1 for b in big.bars.values())


def test_wires_run_from_the_sandbox_box_to_the_network_bar() -> None:
    topo = three_by_thirty()
    lay = layout(topo)
    assert len(lay.wires) == len(topo.endpoints)
    for wire in lay.wires:
        box, bar = lay.sandboxes[wire.sandbox], lay.bars[wire.network]
        (x0, y0), (x1, y1) = wire.points[0], wire.points[-1]
        assert x0 == pytest.approx(box.x1) and box.y0 < y0 < box.y1
        assert y1 == pytest.approx(bar.y0) and bar.x0 <= x1 <= bar.x1
        assert not any(other.x0 < x1 < other.x1 for other in lay.sandboxes.values())


def test_layout_is_deterministic() -> None:
    assert layout(three_by_thirty()) == layout(three_by_thirty())
    assert layout(odd_corners()) == layout(odd_corners())


def test_unplaced_sandboxes_and_networks_get_their_own_region() -> None:
    lay = layout(odd_corners())
    assert list(lay.regions) == ["idle", "h2", None]
    assert lay.regions[None].contains(lay.sandboxes["nomad"])
    assert lay.regions[None].contains(lay.bars["orphan"])
    assert "lonely" in lay.sandboxes and not [w for w in lay.wires if w.sandbox == "lonely"]


def test_svg_shows_static_endpoint_ips(monkeypatch: pytest.MonkeyPatch) -> None:
    svg = topology_svg(one_host_bridge()) or ""
    # real, searchable <text>, not glyph outlines
    assert all(f">{ip}</text>" in svg for ip in ("10.0.1.10", "10.0.1.11", "10.0.1.12"))
    assert ">1 host  |  1 network  |  3 sandboxes  |  3 endpoints</text>" in svg
    monkeypatch.setitem(sys.modules, "netlab.addressing", None)  # no IPAM: static addresses still shown
    svg = topology_svg(one_host_bridge()) or ""
    assert all(ip in svg for ip in ("10.0.1.10", "10.0.1.11", "10.0.1.12"))
    assert "web" in svg and "front" in svg and "eth0" in svg


def test_allocated_addresses_win_over_static_ones(tmp_path: Path) -> None:
    topo = one_host_bridge()
    plan = SimpleNamespace(
        endpoints={("web", "front"): SimpleNamespace(ip=IPv4Interface("10.0.1.99/24"), mac="02:42:0a:01:63")},
        networks={"front": SimpleNamespace(subnet="10.0.1.0/24", gateway="10.0.1.1", ip_range=None)},
    )
    draw_topology(topo, str(tmp_path / "plan.svg"), addressing=(plan, []))
    svg = (tmp_path / "plan.svg").read_text()
    assert "10.0.1.99" in svg and "10.0.1.10<" not in svg and "10.0.1.99/24" not in svg
    assert "10.0.1.11" in svg  # not in the plan: the static address


def test_address_labels_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drawing, "MAX_ADDRESS_LABELS", 5)
    lay = layout(three_by_thirty())
    labelled = [w for w in lay.wires if w.label]
    assert len(labelled) == 5
    assert lay.labels_omitted == sum(1 for ep in three_by_thirty().endpoints if ep.ip) - 5


def long_names() -> Topology:
    """Names and addresses too long for their boxes and bars."""
    topo = Topology("a-lab-whose-name-is-much-longer-than-anyone-would-type-" * 3)
    topo.add_host("a-host-with-a-very-long-name-indeed", underlay_ip="192.0.2.250")
    net = "a-network-with-an-extremely-long-name"
    topo.add_network(net, "some-vendor/plugin-driver", subnet="10.123.0.0/16")
    for i in range(12):
        name = f"a-sandbox-with-a-very-long-name-{i:02d}"
        topo.add_sandbox(name, host="a-host-with-a-very-long-name-indeed")
        topo.connect(name, net, ip=f"fd00:1234:5678:9abc:def0:1234:5678:{i:x}")
    return topo


def assert_texts_apart(fig: Figure) -> int:
    """No two texts overlap, every text is inside the figure; returns the number of texts."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].texts if t.get_text()]
    edge = fig.bbox
    for box in boxes:
        assert edge.x0 <= box.x0 and box.x1 <= edge.x1 and edge.y0 <= box.y0 and box.y1 <= edge.y1
    for a, b in itertools.combinations(boxes, 2):
        assert not (a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1), (a, b)
    return len(boxes)


def test_no_text_overlaps_and_legend_is_below_content_at_3x30() -> None:
    fig = draw_topology(three_by_thirty())
    assert assert_texts_apart(fig) > 300
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert legend is not None
    legend_top = legend.get_window_extent(renderer).y1
    lowest = min(p.get_window_extent(renderer).y0 for p in ax.patches)
    assert legend_top < lowest


def test_long_names_are_shortened_to_fit() -> None:
    fig = draw_topology(long_names())
    assert assert_texts_apart(fig) > 20
    texts = [t.get_text() for t in fig.axes[0].texts]
    shortened = [t for t in texts if t.startswith("a-sandbox") and "\u2026" in t]
    assert len(shortened) == 12 and len(set(shortened)) == 12  # the distinguishing tail is kept


def test_bars_are_coloured_by_driver_and_internal_ones_dashed() -> None:
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Rectangle

    topo = two_host_overlay()
    lay = layout(topo)
    fig = draw_topology(topo)
    rects = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    for name, bar in lay.bars.items():
        net = topo.network(name)
        (patch,) = [p for p in rects if (p.get_x(), p.get_y()) == pytest.approx((bar.x0, bar.y0))]
        assert patch.get_edgecolor() == pytest.approx(to_rgba(drawing.DRIVER_COLORS[net.driver]))
        assert (patch.get_linestyle() == "--") is net.internal


def test_repr_png_and_topology_png_return_png_bytes() -> None:
    topo = two_host_overlay()
    assert (topo._repr_png_() or b"").startswith(PNG_MAGIC)
    assert (topology_png(empty()) or b"").startswith(PNG_MAGIC)
    assert (topology_svg(topo) or "").lstrip().startswith("<?xml")


def test_draw_method_saves_with_title(tmp_path: Path) -> None:
    path = tmp_path / "lab.SVG"
    topo = two_host_overlay()
    topo.draw(str(path), title="My lab")
    assert "My lab" in path.read_text()


@pytest.mark.parametrize("name", ["out.jpg", "out", "out.png.txt", "out.pdf"])
def test_bad_extension_raises_and_names_the_allowed_ones(name: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match=r"\.png.*\.svg"):
        draw_topology(one_host_bridge(), str(tmp_path / name))
    assert list(tmp_path.iterdir()) == []


def test_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(NotSupportedError, match=r"pip install 'netlab-cnm\[draw\]'"):
        draw_topology(one_host_bridge())
    assert topology_png(one_host_bridge()) is None
    assert topology_svg(one_host_bridge()) is None
    assert one_host_bridge()._repr_png_() is None


def test_import_and_draw_leave_matplotlib_global_state_alone() -> None:
    code = (
        "import sys\n"
        "import netlab.drawing\n"
        "assert 'matplotlib' not in sys.modules, 'imported at module import'\n"
        "from netlab.model import Topology\n"
        "import matplotlib\n"
        "fonttype = matplotlib.rcParams['svg.fonttype']\n"
        "netlab.drawing.topology_svg(Topology('x'))\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot used'\n"
        "assert matplotlib.rcParams['svg.fonttype'] == fonttype\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
