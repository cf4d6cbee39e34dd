"""Widgets: netlab in Jupyter (ipywidgets). ``from netlab.widgets import TopologyEditor``.

* :class:`TopologyEditor` edits a Topology with live problems and a live drawing
  (:mod:`netlab.widgets_editor`, which lists the CSS classes browser tests use).
* :class:`LabView` deploys a lab (simulated or kernel), shows its status and reachability
  heatmap, and traces packets through it (:mod:`netlab.widgets_lab`, same).

Needs the ``notebook`` extra: ``pip install 'netlab-cnm[notebook]'``.
"""

from __future__ import annotations

from netlab.widgets_editor import TopologyEditor
from netlab.widgets_lab import LabView

__all__ = ["LabView", "TopologyEditor"]
