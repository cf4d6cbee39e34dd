"""Editor panels: item lists with add and remove, the problems list, the status line, the CSS.

A :class:`Section` is one kind of item (hosts, networks or containers): a
``Select`` list whose entries read ``name`` or ``name ⚠`` (the item has
problems), an add row, a Remove button and the form of the selected item.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from netlab.drivers import known_drivers
from netlab.errors import NotSupportedError, Problem
from netlab.model import Topology
from netlab.widgets_editor_forms import NO_HOST, Options, set_options

try:
    import ipywidgets as widgets  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - ipywidgets is part of the notebook extra
    raise NotSupportedError("the topology editor needs ipywidgets: pip install 'netlab-cnm[notebook]'") from exc

if TYPE_CHECKING:
    from netlab.widgets_editor import TopologyEditor
    from netlab.widgets_editor_forms import ContainerForm, HostForm, NetworkForm

__all__ = ["FAULT_SIGN", "STYLE", "ContainerAdder", "HostAdder", "NetworkAdder", "Section", "item_label",
           "problems_html", "status_html"]

#: shown after the name of an item with problems, in its list
FAULT_SIGN = "\u26a0"

#: the editor's CSS, shown once in an HTML widget inside the editor
STYLE = """<style>
.netlab-editor .netlab-invalid input, .netlab-editor .netlab-invalid textarea,
.netlab-editor .netlab-invalid select { border: 2px solid #c62828 !important; background: #fdecea !important; }
.netlab-editor .netlab-problem, .netlab-editor .netlab-item-problem {
  color: #8e1b10; font-size: 12px; line-height: 1.35; margin: 1px 0; }
.netlab-editor .netlab-problem code { color: #444; background: #f4f4f4; padding: 0 3px; }
.netlab-editor .netlab-hint { color: #555; font-style: italic; }
.netlab-editor .netlab-no-problems { color: #1b6e20; font-size: 12px; }
.netlab-editor .netlab-status-error { color: #b00020; font-weight: bold; }
.netlab-editor .netlab-status-ok { color: #1b6e20; }
.netlab-editor .netlab-section-title { font-weight: bold; margin-top: 6px; border-bottom: 1px solid #ccc; }
</style>"""


def item_label(name: str, problem_count: int) -> str:
    """The list entry of an item: its name, followed by the fault sign when it has problems."""
    return f"{name} {FAULT_SIGN}" if problem_count else name


def problems_html(problems: Sequence[Problem]) -> str:
    """One ``netlab-problem`` line per problem: path, code and message, then the hint."""
    if not problems:
        return '<div class="netlab-no-problems">&#10003; no problems</div>'
    count = f"<b>{len(problems)} problem{'s' if len(problems) != 1 else ''}</b>"
    lines = []
    for p in problems:
        hint = f' <span class="netlab-hint">hint: {html.escape(p.hint, quote=False)}</span>' if p.hint else ""
        lines.append(f'<div class="netlab-problem" data-path="{html.escape(p.path)}" data-code="{p.code}">'
                     f"&#9888; <code>{html.escape(p.path or '(topology)')}</code> {p.code}: "
                     f"{html.escape(p.message, quote=False)}{hint}</div>")
    return count + "".join(lines)


def status_html(message: str, error: bool) -> str:
    """The status line: the last edit done, or why it was refused."""
    if not message:
        return ""
    css, sign = ("netlab-status-error", "&#10006;") if error else ("netlab-status-ok", "&#10003;")
    return f'<span class="{css}">{sign} {html.escape(message, quote=False)}</span>'


def _button(description: str, css: str, icon: str = "") -> Any:
    button = widgets.Button(description=description, icon=icon, layout=widgets.Layout(width="auto", flex="0 0 auto"))
    button.add_class(css)
    return button


def _name_box(placeholder: str, css: str) -> Any:
    box = widgets.Text(placeholder=placeholder, layout=widgets.Layout(width="140px"))
    box.add_class(css)
    return box


def _row(*children: Any) -> Any:
    """An add row; it wraps when the column is narrow instead of squeezing its button."""
    return widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"))


class Section:
    """One kind of item: the list, its add row, a Remove button and the form of the selected item."""

    def __init__(self, editor: TopologyEditor, kind: str, title: str, adder: Any,
                 form: HostForm | NetworkForm | ContainerForm) -> None:
        self._editor = editor
        self.kind = kind
        self.adder = adder
        self.form = form
        self.select = widgets.Select(options=[], rows=4, layout=widgets.Layout(width="220px"))
        self.select.add_class(f"netlab-{kind}-select")
        self.select.observe(self._selected, names="value")
        self.remove_button = _button("Remove", f"netlab-remove-{kind}", "trash")
        self.remove_button.on_click(self._remove)
        heading = widgets.HTML(f'<div class="netlab-section-title">{html.escape(title)}</div>')
        self.box = widgets.VBox([heading, adder.box, widgets.HBox([self.select, self.remove_button]), form.box])
        self.box.add_class(f"netlab-{kind}s")

    @property
    def selected(self) -> str | None:
        value: str | None = self.select.value
        return value

    def _selected(self, _change: dict[str, Any]) -> None:
        if not self._editor.syncing:
            self._editor.select(self.kind, self.selected)

    def _remove(self, _button: Any) -> None:
        if self.selected is not None:
            self._editor.remove(self.kind, self.selected)

    def refresh(self, names: Sequence[str], faults: Mapping[str, int], selected: str | None) -> None:
        """New list entries (``faults`` counts problems per name); keep ``selected`` if it still exists."""
        options: Options = [(item_label(name, faults.get(name, 0)), name) for name in names]
        set_options(self.select, options, selected if selected in names else None)
        self.remove_button.disabled = self.selected is None


class HostAdder:
    """Name + Add for a new host."""

    def __init__(self, editor: TopologyEditor) -> None:
        self.name = _name_box("new host name", "netlab-new-host-name")
        self.button = _button("Add", "netlab-add-host", "plus")
        self.button.on_click(self._add)
        self._editor = editor
        self.box = _row(self.name, self.button)

    def _add(self, _button: Any) -> None:
        if self._editor.add_host(self.name.value):
            self.name.value = ""

    def refresh(self, topo: Topology) -> None:
        """Nothing here depends on the topology."""


class NetworkAdder:
    """Name, driver and (optional) subnet + Add for a new network."""

    def __init__(self, editor: TopologyEditor) -> None:
        self.name = _name_box("new network name", "netlab-new-network-name")
        self.driver = widgets.Dropdown(options=sorted(known_drivers()), value="bridge",
                                       layout=widgets.Layout(width="110px"))
        self.driver.add_class("netlab-new-network-driver")
        self.subnet = widgets.Text(placeholder="subnet (automatic)", layout=widgets.Layout(width="140px"))
        self.subnet.add_class("netlab-new-network-subnet")
        self.button = _button("Add", "netlab-add-network", "plus")
        self.button.on_click(self._add)
        self._editor = editor
        self.box = _row(self.name, self.driver, self.subnet, self.button)

    def _add(self, _button: Any) -> None:
        if self._editor.add_network(self.name.value, driver=self.driver.value, subnet=self.subnet.value):
            self.name.value = ""
            self.subnet.value = ""

    def refresh(self, topo: Topology) -> None:
        """The driver list is the registry's; nothing here depends on the topology."""


_NO_HOSTS = ("(no hosts yet)", NO_HOST)


class ContainerAdder:
    """Name, host and networks to join + Add for a new container (on the first host unless chosen)."""

    def __init__(self, editor: TopologyEditor) -> None:
        self.name = _name_box("new container name", "netlab-new-container-name")
        self.host = widgets.Dropdown(options=[_NO_HOSTS], layout=widgets.Layout(width="130px"))
        self.host.add_class("netlab-new-container-host")
        self.networks = widgets.SelectMultiple(options=[], rows=3, layout=widgets.Layout(width="130px"),
                                               tooltip="networks to join (ctrl/shift-click for several)")
        self.networks.add_class("netlab-container-networks")
        self.button = _button("Add", "netlab-add-container", "plus")
        self.button.on_click(self._add)
        self._editor = editor
        self.box = _row(self.name, self.host, self.networks, self.button)

    def _add(self, _button: Any) -> None:
        if self._editor.add_container(self.name.value, host=self.host.value or None,
                                      networks=list(self.networks.value)):
            self.name.value = ""
            self.networks.value = ()

    def refresh(self, topo: Topology) -> None:
        """Offer the topology's hosts (the first by default) and networks; keep what was chosen if it still exists."""
        hosts = [h.name for h in topo.hosts]
        if not hosts:
            set_options(self.host, [_NO_HOSTS], NO_HOST)
        else:
            set_options(self.host, [(name, name) for name in hosts], self.host.value if self.host.value in hosts
                        else hosts[0])
        names = [n.name for n in topo.networks]
        chosen = tuple(name for name in self.networks.value if name in names)
        if tuple(self.networks.options) != tuple(names):
            self.networks.options = names
        self.networks.value = chosen
