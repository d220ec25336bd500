"""Per-layer histograms over time, in TensorBoard's two modes: offset ridgelines, and a
heat map (step × value, colour = density)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.views.probe_store import GROUP_TITLES, rebin
from desktop.views.probe_view import ProbeView
from engine.probes.snapshot import GROUPS

MAX_RIDGES = 24  # ridgelines drawn at most (evenly spread over the run)
HEAT_BINS = 80


class HistogramsView(ProbeView):
    """One layer of one quantity (activations, gradients, weights) over the whole run."""

    title = "Histograms"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.group = QComboBox()
        for g in GROUPS:
            self.group.addItem(GROUP_TITLES[g], g)
        self.layer = QComboBox()
        self.mode = QComboBox()
        self.mode.addItems(["Ridgelines (offset)", "Heat map (step × value)"])
        self.info = QLabel(" ")
        bar = QHBoxLayout()
        for w in (QLabel("Quantity"), self.group, QLabel("Layer"), self.layer, QLabel("Mode"), self.mode):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.info)
        self.glw = pg.GraphicsLayoutWidget()
        self.plot = self.glw.addPlot()
        self.plot.getAxis("left").setWidth(56)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        # Ridgelines: a fixed pool of filled curves, updated in place.
        self.ridges = []
        for _ in range(MAX_RIDGES):
            # Opaque fills: a newer ridge (lower, in front) hides the older ones behind it.
            c = pg.PlotDataItem(pen=pg.mkPen("#7fc3ff", width=1.5), fillLevel=0.0, brush=pg.mkBrush(16, 40, 72, 255))
            c.setVisible(False)
            self.plot.addItem(c)
            self.ridges.append(c)
        self.image = pg.ImageItem()
        self.image.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        self.image.setVisible(False)
        self.plot.addItem(self.image)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.glw, 1)
        self.group.currentIndexChanged.connect(self._on_group_changed)
        self.layer.currentIndexChanged.connect(self._on_layer_changed)
        self.mode.currentIndexChanged.connect(self._on_layer_changed)
        self._fill_layers()

    # -- data ------------------------------------------------------------------------------
    def reset_view(self) -> None:
        self._fill_layers()
        self.redraw()

    def on_first_probe(self) -> None:
        self._fill_layers()

    # -- controls ----------------------------------------------------------------------------
    def _fill_layers(self) -> None:
        g = self.group.currentData()
        keep = self.layer.currentIndex()
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.addItems(self.store.labels(g))
        self.layer.setCurrentIndex(max(0, min(keep, self.layer.count() - 1)))
        self.layer.blockSignals(False)

    def _on_group_changed(self, _i: int) -> None:
        self._fill_layers()
        self.redraw()

    def _on_layer_changed(self, _i: int) -> None:
        self.redraw()

    # -- drawing -------------------------------------------------------------------------------
    def redraw(self) -> None:
        self._mark_drawn()
        g, li = self.group.currentData(), self.layer.currentIndex()
        n = len(self.store)
        valid = [
            i
            for i in range(n)
            if 0 <= li < len(self.store.snaps[i].group(g)) and self.store.snaps[i].group(g).hist[li].sum() > 0
        ]
        name = self.layer.currentText() or "—"
        if not valid:
            for c in self.ridges:
                c.setVisible(False)
            self.image.setVisible(False)
            self.plot.setTitle(f"{GROUP_TITLES[g]} — {name}: no probe yet", size="10pt")
            self.info.setText("probes: every K steps on a fixed batch (config: probes.*)")
            return
        if self.mode.currentIndex() == 0:
            self._draw_ridges(g, li, valid)
        else:
            self._draw_heat(g, li, valid)
        last = valid[-1]
        std = self.store.snaps[last].group(g).std[li]
        mean = self.store.snaps[last].group(g).mean[li]
        self.info.setText(f"{len(valid)} probes · step {self.store.steps[last]}: mean {mean:.3g}, std {std:.3g}")

    def _draw_ridges(self, g: str, li: int, valid: list[int]) -> None:
        self.image.setVisible(False)
        pick = (
            valid
            if len(valid) <= MAX_RIDGES
            else [valid[int(round(j))] for j in np.linspace(0, len(valid) - 1, MAX_RIDGES)]
        )
        dens = []
        for i in pick:
            h, lo, hi = self.store.hist(g, i, li)
            dens.append((h / h.sum(), lo, hi))
        top = max(d.max() for d, _, _ in dens) or 1.0
        gap = 0.5 * top  # vertical offset between consecutive probes
        n = len(pick)
        for k, c in enumerate(self.ridges):
            if k >= n:
                c.setVisible(False)
                continue
            d, lo, hi = dens[k]
            centers = lo + (np.arange(len(d)) + 0.5) * (hi - lo) / len(d)
            base = (n - 1 - k) * gap  # the newest probe at the bottom, in front
            c.setData(centers, d + base)
            c.setFillLevel(base)
            t = k / max(1, n - 1)  # older probes dimmer, the newest brightest
            c.setPen(pg.mkPen(pg.mkColor(int(60 + 120 * t), int(110 + 110 * t), int(170 + 85 * t)), width=1.5))
            c.setZValue(k)
            c.setVisible(True)
        left = self.plot.getAxis("left")
        ticks = [((n - 1 - k) * gap, f"{self.store.steps[pick[k]]}") for k in range(0, n, max(1, n // 6))]
        left.setTicks([ticks, []])
        self.plot.setLabel("left", "step (offset)")
        self.plot.setLabel("bottom", "value")
        self.plot.setTitle(
            f"{GROUP_TITLES[g]} — {self.layer.currentText()}: histogram per probe (newest in front)", size="10pt"
        )
        self.plot.enableAutoRange()

    def _draw_heat(self, g: str, li: int, valid: list[int]) -> None:
        for c in self.ridges:
            c.setVisible(False)
        ranges = np.array([self.store.hist(g, i, li)[1:] for i in valid])
        lo, hi = float(np.nanmin(ranges[:, 0])), float(np.nanmax(ranges[:, 1]))
        img = np.zeros((len(valid), HEAT_BINS))
        for r, i in enumerate(valid):
            h, a, b = self.store.hist(g, i, li)
            img[r] = rebin(h, a, b, lo, hi, HEAT_BINS) / max(h.sum(), 1.0)
        img = np.sqrt(img)  # sqrt: the tails stay visible next to a sharp peak
        steps = np.array([self.store.steps[i] for i in valid], dtype=float)
        x0 = steps[0]
        width = max(steps[-1] - steps[0], 1.0)
        dx = width / max(1, len(valid) - 1)
        self.image.setImage(img, autoLevels=False, levels=(0.0, max(float(img.max()), 1e-12)))
        self.image.setRect(QRectF(x0 - dx / 2, lo, width + dx, hi - lo))
        self.image.setVisible(True)
        self.plot.getAxis("left").setTicks(None)
        self.plot.setLabel("left", "value")
        self.plot.setLabel("bottom", "step")
        self.plot.setTitle(
            f"{GROUP_TITLES[g]} — {self.layer.currentText()}: density over time (colour = √fraction of values)",
            size="10pt",
        )
        self.plot.enableAutoRange()
