"""Editor forms: the fields of the host, network or container selected in a TopologyEditor.

Each field applies on Enter or when it loses focus (``continuous_update=False``)
through the editor's Python API. A field whose value was refused keeps the text
typed, is marked with the CSS class ``netlab-invalid`` and says why in its
tooltip; a field a validation problem points at is marked the same way, and
the item's problems are listed under its form (``netlab-item-problems``, one
``netlab-item-problem`` element each).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from netlab.drivers import known_drivers
from netlab.errors import NotSupportedError, Problem
from netlab.widgets_editor_edits import format_options

try:
    import ipywidgets as widgets  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - ipywidgets is part of the notebook extra
    raise NotSupportedError("the topology editor needs ipywidgets: pip install 'netlab-cnm[notebook]'") from exc

if TYPE_CHECKING:
    from netlab.widgets_editor import TopologyEditor

__all__ = ["INVALID_CLASS", "ContainerForm", "HostForm", "NetworkForm", "mark", "set_options"]

#: CSS class of a field whose value is refused or at fault
INVALID_CLASS = "netlab-invalid"
NO_HOST = ""
Options = list[tuple[str, str]]


def mark(widget: Any, messages: Sequence[str]) -> None:
    """Mark a field as at fault (class ``netlab-invalid``, messages as tooltip), or clear the mark."""
    if messages:
        widget.add_class(INVALID_CLASS)
        widget.tooltip = "\n".join(messages)
    else:
        widget.remove_class(INVALID_CLASS)
        widget.tooltip = None


def set_options(selection: Any, options: Options, value: str | None) -> None:
    """Give a Dropdown/Select new ``(label, value)`` options (only if they differ) and a value."""
    if tuple(selection.options) != tuple(options):
        selection.options = options
    selection.value = value


def _text(placeholder: str, css: str, **kwargs: Any) -> Any:
    box = widgets.Text(placeholder=placeholder, continuous_update=False, **kwargs)
    box.add_class(css)
    return box


def _problem_lines(problems: Sequence[Problem]) -> str:
    return "".join(f'<div class="netlab-item-problem" data-path="{html.escape(p.path)}">&#9888; '
                   f'{html.escape(p.message, quote=False)}</div>' for p in problems)


class _Form:
    """What every form shares: a title, its fields, the problems of its item, refused values."""

    kind = ""

    def __init__(self, editor: TopologyEditor) -> None:
        self._editor = editor
        self.name: str | None = None
        self.fields: dict[str, Any] = {}
        self._refused: dict[str, str] = {}
        self.title = widgets.HTML()
        self.notes = widgets.HTML()
        self.notes.add_class("netlab-item-problems")
        self.box = widgets.VBox()
        self.box.add_class(f"netlab-{self.kind}-form")

    def _layout(self, *rows: Any) -> None:
        self.box.children = (self.title, *rows, self.notes)

    def show(self, name: str | None, located: Sequence[tuple[str, Problem]]) -> None:
        """Show item ``name`` (``None``: hide the form) with its located problems ``(field, problem)``."""
        if name != self.name:
            self._refused.clear()
            self.name = name
        self.box.layout.display = "none" if name is None else None
        if name is None:
            return
        self.title.value = f"<b>{self.kind} {html.escape(name)}</b>"
        self._fill(name)
        marks: dict[str, list[str]] = {}
        for field, problem in located:
            key = self._field_key(field)
            if key is not None:
                marks.setdefault(key, []).append(problem.message)
        for key, widget in self.fields.items():
            mark(widget, [self._refused[key]] if key in self._refused else marks.get(key, []))
        self.notes.value = _problem_lines([problem for _, problem in located])

    def _set(self, key: str, value: Any) -> None:
        """Show a record's value, unless the field holds a refused value the user still has to fix."""
        if key not in self._refused:
            self.fields[key].value = value

    def _apply(self, key: str, call: Callable[[], bool]) -> None:
        """Run an edit for field ``key``; keep and mark the typed value when it is refused."""
        if self._editor.syncing or self.name is None:
            return
        self._refused.pop(key, None)
        if not call():
            self._refused[key] = self._editor.status
            mark(self.fields[key], [self._editor.status])

    def _watch(self, key: str, edit: Callable[[str, Any], bool]) -> None:
        def changed(change: dict[str, Any]) -> None:
            name = self.name
            if name is not None:
                self._apply(key, partial(edit, name, change["new"]))

        self.fields[key].observe(changed, names="value")

    def _fill(self, name: str) -> None:
        raise NotImplementedError

    def _field_key(self, field: str) -> str | None:
        raise NotImplementedError


class HostForm(_Form):
    """A host's underlay address."""

    kind = "host"

    def __init__(self, editor: TopologyEditor) -> None:
        super().__init__(editor)
        self.fields["underlay_ip"] = _text("automatic", "netlab-underlay-ip", description="underlay IP")
        self._watch("underlay_ip", lambda name, value: editor.set_host(name, underlay_ip=value))
        self._layout(self.fields["underlay_ip"])

    def _fill(self, name: str) -> None:
        self._set("underlay_ip", self._editor.topology.host(name).underlay_ip or "")

    def _field_key(self, field: str) -> str | None:
        return field if field in self.fields else None


