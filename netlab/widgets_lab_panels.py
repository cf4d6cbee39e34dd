"""LabView panels: the deploy bar, the reachability panel, the trace explorer, and their CSS.

The panels hold widgets (with their CSS classes, see :mod:`netlab.widgets_lab`),
forward clicks to the :class:`~netlab.widgets_lab.LabView`, which does the work,
and show its results (pictures drawn by :mod:`netlab.drawing_reach`).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from netlab.drawing_reach import plot_matrix, plot_trace
from netlab.errors import NetlabError, NotSupportedError
from netlab.model import Topology
from netlab.reprs import trace_html
from netlab.widgets_front import figure_png

try:
    import ipywidgets as widgets  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - ipywidgets is part of the notebook extra
    raise NotSupportedError("the lab view needs ipywidgets: pip install 'netlab-cnm[notebook]'") from exc

if TYPE_CHECKING:

    from netlab.backends.walk import Trace
    from netlab.harness_matrix import MatrixResult
    from netlab.widgets_lab import LabView

__all__ = ["BACKEND_CHOICES", "STYLE", "DeployBar", "ReachPanel", "TracePanel", "heading",
           "show_picture"]

log = logging.getLogger(__name__)

#: the backend toggle's choices: (label, backend name)
BACKEND_CHOICES = (("sim", "sim"), ("kernel", "kernel"))
#: resolution of the pictures (scaled down to their column anyway)
PICTURE_DPI = 90

#: the view's CSS, shown once in an HTML widget inside it
STYLE = """<style>
.netlab-labview .netlab-status-error { color: #b00020; font-weight: bold; }
.netlab-labview .netlab-status-ok { color: #1b6e20; }
.netlab-labview .netlab-backend-note { color: #8a5a00; font-size: 12px; }
.netlab-labview .netlab-progress-label { color: #555; font-size: 12px; }
.netlab-labview .netlab-section-title { font-weight: bold; margin-top: 6px; border-bottom: 1px solid #ccc; }
.netlab-labview .netlab-empty { color: #777; font-style: italic; font-size: 12px; }
</style>"""


def button(description: str, css: str, icon: str = "") -> Any:
    control = widgets.Button(description=description, icon=icon,
                             layout=widgets.Layout(width="auto", flex="0 0 auto"))
    control.add_class(css)
    return control


def heading(title: str) -> Any:
    return widgets.HTML(f'<div class="netlab-section-title">{title}</div>')


def show_picture(image: Any, png: bytes | None) -> None:
    """Put ``png`` in an Image widget, or empty and hide it (None)."""
    image.value = png or b""
    image.layout.display = None if png else "none"


def _picture(css: str) -> Any:
    image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto", display="none"))
    image.add_class(css)
    return image


class DeployBar:
    """Backend toggle (with a note when the kernel cannot run), Deploy, Tear down, a progress bar and its label."""

    def __init__(self, view: LabView, kernel_reason: str | None) -> None:
        self._view = view
        self.backend = widgets.ToggleButtons(options=list(BACKEND_CHOICES), value="sim",
                                             tooltips=["in memory, no root needed", "real namespaces (root)"],
                                             style={"button_width": "70px"})
        self.backend.add_class("netlab-backend")
        self.backend.observe(self._backend_chosen, names="value")
        self.note = widgets.HTML("" if kernel_reason is None else
                                 f'<span class="netlab-backend-note">kernel backend unavailable: '
                                 f"{_escape(kernel_reason)}</span>")
        self.note.add_class("netlab-backend-note")
        self.deploy = button("Deploy", "netlab-deploy", "play")
        self.deploy.on_click(lambda _b: view.deploy())
        self.teardown = button("Tear down", "netlab-teardown", "stop")
        self.teardown.on_click(lambda _b: view.teardown())
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="160px"))
        self.progress.add_class("netlab-progress")
        self.label = widgets.HTML()
        self.label.add_class("netlab-progress-label")
        self.box = widgets.VBox([
            widgets.HBox([self.backend, self.deploy, self.teardown, self.progress, self.label],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
            self.note])

    def _backend_chosen(self, change: dict[str, Any]) -> None:
        if not self._view.syncing:
            self._view.set_backend(str(change["new"]))

    def report(self, done: int, total: int, what: str) -> None:
        """The controller's progress callback: ``done`` of ``total`` steps, ``what`` was just done."""
        self.progress.max = max(total, 1)
        self.progress.value = min(done, self.progress.max)
        self.label.value = f"{done}/{total} steps: {_escape(what)}"

    def start(self, what: str) -> None:
        self.progress.bar_style = "info"
        self.progress.value = 0
        self.label.value = _escape(what)

    def finish(self, ok: bool) -> None:
        self.progress.bar_style = "success" if ok else "danger"
        if ok:
            self.progress.value = self.progress.max


class ReachPanel:
    """A Recompute button and the heatmap (observed against the model's expectation)."""

    def __init__(self, view: LabView) -> None:
        self.recompute = button("Recompute", "netlab-recompute", "refresh")
        self.recompute.on_click(lambda _b: view.matrix())
        self.heatmap = _picture("netlab-heatmap")
        self.summary = widgets.HTML()
        self.summary.add_class("netlab-heatmap-summary")
        self.box = widgets.VBox([heading("Reachability"), widgets.HBox([self.recompute, self.summary]),
                                 self.heatmap])

    def show(self, result: MatrixResult, title: str) -> None:
        """The heatmap of ``result`` (container x container) and a one-line summary."""
        labels, observed, expected = result.by_sandbox()
        try:
            png: bytes | None = figure_png(plot_matrix(labels, observed, expected, title=title), PICTURE_DPI)
        except NotSupportedError as exc:  # no matplotlib: the summary still says it
            log.info("lab view: no heatmap: %s", exc)
            png = None
        show_picture(self.heatmap, png)
        wrong = len(result.disagreements())
        self.summary.value = (f"{len(labels)} containers, {result.pairs} address pairs: "
                              f"{f'{wrong} differ from the model' if wrong else 'all as the model says'}")

    def clear(self) -> None:
        show_picture(self.heatmap, None)
        self.summary.value = ""


class TracePanel:
    """Source, destination (a container, ``internet`` or an address) and port; Trace; the hops and the picture."""

    def __init__(self, view: LabView) -> None:
        narrow = widgets.Layout(width="150px")
        self.src = widgets.Dropdown(options=[], description="from", layout=widgets.Layout(width="200px"))
        self.src.add_class("netlab-trace-src")
        self.dst = widgets.Combobox(options=[], placeholder="container, internet or IP", ensure_option=False,
                                    description="to", layout=widgets.Layout(width="230px"))
        self.dst.add_class("netlab-trace-dst")
        self.port = widgets.Text(placeholder="ping, or 80/tcp, 53/udp", layout=narrow)
        self.port.add_class("netlab-trace-port")
        self.run = button("Trace", "netlab-trace-run", "search")
        self.run.on_click(lambda _b: view.trace(self.src.value or "", self.dst.value, self.port.value))
        self.hops = widgets.HTML('<span class="netlab-empty">deploy the lab, then trace a packet</span>')
        self.hops.add_class("netlab-trace-hops")
        self.picture = _picture("netlab-trace-picture")
        self.box = widgets.VBox([heading("Trace a packet"),
                                 widgets.HBox([self.src, self.dst, self.port, self.run],
                                              layout=widgets.Layout(flex_flow="row wrap")),
                                 self.hops, self.picture])

    def show(self, trace: Trace, topo: Topology) -> None:
        """The trace's hops and verdict, and its path drawn over ``topo``."""
        self.hops.value = trace_html(trace)
        try:
            png: bytes | None = figure_png(plot_trace(topo, trace), PICTURE_DPI)
        except NetlabError as exc:  # no matplotlib, or a model the drawing cannot place
            log.info("lab view: no trace picture: %s", exc)
            png = None
        show_picture(self.picture, png)

    def clear(self) -> None:
        self.hops.value = ""
        show_picture(self.picture, None)

    def offer(self, sandboxes: Sequence[str]) -> None:
        """The lab's containers as sources, and as destinations with ``internet``; keep the choices that remain."""
        keep = self.src.value if self.src.value in sandboxes else (sandboxes[0] if sandboxes else None)
        self.src.options = list(sandboxes)
        self.src.value = keep
        self.dst.options = [*sandboxes, "internet"] if sandboxes else []


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
