"""Weight norm per layer over the run (log scale): how weight decay and the learning rate
shape the weights' scale, layer by layer."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from desktop.plotting import color, style_plot
from desktop.views.base import View
from desktop.views.log_axis import log_plot
from engine.events import Event
from engine.weightnorm import WeightNormSnapshot, from_record


class WeightNormsView(View):
    title = "Weight norms"
    MIN_REDRAW_S = 0.5

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.run_id = ""
        self.snaps: list[WeightNormSnapshot] = []
        self.glw = pg.GraphicsLayoutWidget()
        self.plot = log_plot(self.glw, row=0, col=0)
        style_plot(self.plot, "Weight norm ‖W‖₂ per layer (log scale; on with probes)", "step", "‖W‖₂")
        self.plot.getAxis("left").setWidth(56)
        self.plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.curves: list[pg.PlotDataItem] = []
        self._layers: tuple[str, ...] = ()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.glw, 1)

    def add(self, snap: WeightNormSnapshot) -> None:
        """One snapshot, live or replayed."""
        self.snaps.append(snap)
        self._dirty = True

    def on_run_started(self, run_id: str, config) -> None:
        self.run_id = run_id
        self.snaps = []
        self.redraw()

    def handle_events(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, WeightNormSnapshot) and e.run_id == self.run_id:
                self.add(e)
        self.redraw_if_due()

    def load_session(self, session) -> None:
        if not session.runs:
            return
        rec = session.runs[0]
        self.snaps, self.run_id = [], ""
        try:
            for s in from_record(rec):
                self.add(s)
        except ValueError as e:  # a malformed file: the rest of the session still shows
            self.snaps = []
            self.controller.notice.emit(f"{rec.name}: the saved weight norms cannot be read: {e}", "error")
        self.redraw()

    def redraw(self) -> None:
        self._mark_drawn()
        layers = self.snaps[0].layers if self.snaps else ()
        if layers != self._layers:  # (re)create the curves only when the layers change
            for c in self.curves:
                self.plot.removeItem(c)
            if self.plot.legend is not None:
                self.plot.legend.clear()
            self.curves = [self.plot.plot(pen=pg.mkPen(color(i), width=2), name=n) for i, n in enumerate(layers)]
            self._layers = layers
        if not self.snaps:
            return
        steps = np.array([s.step for s in self.snaps], dtype=float)
        norms = np.stack([s.norms for s in self.snaps])
        for i, c in enumerate(self.curves):
            y = norms[:, i]
            ok = np.isfinite(y) & (y > 0)
            c.setData(steps[ok], y[ok])