class NetworkForm(_Form):
    """A network's driver, host, addressing, MTU, internal flag and driver options."""

    kind = "network"

    def __init__(self, editor: TopologyEditor) -> None:
        super().__init__(editor)
        self.fields["driver"] = widgets.Dropdown(description="driver")
        self.fields["host"] = widgets.Dropdown(description="host")
        self.fields["subnet"] = _text("automatic", "netlab-subnet", description="subnet")
        self.fields["gateway"] = _text("automatic", "netlab-gateway", description="gateway")
        self.fields["ip_range"] = _text("whole subnet", "netlab-ip-range", description="ip_range")
        self.fields["mtu"] = _text("default", "netlab-mtu", description="MTU")
        self.fields["internal"] = widgets.Checkbox(description="internal (no way out)", indent=True)
        self.fields["options"] = widgets.Textarea(placeholder="key=value, one per line", description="options",
                                                  continuous_update=False, rows=3)
        for key in ("driver", "host", "internal", "options"):
            self.fields[key].add_class(f"netlab-{key}")
        for key in self.fields:
            self._watch(key, partial(self._edit, key))
        self._layout(*self.fields.values())

    def _edit(self, key: str, name: str, value: Any) -> bool:
        return self._editor.set_network(name, **{key: value})

    def _fill(self, name: str) -> None:
        topo = self._editor.topology
        net = topo.network(name)
        drivers: Options = [(driver, driver) for driver in sorted(known_drivers())]
        if net.driver not in dict(drivers).values():
            drivers.append((f"{net.driver} (unknown)", net.driver))
        if "driver" not in self._refused:
            set_options(self.fields["driver"], drivers, net.driver)
        hosts: Options = [("(the only host / inferred)", NO_HOST)] + [(h.name, h.name) for h in topo.hosts]
        if "host" not in self._refused:
            set_options(self.fields["host"], hosts, net.host or NO_HOST)
        self._set("subnet", net.subnet or "")
        self._set("gateway", net.gateway or "")
        self._set("ip_range", net.ip_range or "")
        self._set("mtu", "" if net.mtu is None else str(net.mtu))
        self._set("internal", net.internal)
        self._set("options", format_options(net.options))

    def _field_key(self, field: str) -> str | None:
        key = field.split(".", 1)[0]
        return key if key in self.fields else None


class ContainerForm(_Form):
    """A container's host and endpoints: static IP per network, connect and disconnect."""

    kind = "container"

    def __init__(self, editor: TopologyEditor) -> None:
        super().__init__(editor)
        self.fields["host"] = widgets.Dropdown(description="host")
        self.fields["host"].add_class("netlab-container-host")
        self._watch("host", lambda name, value: editor.set_container(name, host=value or None))
        self.endpoints = widgets.VBox()
        self.endpoints.add_class("netlab-endpoints")
        self.connect_to = widgets.Dropdown(description="connect to")
        self.connect_to.add_class("netlab-connect-network")
        self.connect_button = widgets.Button(description="Connect", icon="link")
        self.connect_button.add_class("netlab-connect")
        self.connect_button.on_click(self._connect)
        self._rows_of: tuple[str, tuple[str, ...]] | None = None
        self._layout(self.fields["host"], self.endpoints, widgets.HBox([self.connect_to, self.connect_button]))

    def _connect(self, _button: Any) -> None:
        if self.name is not None and self.connect_to.value:
            self._editor.connect(self.name, self.connect_to.value)

    def _disconnect(self, network: str, _button: Any) -> None:
        if self.name is not None:
            self._editor.disconnect(self.name, network)

    def _rebuild_rows(self, name: str, networks: tuple[str, ...]) -> None:
        """New endpoint rows when the container or its networks changed (old widgets are closed)."""
        if self._rows_of == (name, networks):
            return
        for row in self.endpoints.children:
            for child in row.children:
                child.close()
            row.close()
        for key in [key for key in self.fields if key.startswith("ip:")]:
            del self.fields[key]
            self._refused.pop(key, None)
        rows = []
        for network in networks:
            key = f"ip:{network}"
            self.fields[key] = _text("automatic", "netlab-endpoint-ip", description=network)
            self._watch(key, partial(self._edit_ip, network))
            button = widgets.Button(description="Disconnect", icon="unlink")
            button.add_class("netlab-disconnect")
            button.on_click(partial(self._disconnect, network))
            rows.append(widgets.HBox([self.fields[key], button]))
        self.endpoints.children = rows
        self._rows_of = (name, networks)

    def _edit_ip(self, network: str, name: str, value: Any) -> bool:
        return self._editor.set_endpoint(name, network, ip=value)

    def _fill(self, name: str) -> None:
        topo = self._editor.topology
        record = topo.sandbox(name)
        hosts: Options = [("(the only host)", NO_HOST)] + [(h.name, h.name) for h in topo.hosts]
        if "host" not in self._refused:
            set_options(self.fields["host"], hosts, record.host or NO_HOST)
        endpoints = topo.endpoints_of(name)
        self._rebuild_rows(name, tuple(ep.network for ep in endpoints))
        for ep in endpoints:
            self._set(f"ip:{ep.network}", ep.ip or "")
        joined = {ep.network for ep in endpoints}
        free: Options = [(net.name, net.name) for net in topo.networks if net.name not in joined]
        choice = self.connect_to.value if self.connect_to.value in dict(free).values() else None
        set_options(self.connect_to, free, choice or (free[0][1] if free else None))
        self.connect_button.disabled = not free

    def _field_key(self, field: str) -> str | None:
        if field == "host":
            return "host"
        for key in self.fields:
            network = key[3:]
            if key.startswith("ip:") and (field == f"networks.{network}" or field.startswith(f"networks.{network}.")):
                return key
        return None
