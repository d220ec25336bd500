"""Small multiples: one small histogram plot per layer, side by side (Glorot & Bengio's figure)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

STRIP_COLOR = "#0072B2"


class HistogramStrip(pg.GraphicsLayoutWidget):
    """`set_layers(labels)` builds the plots (only when the layer set changes);
    `set_data(...)` updates the curves in place."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels: list[str] = []
        self.plots: list[pg.PlotItem] = []
        self.curves: list[pg.PlotDataItem] = []
        self.setMinimumHeight(150)

    def set_layers(self, labels: list[str]) -> None:
        if labels == self.labels:
            return
        self.clear()
        self.labels = list(labels)
        self.plots, self.curves = [], []
        for i, label in enumerate(labels):
            p = self.addPlot(row=0, col=i)
            p.setTitle(label, size="9pt")
            p.hideAxis("left")
            p.getAxis("bottom").setStyle(tickTextOffset=2)
            p.setMouseEnabled(x=False, y=False)
            c = p.plot(
                stepMode="center", fillLevel=0, pen=pg.mkPen(STRIP_COLOR, width=1), brush=pg.mkBrush(0, 114, 178, 110)
            )
            self.plots.append(p)
            self.curves.append(c)

    def set_data(
        self,
        hists: list[np.ndarray],
        ranges: list[tuple[float, float]],
        titles: list[str] | None = None,
        same_x: bool = False,
    ) -> None:
        """Densities (fractions) per layer; `same_x` gives every plot the union range."""
        finite = [(lo, hi) for lo, hi in ranges if np.isfinite(lo) and np.isfinite(hi) and hi > lo]
        union = (min(r[0] for r in finite), max(r[1] for r in finite)) if finite else (0.0, 1.0)
        for i, c in enumerate(self.curves):
            if i >= len(hists):
                c.setData([], [])
                continue
            h = np.asarray(hists[i], dtype=np.float64)
            lo, hi = ranges[i]
            total = h.sum()
            if total <= 0 or not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
                c.setData([], [])
            else:
                edges = np.linspace(lo, hi, len(h) + 1)
                c.setData(edges, h / total)
            p = self.plots[i]
            if titles is not None and i < len(titles):
                p.setTitle(titles[i], size="9pt")
            if same_x:
                p.setXRange(*union, padding=0.02)
            else:
                p.enableAutoRange(axis="x")
            p.enableAutoRange(axis="y")
