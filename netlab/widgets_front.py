"""What netlab's widgets share: a root box, a status line, and how a notebook shows them.

A front end renders and never raises into the notebook: each action ends in
:meth:`WidgetFront._set_status` with what it did, or why it was refused.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from netlab.widgets_editor_panels import status_html

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["WidgetFront", "figure_png"]


def figure_png(figure: Figure, dpi: int) -> bytes:
    """A matplotlib figure as PNG bytes (for an ``ipywidgets.Image``)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


class WidgetFront:
    """Base of :class:`~netlab.widgets.TopologyEditor` and :class:`~netlab.widgets.LabView`.

    A subclass sets ``_root`` (its ipywidgets box) and ``_status_line`` (an ``HTML`` widget) in ``__init__``.
    """

    _root: Any
    _status_line: Any
    _status: str = ""
    _error: bool = False
    _syncing: int = 0

    @property
    def widget(self) -> Any:
        """The root ipywidgets box."""
        return self._root

    @property
    def status(self) -> str:
        """What the last action did, or why it was refused."""
        return self._status

    @property
    def status_is_error(self) -> bool:
        """Whether :attr:`status` says why the last action was refused."""
        return self._error

    @property
    def syncing(self) -> bool:
        """True while the widget fills its own controls (their change handlers stay quiet)."""
        return self._syncing > 0

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        self._syncing += 1
        try:
            yield
        finally:
            self._syncing -= 1

    def _set_status(self, message: str, error: bool) -> None:
        self._status, self._error = message, error
        self._status_line.value = status_html(message, error)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self._root._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._root)  # type: ignore[no-untyped-call]
