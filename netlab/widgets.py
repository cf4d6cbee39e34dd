"""Widgets: netlab in Jupyter (ipywidgets). ``from netlab.widgets import TopologyEditor``.

* :class:`TopologyEditor` edits a Topology with live problems and a live drawing
  (:mod:`netlab.widgets_editor`, which lists the CSS classes browser tests use).

Needs the ``notebook`` extra: ``pip install 'netlab-cnm[notebook]'``.
"""

from __future__ import annotations

from netlab.widgets_editor import TopologyEditor

__all__ = ["TopologyEditor"]
