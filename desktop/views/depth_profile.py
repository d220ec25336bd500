"""The depth profile: activation std and saturation/dead fractions per layer at one probe
step, with every layer's histogram side by side — Glorot & Bengio's figure, live."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from desktop.plotting import style_plot
from desktop.views.histogram_strip import HistogramStrip
from desktop.views.probe_view import ProbeView

NOW, INIT = "#0072B2", "#999999"


class DepthProfileView(ProbeView):
    title = "Depth profile"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.follow = QCheckBox("follow the latest probe")
        self.follow.setChecked(True)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.step_label = QLabel("step —")
        self.same_x = QCheckBox("same value axis")
        self.same_x.setChecked(True)
        self.symmetry = QLabel("")
        self.symmetry.setStyleSheet("color: #b00000; font-weight: bold")
        bar = QHBoxLayout()
        for w in (self.follow, QLabel("probe"), self.slider, self.step_label, self.same_x):
            bar.addWidget(w)
        bar.addStretch(1)
        self.step_label.setMinimumWidth(130)
        self.glw = pg.GraphicsLayoutWidget()
        self.p_std = self.glw.addPlot(row=0, col=0)
        self.p_frac = self.glw.addPlot(row=0, col=1)
        style_plot(self.p_std, "Activation std per layer (grey: at init)", "layer (input → output)", "std")
        style_plot(self.p_frac, "Saturated / dead fraction per layer", "layer (input → output)", "fraction")
        self.p_frac.setYRange(0, 1.02)
        self.p_std.getAxis("left").enableAutoSIPrefix(False)
        self.p_frac.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.c_std = self.p_std.plot(pen=pg.mkPen(NOW, width=2), symbol="o", symbolBrush=NOW, symbolSize=7)
        self.c_std0 = self.p_std.plot(
            pen=pg.mkPen(INIT, width=1, style=Qt.DashLine), symbol="o", symbolBrush=INIT, symbolSize=5
        )
        self.c_sat = self.p_frac.plot(
            pen=pg.mkPen("#D55E00", width=2),
            symbol="s",
            symbolBrush="#D55E00",
            symbolSize=7,
            name="saturated (sigmoid/tanh)",
        )
        self.c_dead = self.p_frac.plot(
            pen=pg.mkPen("#000000", width=2),
            symbol="t",
            symbolBrush="#000000",
            symbolSize=7,
            name="dead units (ReLU family)",
        )
        self.strip = HistogramStrip()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.symmetry)
        lay.addWidget(self.glw, 3)
        lay.addWidget(QLabel("Activation histograms per layer at this probe (fraction of values)"))
        lay.addWidget(self.strip, 2)
        self.slider.valueChanged.connect(self._on_slider_changed)
        self.follow.toggled.connect(self._on_follow_toggled)
        self.same_x.toggled.connect(lambda _on: self.redraw())

    def _on_slider_changed(self, _v: int) -> None:
        if self.slider.value() != self.slider.maximum():
            self.follow.setChecked(False)
        self.redraw(keep_slider=True)

    def _on_follow_toggled(self, on: bool) -> None:
        if on:
            self.redraw()

    @property
    def index(self) -> int:
        return self.slider.value()

    def redraw(self, keep_slider: bool = False) -> None:
        self._mark_drawn()
        n = len(self.store)
        labels = self.store.labels("act")
        self.strip.set_layers(labels)
        if n == 0 or not labels:
            for c in (self.c_std, self.c_std0, self.c_sat, self.c_dead):
                c.setData([], [])
            self.step_label.setText("no probe yet")
            self.symmetry.setText("")
            return
        if not keep_slider:
            self.slider.blockSignals(True)
            self.slider.setRange(0, n - 1)
            if self.follow.isChecked():
                self.slider.setValue(n - 1)
            self.slider.blockSignals(False)
        i = min(self.slider.value(), n - 1)
        x = np.arange(1, len(labels) + 1, dtype=float)
        std = self.store.stat("act", "std")
        self.c_std.setData(x, std[i])
        self.c_std0.setData(x, std[0])
        self.c_sat.setData(x, np.nan_to_num(self.store.stat("act", "saturated")[i], nan=np.nan))
        self.c_dead.setData(x, self.store.stat("act", "dead")[i])
        ticks = [[(k + 1, str(k + 1)) for k in range(len(labels))]]
        self.p_std.getAxis("bottom").setTicks(ticks)
        self.p_frac.getAxis("bottom").setTicks(ticks)
        act = self.store.snaps[i].act
        self.strip.set_data(
            list(act.hist),
            [tuple(r) for r in act.range],
            [f"{lab}  σ={s:.2g}" for lab, s in zip(labels, act.std)],
            self.same_x.isChecked(),
        )
        self.step_label.setText(f"step {self.store.steps[i]}  ({i + 1}/{n})")
        spread = act.unit_spread if act.unit_spread is not None else np.full(len(labels), np.nan)
        from engine.probes.init_study import SYMMETRY_TOL  # torch: loaded by now (probes came)

        sym = [labels[k] for k in range(len(labels)) if np.isfinite(spread[k]) and spread[k] < SYMMETRY_TOL]
        self.symmetry.setText(f"⚠ symmetry: all units identical in {', '.join(sym)}" if sym else "")
