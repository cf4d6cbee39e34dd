"""LabView: deploy a lab from a notebook, see its state and reachability, trace packets through it.

``LabView(topology_or_path, backend="sim", name=None)`` shows (display it, or leave
it bare at the end of a cell):

* a backend toggle, ``sim`` (in memory, no root) or ``kernel`` (real namespaces; the
  toggle is disabled, with a note saying why, when this process is not root or the
  kernel backend cannot run), **Deploy** and **Tear down** buttons with a progress bar
  fed by the controller's progress callback, and a status line;
* the lab's status (:meth:`netlab.controller.Controller.status`: hosts, networks,
  containers with namespaces, addresses and state) as HTML tables;
* the reachability heatmap (:func:`netlab.drawing_reach.plot_matrix`): what every
  container reaches (:meth:`netlab.Lab.matrix`: the packet walker on the simulator,
  real pings on the kernel) against what the model implies; **Recompute** redoes it;
* a trace explorer: a source container, a destination (a container, ``internet`` or
  any IPv4 address typed in), a port (empty: ping; ``80/tcp``, ``53/udp``); **Trace**
  shows the hops (namespace, device, action), the verdict, the object and nft rule
  that dropped the packet, and the path drawn over the topology
  (:func:`netlab.drawing_reach.plot_trace`).

Every control calls the Python API, which mirrors it: :meth:`LabView.deploy`,
:meth:`LabView.teardown`, :meth:`LabView.matrix`, :meth:`LabView.trace`,
:meth:`LabView.set_backend`, :meth:`LabView.close`, :attr:`LabView.widget`. A failure
(a bad port, an unknown name, an invalid scenario, a deploy the kernel refuses) is
shown in the status line and returned as ``False`` / ``None``; it is never raised
into the notebook.

The view works on the lab from a thread of its own, so actions from clicks queue
one at a time; ``view.lab`` (or ``view.call(lambda lab: lab.ping("web", "db"))``,
which queues behind them) can be used from a cell.

**Deploy** on a deployed lab applies the difference (``netlab up``): edit the
Topology (e.g. with a :class:`~netlab.widgets_editor.TopologyEditor` on the same
object) or the file, then Deploy again. **A kernel lab stays up until Tear down or**
:meth:`LabView.close` (also after the notebook's kernel stops): its state is in the
store (``state_dir``, default ``$NETLAB_STATE_DIR`` or ``~/.local/state/netlab``), so
``netlab status NAME`` sees it and ``netlab down NAME`` removes it; a new LabView for
the same lab name attaches to it, and its Tear down works too.

Stable CSS classes (for browser tests and styling), set with ``add_class``:

=============================  =============================================================
``netlab-labview``             the root box
``netlab-status``              status line (HTML): ``.netlab-status-ok`` / ``.netlab-status-error``
``netlab-backend``             backend toggle (ToggleButtons: ``sim``, ``kernel``)
``netlab-backend-note``        why the kernel backend is unavailable (HTML; empty when it is)
``netlab-deploy``              Deploy (Button); ``netlab-teardown``: Tear down (Button)
``netlab-progress``            progress of a deploy or teardown (IntProgress);
                               ``netlab-progress-label`` says which step (HTML)
``netlab-lab-status``          the lab's status tables (HTML; :func:`netlab.reprs.lab_status_html`)
``netlab-recompute``           Recompute the heatmap (Button); ``netlab-heatmap-summary`` (HTML)
``netlab-heatmap``             the reachability heatmap (Image, PNG; hidden when there is none)
``netlab-trace-src``           source container (Dropdown)
``netlab-trace-dst``           destination (Combobox: the containers and ``internet``, or any text)
``netlab-trace-port``          port (Text: empty for ping, ``80/tcp``, ``53/udp``)
``netlab-trace-run``           Trace (Button)
``netlab-trace-hops``          the trace (HTML; :func:`netlab.reprs.trace_html`: ``.netlab-hop`` rows,
                               ``.netlab-drop`` with ``.netlab-drop-obj`` and ``.netlab-drop-rule``,
                               ``.netlab-verdict``)
``netlab-trace-picture``       the path over the topology (Image, PNG)
=============================  =============================================================

::

    view = LabView("scenarios/icc-off.yaml")          # the simulator; backend="kernel" as root
    view.deploy()
    view.trace("worker", "web").ok                    # False: ICC is off on 'quiet'
    view.trace("peer1", "peer2", "53/udp").ok         # True
    view.close()                                      # tears the lab down
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from netlab.errors import NetlabError, NotSupportedError
from netlab.labapi import Lab
from netlab.model import Topology
from netlab.reprs import lab_status_html, trace_verdict
from netlab.widgets_editor_panels import status_html
from netlab.widgets_front import WidgetFront
from netlab.widgets_lab_panels import STYLE, DeployBar, ReachPanel, TracePanel, heading
from netlab.widgets_lab_session import LabSession, kernel_unavailable

try:
    import ipywidgets as widgets  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - ipywidgets is part of the notebook extra
    raise NotSupportedError("the lab view needs ipywidgets: pip install 'netlab-cnm[notebook]'") from exc

if TYPE_CHECKING:
    from netlab.backends.walk import Trace
    from netlab.harness_matrix import MatrixResult

__all__ = ["LabView"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_NOT_DEPLOYED = '<span class="netlab-empty">not deployed</span>'
_PING_WORDS = ("", "ping", "icmp")


class LabView(WidgetFront):
    """Deploy, inspect and trace a lab in a notebook (see the module docstring).

    Parameters
    ----------
    topology_or_path : Topology, str or Path
        The model: a Topology or a scenario file, read again at every Deploy (so edits are applied).
    backend : str
        ``sim`` (default) or ``kernel``; ``kernel`` where it cannot run leaves ``sim``
        chosen and says why in the status line.
    name : str, optional
        The lab's name (default: the topology's).
    state_dir : str or Path, optional
        Where the lab's state is kept (default: the CLI's).
    """

    def __init__(self, topology_or_path: Topology | str | Path, backend: str = "sim", name: str | None = None,
                 state_dir: str | Path | None = None) -> None:
        self._session = LabSession(topology_or_path, name, state_dir, kernel_unavailable())
        self._matrix: MatrixResult | None = None
        self._trace: Trace | None = None
        self._status = ""
        self._error = False
        self._busy = False
        self._closed = False
        self._bar = DeployBar(self, self._session.kernel_reason)
        self._reach = ReachPanel(self)
        self._tracer = TracePanel(self)
        self._status_line = widgets.HTML()
        self._status_line.add_class("netlab-status")
        self._lab_status = widgets.HTML(_NOT_DEPLOYED)
        self._lab_status.add_class("netlab-lab-status")
        panels = widgets.HBox([widgets.VBox([self._reach.box], layout=widgets.Layout(width="40%")),
                               widgets.VBox([self._tracer.box], layout=widgets.Layout(width="60%"))])
        self._root = widgets.VBox([widgets.HTML(STYLE), self._status_line, self._bar.box,
                                   heading("Lab"), self._lab_status, panels])
        self._root.add_class("netlab-labview")
        try:
            self._session.choose(backend)
        except NetlabError as exc:
            self._fail(f"{exc}; using the simulated backend")
        self._attach()
        self._render()

    # -- state -------------------------------------------------------------------------------
    @property
    def lab(self) -> Lab | None:
        """The handle on the deployed lab (None when it is not deployed); use it through :meth:`call`."""
        return self._session.lab

    def call(self, work: Callable[[Lab], T]) -> T:
        """``work(lab)`` on the view's own thread, where its lab handle lives; its result, or its exception
        (``NotFoundError`` when the lab is not deployed). E.g. ``view.call(lambda lab: lab.ping("a", "b"))``."""
        return self._session.call(work)

    @property
    def name(self) -> str:
        """The lab's name."""
        return self._session.name

    @property
    def backend(self) -> str:
        """The chosen backend: ``sim`` or ``kernel``."""
        return self._session.backend

    @property
    def kernel_unavailable(self) -> str | None:
        """Why the kernel backend cannot run here (None: it can)."""
        return self._session.kernel_reason

    @property
    def last_matrix(self) -> MatrixResult | None:
        """The reachability last computed (None before the first, and after a teardown)."""
        return self._matrix

    @property
    def last_trace(self) -> Trace | None:
        return self._trace

    # -- actions -----------------------------------------------------------------------------
    def set_backend(self, backend: str) -> bool:
        """Choose the backend of the next deploy; refused while a lab is deployed or where the kernel cannot run."""
        try:
            self._session.choose(backend)
        except NetlabError as exc:
            self._render_controls()  # the toggle goes back
            return self._fail(str(exc))
        note = " (real namespaces: the lab stays up until Tear down or close())" if backend == "kernel" else ""
        self._set_status(f"backend: {backend}{note}", error=False)
        return True

    def deploy(self) -> bool:
        """Deploy the lab, or apply the model's changes to it when it is deployed; then redo status and heatmap."""
        if self._refused("deploy"):
            return False
        self._bar.start(f"deploying on the {self.backend} backend")
        self._forget_results()
        try:
            with self._working():
                self._session.deploy(self._bar.report)
                containers, namespaces = self.call(lambda lab: (len(lab.view.sandboxes), len(lab.namespaces())))
        except Exception as exc:  # whatever failed: a status line, not a traceback
            self._bar.finish(ok=False)
            self._render()
            return self._fail(f"cannot deploy lab {self.name!r}: {_reason(exc)}")
        self._bar.finish(ok=True)
        stays = f"; it stays up until Tear down, close() or `netlab down {self.name}`" if self.backend == "kernel" \
            else ""
        self._set_status(f"deployed lab {self.name!r} on the {self.backend} backend: {containers} containers, "
                         f"{namespaces} namespaces{stays}", error=False)
        try:
            self._recompute()
        except Exception as exc:  # as above
            self._set_status(f"{self._status}; reachability not computed: {_reason(exc)}", error=True)
        self._render()
        return True

    def teardown(self) -> bool:
        """Take the lab down (every namespace it has); forget its heatmap and trace."""
        if self._refused("tear down"):
            return False
        name = self.name
        self._bar.start(f"tearing down {name}")
        try:
            with self._working():
                removed = self._session.teardown(self._bar.report)
        except Exception as exc:  # as in deploy
            self._bar.finish(ok=False)
            self._render()
            again = f" (retry, or `netlab down {name}`)" if self.lab is not None else ""
            return self._fail(f"cannot tear down lab {name!r}: {_reason(exc)}{again}")
        self._bar.finish(ok=True)
        self._forget_results()
        self._set_status(f"lab {name!r} torn down: {len(removed)} namespaces removed", error=False)
        self._render()
        return True

    def matrix(self) -> MatrixResult | None:
        """Recompute the heatmap: observed reachability against the model's (None when it cannot be had)."""
        if self._refused("compute reachability"):
            return None
        if self.lab is None:
            self._fail("cannot compute reachability: deploy the lab first")
            return None
        try:
            with self._working():
                result = self._recompute()
        except Exception as exc:  # as in deploy
            self._fail(f"cannot compute reachability: {_reason(exc)}")
            return None
        wrong = len(result.disagreements())
        self._set_status(f"reachability recomputed: {result.pairs} address pairs, {wrong} differ from the model",
                         error=False)
        self._render()
        return result

    def trace(self, src: str, dst: str, port: str | None = None) -> Trace | None:
        """Trace a packet from container ``src`` to ``dst`` (a container, alias, ``internet`` or IPv4 address),
        ICMP (``port`` empty, ``ping`` or ``icmp``) or ``port`` (``"80/tcp"``, ``"53/udp"``); show hops and path."""
        src, dst, port_text = (src or "").strip(), (dst or "").strip(), (port or "").strip()
        self._show_query(src, dst, port_text)
        if self._refused("trace"):
            return None
        if self.lab is None:
            self._fail("cannot trace: deploy the lab first")
            return None
        if not src or not dst:
            self._fail("cannot trace: choose a source container and a destination (a container, internet or an "
                       "IPv4 address)")
            return None
        what = f"{src} -> {dst} ({port_text or 'ping'})"
        port_asked = None if port_text.lower() in _PING_WORDS else port_text
        try:
            found, topo = self.call(lambda lab: (lab.trace(src, dst, port_asked), lab.topology))
        except Exception as exc:  # as in deploy
            self._fail(f"cannot trace {what}: {_reason(exc)}")
            return None
        self._trace = found
        self._tracer.show(found, topo)
        self._set_status(f"traced {what}: {trace_verdict(found)}", error=False)
        return found

    def close(self) -> bool:
        """Tear the lab down (if deployed) and retire the view; ``False`` if the teardown failed (status says why)."""
        if self._closed:
            return True
        if self.lab is not None and not self.teardown():
            log.warning("lab view: lab %s is still deployed after close(): %s", self.name, self._status)
            return False
        self._closed = True
        self._session.shutdown()
        self._set_status("closed", error=False)
        self._render()
        return True

    def __enter__(self) -> LabView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------------
    def _attach(self) -> None:
        """A lab deployed earlier under this name (a kept kernel lab, a notebook cell run again): take it over."""
        try:
            lab = self._session.attach()
        except NetlabError as exc:
            self._fail(f"lab {self.name!r} is deployed but cannot be opened here: {exc}")
            return
        if lab is not None:
            self._set_status(f"lab {lab.name!r} was deployed already (on the {self.backend} backend): Deploy "
                             "applies changes to it, Tear down removes it", error=False)

    def _refused(self, what: str) -> bool:
        if self._closed:
            self._fail(f"cannot {what}: this view is closed")
        elif self._busy:
            self._fail(f"cannot {what}: busy")
        return self._closed or self._busy

    def _recompute(self) -> MatrixResult:
        result = self.call(lambda lab: lab.matrix())
        self._matrix = result
        self._reach.show(result, self.name)
        return result

    def _forget_results(self) -> None:
        self._matrix = None
        self._trace = None
        self._reach.clear()
        self._tracer.clear()

    def _show_query(self, src: str, dst: str, port: str) -> None:
        """Show a trace asked through the Python API in the explorer's fields."""
        with self._quiet():
            if src in self._tracer.src.options:
                self._tracer.src.value = src
            self._tracer.dst.value = dst
            self._tracer.port.value = port

    def _render(self) -> None:
        """Controls, the status tables and the explorer's choices as the lab is now."""
        self._render_controls()
        try:
            sandboxes, status = self.call(lambda lab: (lab.view.sandboxes, lab.controller.status()))
        except NetlabError as exc:
            sandboxes, shown = [], _NOT_DEPLOYED if self.lab is None else status_html(f"no status: {exc}", True)
        else:
            shown = lab_status_html(status)
        with self._quiet():
            self._tracer.offer(sandboxes)
        self._lab_status.value = shown

    def _render_controls(self) -> None:
        """Every control enabled or disabled as the state allows."""
        deployed, idle = self.lab is not None, not self._busy and not self._closed
        with self._quiet():
            self._bar.backend.value = self.backend
            self._bar.backend.disabled = not idle or deployed or self.kernel_unavailable is not None
            self._bar.deploy.disabled = not idle
            for control in (self._bar.teardown, self._reach.recompute, self._tracer.run):
                control.disabled = not (idle and deployed)

    @contextmanager
    def _working(self) -> Iterator[None]:
        """Every control disabled meanwhile (the busy indicator, with the progress bar)."""
        self._busy = True
        self._render_controls()
        try:
            yield
        finally:
            self._busy = False
            self._render_controls()

    def _fail(self, message: str) -> bool:
        log.info("lab view: %s", message)
        self._set_status(message, error=True)
        return False

    # -- display -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        state = f"deployed on {self.backend}" if self.lab is not None else "not deployed"
        return f"<LabView of lab {self.name!r}: {state}>"


def _reason(exc: Exception) -> str:
    """A failure in words: netlab's errors say it all; anything else is unexpected and logged with its traceback."""
    if isinstance(exc, NetlabError):
        return str(exc)
    log.error("lab view: unexpected failure", exc_info=exc)
    return f"unexpected {type(exc).__name__}: {exc} (see the log)"
