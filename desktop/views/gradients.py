"""Gradient norm per layer over time (vanishing/exploding gradients at a glance), or the
weights' own norm (how weight decay and the learning rate shape their scale), the
update-to-weight ratio per layer, and PReLU's learned slopes."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.plotting import color, style_plot
from desktop.views.log_axis import log_plot
from desktop.views.probe_view import ProbeView

SOURCES = {
    "grad": "weight gradients ‖∂L/∂W‖",
    "agrad": "back-propagated gradients ‖∂L/∂a‖",
    "weight": "weights ‖W‖",
}


class GradientNormsView(ProbeView):
    title = "Gradients"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.source = QComboBox()
        for k, v in SOURCES.items():
            self.source.addItem(v, k)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Norm of"))
        bar.addWidget(self.source)
        bar.addStretch(1)
        self.glw = pg.GraphicsLayoutWidget()
        self.p_norm = log_plot(self.glw, row=0, col=0)
        self.p_ratio = log_plot(self.glw, row=1, col=0)
        self.p_slope = self.glw.addPlot(row=2, col=0)
        style_plot(self.p_norm, self._norm_title(), "step", "L2 norm")
        style_plot(self.p_ratio, "Update-to-weight ratio ‖ΔW‖/‖W‖ per layer (≈1e-3 is healthy)", "step", "ratio")
        style_plot(self.p_slope, "PReLU learned negative slope α per layer", "step", "α")
        for p in (self.p_norm, self.p_ratio):
            p.getAxis("left").setWidth(56)
            p.getAxis("left").enableAutoSIPrefix(False)
            p.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.p_slope.getAxis("left").setWidth(56)
        self.p_ratio.setXLink(self.p_norm)
        self.p_slope.setXLink(self.p_norm)
        self.ref = pg.InfiniteLine(pos=-3, angle=0, pen=pg.mkPen("#888", style=Qt.DashLine))  # log10(1e-3)
        self.p_ratio.addItem(self.ref, ignoreBounds=True)
        self.p_slope.setVisible(False)
        self.c_norm: list[pg.PlotDataItem] = []
        self.c_ratio: list[pg.PlotDataItem] = []
        self.c_slope: list[pg.PlotDataItem] = []
        self._labels: tuple = ()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.glw, 1)
        self.source.currentIndexChanged.connect(self._on_source_changed)

    def _on_source_changed(self, _index: int) -> None:
        self.p_norm.setTitle(self._norm_title())
        self.redraw(rebuild=True)

    def _norm_title(self) -> str:
        what = SOURCES[self.source.currentData()]
        return f"{what[0].upper()}{what[1:]} per layer (log scale)"

    def reset_view(self) -> None:
        self.redraw(rebuild=True)

    def _rebuild(self, src: str) -> None:
        """(Re)create the curves when the layer set changes (never per frame)."""
        for p, curves in ((self.p_norm, self.c_norm), (self.p_ratio, self.c_ratio), (self.p_slope, self.c_slope)):
            for c in curves:
                p.removeItem(c)
            curves.clear()
            if p.legend is not None:
                p.legend.clear()
        for i, lab in enumerate(self.store.labels(src)):
            self.c_norm.append(
                self.p_norm.plot(
                    pen=pg.mkPen(color(i), width=2),
                    name=lab,
                    symbol="o",
                    symbolSize=4,
                    symbolBrush=color(i),
                    symbolPen=None,
                )
            )
        for i, lab in enumerate(self.store.labels("weight")):
            self.c_ratio.append(self.p_ratio.plot(pen=pg.mkPen(color(i), width=2), name=lab))
        kinds = self.store.kinds("act")
        for i, lab in enumerate(self.store.labels("act")):
            if kinds[i] == "prelu":
                self.c_slope.append(self.p_slope.plot(pen=pg.mkPen(color(i), width=2), name=lab))
        self.p_slope.setVisible(bool(self.c_slope))
        self._labels = (src, tuple(self.store.labels(src)), tuple(self.store.labels("weight")), tuple(kinds))

    def redraw(self, rebuild: bool = False) -> None:
        self._mark_drawn()
        src = self.source.currentData()
        key = (src, tuple(self.store.labels(src)), tuple(self.store.labels("weight")), tuple(self.store.kinds("act")))
        if rebuild or key != self._labels:
            self._rebuild(src)
        if not len(self.store):
            return
        steps = np.asarray(self.store.steps, dtype=float)
        norm = self.store.stat(src, "norm")
        for i, c in enumerate(self.c_norm):
            y = norm[:, i]
            ok = np.isfinite(y) & (y > 0)
            c.setData(steps[ok], y[ok])
        ratio = self.store.stat("update_ratio", "")
        for i, c in enumerate(self.c_ratio):
            y = ratio[:, i] if ratio.ndim == 2 and i < ratio.shape[1] else np.zeros(0)
            ok = np.isfinite(y) & (y > 0)
            c.setData(steps[ok], y[ok])
        if self.c_slope:
            slope = self.store.stat("prelu_slope", "")
            idx = [i for i, k in enumerate(self.store.kinds("act")) if k == "prelu"]
            for c, i in zip(self.c_slope, idx):
                c.setData(steps, slope[:, i])
