"""TopologyEditor: an ipywidgets editor for a Topology, with live problems and a live drawing.

Show ``TopologyEditor(topo)`` (or a bare ``editor``) in a notebook cell. Every
control calls the editor's Python API (``add_host``, ``add_network``,
``add_container``, ``connect``, ``disconnect``, ``remove``, ``set_network``,
``set_endpoint``, ``set_host``, ``set_container``), which changes the Topology
through its builder only. An edit the builder refuses (a duplicate name, a
network still in use) is shown in the status line, returns ``False`` and leaves
the topology as it was; it is never raised into the notebook. After every
applied edit the problems (:func:`netlab.validation.find_problems`) and the
drawing (:func:`netlab.drawing.draw_topology`, its heading counting the
problems) are redone at once, in the same kernel message (about 0.1 s for a
small lab, so no debounce); the items at fault get a warning sign in their
list and the fields at fault are marked. After changing :attr:`topology`
directly, call :meth:`TopologyEditor.refresh`.

Stable CSS classes (for browser tests and styling), set with ``add_class``:

=============================  =============================================================
``netlab-editor``              the root box
``netlab-status``              status line (HTML): ``.netlab-status-ok`` / ``.netlab-status-error``
``netlab-problems``            problems list (HTML); one ``.netlab-problem`` element per problem,
                               with ``data-path`` and ``data-code``; ``.netlab-no-problems`` when none
``netlab-drawing``             the drawing (Image, PNG)
``netlab-host-select``         list of hosts (Select); entries read ``name`` or ``name ⚠`` (in the
                               browser the blank is a no-break space, U+00A0)
``netlab-network-select``      list of networks (Select), same labels
``netlab-container-select``    list of containers (Select), same labels
``netlab-remove-<kind>``       Remove the selected host / network / container (Button)
``netlab-new-host-name``       new host: name (Text); ``netlab-add-host`` (Button)
``netlab-new-network-name``    new network: name (Text); ``netlab-new-network-driver`` (Dropdown),
                               ``netlab-new-network-subnet`` (Text), ``netlab-add-network`` (Button)
``netlab-new-container-name``  new container: name (Text); ``netlab-new-container-host`` (Dropdown),
                               ``netlab-container-networks`` (SelectMultiple of networks to join),
                               ``netlab-add-container`` (Button)
``netlab-<kind>-form``         the form of the selected item; ``netlab-item-problems`` its problems
                               (one ``.netlab-item-problem`` each)
``netlab-underlay-ip``         host form: underlay IP (Text)
``netlab-driver``              network form: driver (Dropdown); ``netlab-host`` (Dropdown),
                               ``netlab-subnet``, ``netlab-gateway``, ``netlab-ip-range``,
                               ``netlab-mtu`` (Text), ``netlab-internal`` (Checkbox),
                               ``netlab-options`` (Textarea, ``key=value`` lines)
``netlab-container-host``      container form: host (Dropdown); ``netlab-endpoint-ip`` (Text per
                               endpoint, its description is the network), ``netlab-disconnect``
                               (Button per endpoint), ``netlab-connect-network`` (Dropdown) and
                               ``netlab-connect`` (Button)
``netlab-invalid``             on any field whose value was refused or that a problem points at
=============================  =============================================================

Form fields apply on Enter or when they lose focus (``continuous_update=False``);
there is no Apply button. The classes sit on each widget's outer element: in
the browser the input is ``.netlab-subnet input``, the list ``.netlab-network-select
select`` (its options' values are their labels), the button ``.netlab-add-container``.

>>> editor = TopologyEditor()
>>> editor.add_host("h1"), editor.add_network("front", subnet="10.0.1.0/24")
(True, True)
>>> editor.add_container("web", networks=["front"])
True
>>> editor.add_host("h1")
False
>>> editor.status
"cannot add host 'h1': host 'h1' already exists in topology 'lab'"
>>> editor.set_network("front", subnet="10.0.1.5/24"), [p.code for p in editor.problems]
(True, ['bad-subnet'])
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from netlab.drawing import draw_topology
from netlab.errors import InvalidRequestError, NetlabError, NotFoundError, NotSupportedError, Problem
from netlab.model import Topology
from netlab.validation import find_problems
from netlab.widgets_editor_edits import (
    ITEM_KINDS,
    add_container,
    endpoint_changes,
    locate_problem,
    network_changes,
    replace_record,
)
from netlab.widgets_editor_forms import ContainerForm, HostForm, NetworkForm
from netlab.widgets_editor_panels import (
    STYLE,
    ContainerAdder,
    HostAdder,
    NetworkAdder,
    Section,
    problems_html,
)
from netlab.widgets_front import WidgetFront, figure_png

try:
    import ipywidgets as widgets  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - ipywidgets is part of the notebook extra
    raise NotSupportedError("the topology editor needs ipywidgets: pip install 'netlab-cnm[notebook]'") from exc

__all__ = ["DRAWING_DPI", "ChangeCallback", "TopologyEditor"]

log = logging.getLogger(__name__)

ChangeCallback = Callable[["TopologyEditor"], None]
_KIND_ALIASES = {"sandbox": "container"}
#: resolution of the editor's drawing (the picture is scaled down to its column anyway)
DRAWING_DPI = 110


class TopologyEditor(WidgetFront):
    """Edit a :class:`~netlab.model.Topology` in a notebook; problems and drawing follow every edit.

    Parameters
    ----------
    topology : Topology, optional
        The topology to edit in place; a new empty one named ``lab`` by default.

    Every editing method returns ``True`` when the edit was applied and
    ``False`` when it was refused; either way :attr:`status` says what happened.
    """

    def __init__(self, topology: Topology | None = None) -> None:
        self._topo = topology if topology is not None else Topology("lab")
        self._problems: list[Problem] = []
        self._callbacks: list[ChangeCallback] = []
        self._status = ""
        self._error = False
        self._held = 0
        self._pending = False
        self._selection: dict[str, str | None] = dict.fromkeys(ITEM_KINDS)
        self._sections = {
            "host": Section(self, "host", "Hosts", HostAdder(self), HostForm(self)),
            "network": Section(self, "network", "Networks", NetworkAdder(self), NetworkForm(self)),
            "container": Section(self, "container", "Containers", ContainerAdder(self), ContainerForm(self)),
        }
        self._status_line = widgets.HTML()
        self._status_line.add_class("netlab-status")
        self._problem_list = widgets.HTML()
        self._problem_list.add_class("netlab-problems")
        self._drawing = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))
        self._drawing.add_class("netlab-drawing")
        left = widgets.VBox([s.box for s in self._sections.values()], layout=widgets.Layout(width="48%"))
        right = widgets.VBox([self._problem_list, self._drawing], layout=widgets.Layout(width="52%"))
        self._root = widgets.VBox([widgets.HTML(STYLE), self._status_line, widgets.HBox([left, right])])
        self._root.add_class("netlab-editor")
        self.refresh()

    # -- state -----------------------------------------------------------------
    @property
    def topology(self) -> Topology:
        """The live topology (edited in place)."""
        return self._topo

    @property
    def problems(self) -> list[Problem]:
        """The problems of the topology as it is now."""
        return list(self._problems)

    def on_change(self, callback: ChangeCallback) -> None:
        """Call ``callback(editor)`` after every applied edit."""
        self._callbacks.append(callback)

    def selected(self, kind: str) -> str | None:
        """The name selected in the list of ``kind`` (host, network, container), if any."""
        return self._selection[self._kind(kind)]

    def select(self, kind: str, name: str | None) -> bool:
        """Select an item in its list and show its form (``None``: no selection)."""
        kind = self._kind(kind)
        if name is not None and name not in self._names(kind):
            self._set_status(f"cannot select {kind} {name!r}: there is no such {kind}", error=True)
            return False
        self._selection[kind] = name
        with self._quiet():
            self._render_lists()
            self._render_forms()
        return True

    @contextmanager
    def batch(self) -> Iterator[TopologyEditor]:
        """Make several edits, then recompute problems and the drawing once."""
        self._held += 1
        try:
            yield self
        finally:
            self._held -= 1
            if not self._held and self._pending:
                self.refresh()

    # -- edits -----------------------------------------------------------------
    def add_host(self, name: str, underlay_ip: str | None = None) -> bool:
        """Add a host (``underlay_ip`` empty or ``None``: the next free underlay address)."""
        name = name.strip()
        return self._edit(f"add host {name!r}", lambda: self._topo.add_host(
            _named(name, "host"), underlay_ip=_text(underlay_ip)), select=("host", name))

    def set_host(self, name: str, *, underlay_ip: str | None) -> bool:
        """Change a host's underlay address (empty or ``None``: automatic)."""
        return self._edit(f"change host {name!r}", lambda: replace_record(
            self._topo, replace(self._topo.host(name), underlay_ip=_text(underlay_ip))))

    def add_network(self, name: str, driver: str = "bridge", subnet: str | None = None, **fields: Any) -> bool:
        """Add a network; ``fields`` are those of :meth:`set_network` (options as a mapping or lines)."""
        name = name.strip()
        return self._edit(f"add network {name!r}", lambda: self._topo.add_network(
            _named(name, "network"), **network_changes({"driver": driver, "subnet": subnet, **fields})),
            select=("network", name))

    def set_network(self, name: str, /, **fields: Any) -> bool:
        """Change network fields: driver, host, subnet, gateway, ip_range, internal, mtu, options."""
        return self._edit(f"change network {name!r}",
                          lambda: self._topo.update_network(name, **network_changes(fields)))

    def add_container(self, name: str, host: str | None = None, networks: Sequence[str] = ()) -> bool:
        """Add a container on ``host`` (``None``: the only host), connected to ``networks`` in order."""
        name = name.strip()
        return self._edit(f"add container {name!r}", lambda: add_container(
            self._topo, _named(name, "container"), host or None, list(networks)), select=("container", name))

    def set_container(self, name: str, *, host: str | None) -> bool:
        """Move a container to another host (``None``: the only host), keeping its endpoints."""
        return self._edit(f"move container {name!r}", lambda: replace_record(
            self._topo, replace(self._topo.sandbox(name), host=host or None)))

    def connect(self, container: str, network: str, ip: str | None = None) -> bool:
        """Connect a container to a network, with a static ``ip`` or an automatic one."""
        return self._edit(f"connect {container!r} to {network!r}",
                          lambda: self._topo.connect(container, network, ip=_text(ip)))

    def disconnect(self, container: str, network: str) -> bool:
        return self._edit(f"disconnect {container!r} from {network!r}",
                          lambda: self._topo.disconnect(container, network))

    def set_endpoint(self, container: str, network: str, /, **fields: Any) -> bool:
        """Change an endpoint's ``ip``, ``mac`` or ``aliases`` (empty text: automatic)."""
        def change() -> None:
            unknown = sorted(set(fields) - {"ip", "mac", "aliases"})
            if unknown:
                raise InvalidRequestError(f"endpoint field {unknown[0]!r} cannot be edited; "
                                          "editable fields: ip, mac, aliases")
            self._topo.update_endpoint(container, network, **endpoint_changes(given=fields, **fields))
        return self._edit(f"change endpoint of {container!r} on {network!r}", change)

    def remove(self, kind: str, name: str, force: bool = False) -> bool:
        """Remove a host (refused while used), a network (refused while it has endpoints, unless
        ``force``) or a container (with its endpoints)."""
        def delete() -> None:
            removers: dict[str, Callable[[str], None]] = {
                "host": self._topo.remove_host, "container": self._topo.remove_sandbox,
                "network": lambda name: self._topo.remove_network(name, force=force)}
            removers[self._kind(kind)](name)
        return self._edit(f"remove {kind} {name!r}", delete)

    def _edit(self, what: str, action: Callable[[], object], select: tuple[str, str] | None = None) -> bool:
        """Run one edit; on a NetlabError say why in the status and change nothing else."""
        try:
            action()
        except NetlabError as exc:
            log.info("editor: cannot %s: %s", what, exc)
            self._set_status(f"cannot {what}: {exc}", error=True)
            return False
        self._set_status(f"done: {what}", error=False)
        if select is not None:
            self._selection[select[0]] = select[1]
        self.refresh()
        return True

    # -- rendering -------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute problems, lists, forms and drawing, then call the ``on_change`` callbacks.

        The editor does this after each edit; call it after changing :attr:`topology` directly.
        """
        if self._held:
            self._pending = True
            return
        self._pending = False
        self._problems = find_problems(self._topo)
        with self._quiet():
            self._render_lists()
            self._render_forms()
            self._problem_list.value = problems_html(self._problems)
        self._render_drawing()
        for callback in self._callbacks:
            callback(self)

    def _names(self, kind: str) -> list[str]:
        if kind == "host":
            return [host.name for host in self._topo.hosts]
        if kind == "network":
            return [network.name for network in self._topo.networks]
        return [sandbox.name for sandbox in self._topo.sandboxes]

    def _located(self) -> dict[tuple[str, str], list[tuple[str, Problem]]]:
        """Problems by the item they point into, each with the field at fault (``""``: the item)."""
        names = {kind: set(self._names(kind)) for kind in ITEM_KINDS}
        located: dict[tuple[str, str], list[tuple[str, Problem]]] = {}
        for problem in self._problems:
            where = locate_problem(problem.path, names)
            if where is not None:
                located.setdefault(where[:2], []).append((where[2], problem))
        return located

    def _render_lists(self) -> None:
        located = self._located()
        for kind, section in self._sections.items():
            names = self._names(kind)
            if self._selection[kind] not in names:
                self._selection[kind] = None
            faults = {name: len(located.get((kind, name), ())) for name in names}
            section.refresh(names, faults, self._selection[kind])
            section.adder.refresh(self._topo)

    def _render_forms(self) -> None:
        located = self._located()
        for kind, section in self._sections.items():
            name = self._selection[kind]
            section.form.show(name, located.get((kind, name), []) if name is not None else [])

    def _render_drawing(self) -> None:
        png = self.picture()
        self._drawing.value = png or b""
        self._drawing.layout.display = None if png else "none"

    def picture(self) -> bytes | None:
        """The drawing as PNG bytes, its heading counting the problems; ``None`` without matplotlib."""
        count = len(self._problems)
        title = f"{self._topo.name}  ({count} problem{'s' if count != 1 else ''})" if count else self._topo.name
        try:
            figure = draw_topology(self._topo, title=title)
        except NotSupportedError:
            return None
        return figure_png(figure, DRAWING_DPI)

    def _kind(self, kind: str) -> str:
        kind = _KIND_ALIASES.get(kind, kind)
        if kind not in ITEM_KINDS:
            raise NotFoundError(f"unknown kind of item {kind!r}; kinds: {', '.join(ITEM_KINDS)}")
        return kind

    # -- display -----------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<TopologyEditor of {self._topo!r}: {len(self._problems)} problems>"


def _text(value: str | None) -> str | None:
    """Form text -> a value: surrounding blanks dropped, empty text is ``None`` (automatic)."""
    return (value or "").strip() or None


def _named(name: str, kind: str) -> str:
    if not name:
        raise InvalidRequestError(f"give the new {kind} a name")
    return name
