"""Finding widgets by the CSS classes netlab gives them (the same hooks the browser test uses)."""

from __future__ import annotations

from typing import Any


def by_class(root: Any, css: str) -> list[Any]:
    """Every widget under ``root`` (depth first, in order) that carries the CSS class ``css``."""
    found, stack = [], [root]
    while stack:
        widget = stack.pop()
        if css in getattr(widget, "_dom_classes", ()):
            found.append(widget)
        stack.extend(reversed(getattr(widget, "children", ())))
    return found


def one(front: Any, css: str) -> Any:
    """The single widget of ``front`` (an editor or a lab view) with class ``css``."""
    found = by_class(front.widget, css)
    assert len(found) == 1, f"{len(found)} widgets with class {css}"
    return found[0]
