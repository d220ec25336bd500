"""Two explorers that need no run: the activation functions (f, f′, saturated regions) and
the initialization study (every layer's activations at init, on real data)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.plotting import color, style_plot
from desktop.views.base import View
from desktop.views.histogram_strip import HistogramStrip
from engine.config import ACTIVATIONS, INITS, ExperimentConfig
from engine.data.kinds import EXPLORER_DATASETS

if TYPE_CHECKING:
    from engine.probes.init_study import InitStudy

X_RANGE = 6.0


class ActivationExplorerView(View):
    """f and f′ of sigmoid, tanh, ReLU, leaky ReLU (adjustable slope) and PReLU (its α is
    learned in training), with the saturated regions shaded."""

    title = "Activations"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        from engine.probes.activation_regions import EXPLORER_ACTIVATIONS, saturated_regions, zero_gradient_regions

        super().__init__(controller, parent)
        self.x = np.linspace(-X_RANGE, X_RANGE, 601)
        self.checks: dict[str, QCheckBox] = {}
        bar = QHBoxLayout()
        for name in EXPLORER_ACTIVATIONS:
            cb = QCheckBox(name)
            cb.setChecked(name in ("sigmoid", "tanh", "relu"))
            cb.toggled.connect(self._on_controls_changed)
            self.checks[name] = cb
            bar.addWidget(cb)
        self.slope = QDoubleSpinBox()
        self.slope.setRange(0.0, 1.0)
        self.slope.setSingleStep(0.01)
        self.slope.setDecimals(3)
        self.slope.setValue(0.1)
        self.slope.valueChanged.connect(self._on_controls_changed)
        self.alpha = QDoubleSpinBox()
        self.alpha.setRange(0.0, 1.0)
        self.alpha.setSingleStep(0.05)
        self.alpha.setValue(0.25)
        self.alpha.valueChanged.connect(self._on_controls_changed)
        bar.addSpacing(12)
        bar.addWidget(QLabel("leaky slope"))
        bar.addWidget(self.slope)
        bar.addWidget(QLabel("PReLU α (learned)"))
        bar.addWidget(self.alpha)
        bar.addStretch(1)
        self.glw = pg.GraphicsLayoutWidget()
        self.p_f = self.glw.addPlot(row=0, col=0)
        self.p_df = self.glw.addPlot(row=0, col=1)
        style_plot(self.p_f, "f(x)", "x", "f(x)")
        style_plot(self.p_df, "f′(x): shaded = saturated (output within 1% of a bound, f′ ≈ 0)", "x", "f′(x)")
        self.p_df.setXLink(self.p_f)
        for p in (self.p_f, self.p_df):
            p.addLegend(offset=(10, 10), labelTextSize="8pt")
            p.setXRange(-X_RANGE, X_RANGE, padding=0)
        self.p_f.setYRange(-1.5, 3.0)
        self.p_df.setYRange(-0.05, 1.1)
        self.curves_f: dict[str, pg.PlotDataItem] = {}
        self.curves_df: dict[str, pg.PlotDataItem] = {}
        self.regions: dict[str, list[pg.LinearRegionItem]] = {}
        self.band_keys: dict[str, pg.PlotDataItem] = {}  # the shaded bands' legend entries
        for i, name in enumerate(EXPLORER_ACTIVATIONS):
            pen = pg.mkPen(color(i), width=2, style=Qt.DashLine if name == "prelu" else Qt.SolidLine)
            self.curves_f[name] = self.p_f.plot(pen=pen, name=name)
            self.curves_df[name] = self.p_df.plot(pen=pen, name=name)
            self.regions[name] = []
            c = pg.mkColor(color(i))
            c.setAlpha(45)
            spans = saturated_regions(name) or zero_gradient_regions(name)
            for lo, hi in spans:
                lo, hi = max(lo, -1e3), min(hi, 1e3)
                for p in (self.p_f, self.p_df):
                    r = pg.LinearRegionItem(values=(lo, hi), movable=False, brush=pg.mkBrush(c), pen=pg.mkPen(None))
                    r.setZValue(-10)
                    p.addItem(r, ignoreBounds=True)
                    self.regions[name].append(r)
            if spans:  # overlapping bands blend: the key says whose shade is whose
                key_color = pg.mkColor(color(i))
                key_color.setAlpha(90)
                sample = pg.PlotDataItem([], [], pen=None, fillLevel=0, fillBrush=pg.mkBrush(key_color))
                self.band_keys[name] = sample
                what = "saturated" if saturated_regions(name) else "f′ = 0"
                self.p_df.legend.addItem(sample, f"{name}: {what} (shaded)")
        self.note = QLabel(
            "Sigmoid saturates for |x| > 4.6 and tanh for |x| > 2.3: f′ ≈ 0 there, so gradients vanish. "
            "ReLU's f′ is 0 for x < 0 (shaded): a unit that stays there is dead. Leaky ReLU/PReLU keep "
            "a slope α for x < 0 (PReLU learns α)."
        )
        self.note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.glw, 1)
        lay.addWidget(self.note)
        self._dirty = True  # the curves (torch autograd) are drawn when the view is first shown

    def redraw(self) -> None:
        self._on_controls_changed()

    def _on_controls_changed(self, *_args) -> None:
        self._mark_drawn()
        from engine.probes.activation_curves import activation_curve
        from engine.probes.activation_regions import EXPLORER_ACTIVATIONS, saturated_regions

        for name in EXPLORER_ACTIVATIONS:
            on = self.checks[name].isChecked()
            slope = self.slope.value() if name == "leaky_relu" else self.alpha.value()
            f, df = activation_curve(name, self.x, slope)
            self.curves_f[name].setData(self.x, f)
            self.curves_df[name].setData(self.x, df)
            self.curves_f[name].setVisible(on)
            self.curves_df[name].setVisible(on)
            for r in self.regions[name]:
                r.setVisible(on)
            key = self.band_keys.get(name)
            if key is not None:  # the legend lists the shades shown
                legend = self.p_df.legend
                legend.removeItem(key)
                if on:
                    legend.addItem(key, f"{name}: {'saturated' if saturated_regions(name) else 'f′ = 0'} (shaded)")


class InitExplorerView(View):
    """Pick an init, an activation, a depth and a width: every layer's activation histogram
    at init, before any training, for a batch of real data."""

    title = "Init explorer"
    study_done = Signal(object)  # the InitStudy just shown

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.study: InitStudy | None = None
        self.base: ExperimentConfig | None = None  # the config the network is built from (None: the panel's)
        self.init = QComboBox()
        self.init.addItems(list(INITS))
        self.init.setCurrentText("normal")
        self.activation = QComboBox()
        self.activation.addItems(list(ACTIVATIONS))
        self.activation.setCurrentText("tanh")
        self.depth = QSpinBox()
        self.depth.setRange(1, 12)
        self.depth.setValue(5)
        self.width = QSpinBox()
        self.width.setRange(1, 2048)
        self.width.setValue(256)
        self.std = QDoubleSpinBox()
        self.std.setDecimals(4)
        self.std.setRange(0.0001, 10.0)
        self.std.setSingleStep(0.01)
        self.std.setValue(0.01)
        self.constant = QDoubleSpinBox()
        self.constant.setRange(-10.0, 10.0)
        self.constant.setSingleStep(0.05)
        self.constant.setValue(0.1)
        self.data = QComboBox()
        self.data.addItems(list(EXPLORER_DATASETS))
        self.data.setCurrentText("digits")
        self.run_button = QPushButton("Show at init")
        # two rows: on one the controls needed ~1,240 px, more than the docks leave at 1600 px
        bar, bar2 = QHBoxLayout(), QHBoxLayout()
        for row, label, w in (
            (bar, "init", self.init),
            (bar, "σ / half-width", self.std),
            (bar, "constant", self.constant),
            (bar, "activation", self.activation),
            (bar2, "depth", self.depth),
            (bar2, "width", self.width),
            (bar2, "data", self.data),
        ):
            row.addWidget(QLabel(label))
            row.addWidget(w)
        bar.addStretch(1)
        bar2.addWidget(self.run_button)
        self.same_x = QCheckBox("same x range for all layers")
        self.same_x.setToolTip(
            "Off: each layer's histogram spans its own values (σ in its title), so a collapsed layer "
            "still shows its shape; on: one range for all, to compare spreads at a glance"
        )
        self.same_x.toggled.connect(lambda _on: self._draw_strip())
        bar2.addWidget(self.same_x)
        bar2.addStretch(1)
        self.status = QLabel(
            "Glorot & Bengio (2010): with a small Gaussian the spread collapses layer after layer; "
            "Xavier keeps it about constant."
        )
        self.status.setWordWrap(True)
        self.symmetry = QLabel("")
        self.symmetry.setStyleSheet("color: #b00000; font-weight: bold")
        self.glw = pg.GraphicsLayoutWidget()
        self.p_std = self.glw.addPlot()
        style_plot(self.p_std, "Activation std per layer at init", "layer (input → output)", "std")
        self.p_std.getAxis("left").enableAutoSIPrefix(False)
        self.c_std = self.p_std.plot(pen=pg.mkPen("#0072B2", width=2), symbol="o", symbolBrush="#0072B2")
        self.strip = HistogramStrip()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addLayout(bar2)
        lay.addWidget(self.status)
        lay.addWidget(self.symmetry)
        lay.addWidget(self.glw, 2)
        lay.addWidget(QLabel("Activation histograms per layer at init (fraction of values)"))
        lay.addWidget(self.strip, 3)
        self.run_button.clicked.connect(self._on_run_clicked)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.study is None and not self.job_running:
            self.run_study()

    def settings(self) -> dict:
        return {
            "init": self.init.currentText(),
            "activation": self.activation.currentText(),
            "depth": self.depth.value(),
            "width": self.width.value(),
            "init_std": self.std.value(),
            "init_constant": self.constant.value(),
            "data": self.data.currentText(),
        }

    def _on_run_clicked(self) -> None:
        self.base = None  # the user's own study: built from the panel's config
        self.run_study()

    def show_state(self, state: dict, base: ExperimentConfig | None = None) -> None:
        """Set the controls to `state` (init, activation, depth, width, init_std, init_constant,
        data: a lesson's explorer state) and show the network at init, built from `base`."""
        self.base = base
        self.init.setCurrentText(state["init"])
        self.activation.setCurrentText(state["activation"])
        self.depth.setValue(int(state["depth"]))
        self.width.setValue(int(state["width"]))
        self.std.setValue(float(state["init_std"]))
        self.constant.setValue(float(state["init_constant"]))
        self.data.setCurrentText(state["data"])
        self.jobs.cancel(self.job_key)
        self.run_study()

    def run_study(self) -> None:
        """Build the network and probe it at init off the GUI thread."""
        from engine.lessons.explorer import explorer_config
        from engine.probes.init_study import init_study

        if self.job_running:
            return
        self.run_button.setEnabled(False)
        s = self.settings()
        self.status.setText(f"building a {s['depth']}×{s['width']} {s['activation']} network with {s['init']} init…")
        base = self.base or self.controller.config

        def work() -> InitStudy:
            cfg = explorer_config(base, s["data"], s["init_std"], s["init_constant"])
            return init_study(cfg, s["depth"], s["width"], s["init"], s["activation"])

        self.start_job(work, self._on_study_done, self._on_study_failed)

    def _draw_strip(self) -> None:
        out = self.study
        if out is None:
            return
        s = out.summary
        self.strip.set_layers(out.labels)
        self.strip.set_data(
            list(s.hist),
            [tuple(r) for r in s.range],
            [f"{lab}  σ={v:.2g}" for lab, v in zip(out.labels, s.std)],
            same_x=self.same_x.isChecked(),
        )

    def _on_study_failed(self, message: str) -> None:
        self.run_button.setEnabled(True)
        self.status.setText(f"init study failed: {message}")

    def _on_study_done(self, out: InitStudy) -> None:
        self.run_button.setEnabled(True)
        self.study = out
        s = out.summary
        n = len(out.labels)
        x = np.arange(1, n + 1, dtype=float)
        self.c_std.setData(x, s.std)
        self.p_std.getAxis("bottom").setTicks([[(k + 1, str(k + 1)) for k in range(n)]])
        self._draw_strip()
        ratio = s.std[-1] / s.std[0] if s.std[0] > 0 else math.nan
        sat = np.nan_to_num(s.extra["saturated"], nan=0.0)
        dead = np.nan_to_num(s.extra["dead"], nan=0.0)
        self.status.setText(
            f"{out.n_samples} samples of real data · std of the last layer / first = {ratio:.3g} · "
            f"max saturated {sat.max():.0%} · max dead {dead.max():.0%}"
        )
        sym = [lab for lab, flag in zip(out.labels, out.symmetric) if flag]
        self.symmetry.setText(
            f"⚠ symmetry: all units identical in {', '.join(sym)} — every unit gets the same "
            "gradient and they stay identical"
            if sym
            else ""
        )
        self.study_done.emit(out)
