"""Gradient noise: how far minibatch gradients stray from the full-batch gradient, per layer,
against the batch size (lecture §4: a minibatch gradient is an unbiased but noisy estimate;
its variance falls as 1/B, so small batches take noisier steps).

Left: relative variance E‖g_B − G‖²/‖G‖² per layer (log-log) with the sampling theory's
(1/B)(1 − B/N) through the first point; right: mean cosine between g_B and G. A slider
browses the measurements of the run (at init, every probes.gradient_noise_every steps, at
the end). Measured only when probes.gradient_noise is on."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from desktop.plotting import color, style_plot
from desktop.views.base import View
from desktop.views.log_axis import DecadeLogAxis
from engine.events import Event
from engine.gradnoise.snapshot import GradientNoiseSnapshot, from_record

OFF_TEXT = (
    "Gradient noise is measured only when probes.gradient_noise is on (Inside the network ▸ probes in the "
    "panel, or --set probes.gradient_noise=true): it costs several backward passes per measurement."
)


def _log_axes(*sides: str) -> dict[str, DecadeLogAxis]:
    """Log axes labelled at decades (and 2, 5 when few show), not at every minor tick."""
    axes = {side: DecadeLogAxis(side) for side in sides}
    for a in axes.values():
        a.setStyle(maxTextLevel=0)
    return axes


class GradientNoiseView(View):
    title = "Gradient noise"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.run_id = ""
        self.snaps: list[GradientNoiseSnapshot] = []
        self.info = QLabel(OFF_TEXT)
        self.info.setWordWrap(True)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._on_slider_changed)
        self.follow = True  # the slider follows the newest measurement until the user moves it
        self.step_label = QLabel("no measurement yet")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("measurement"))
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.step_label)
        self.glw = pg.GraphicsLayoutWidget()
        self.p_var = self.glw.addPlot(row=0, col=0, axisItems=_log_axes("left", "bottom"))
        self.p_cos = self.glw.addPlot(row=0, col=1, axisItems=_log_axes("bottom"))
        style_plot(self.p_var, "Relative variance E‖g_B − G‖² / ‖G‖² (log-log)", "batch size B", "relative variance")
        style_plot(self.p_cos, "Cosine between minibatch and full-batch gradient", "batch size B", "mean cos(g_B, G)")
        self.p_var.setLogMode(x=True, y=True)
        self.p_cos.setLogMode(x=True, y=False)
        self.p_cos.setYRange(-0.05, 1.05, padding=0)
        for p in (self.p_var, self.p_cos):
            p.getAxis("left").setWidth(56)
            p.getAxis("left").enableAutoSIPrefix(False)
        self.p_var.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.p_cos.addLegend(offset=(-10, -10), labelTextSize="8pt")
        self.c_theory = self.p_var.plot(pen=pg.mkPen("#888", width=1.5, style=Qt.DashLine), name="∝ (1/B)(1 − B/N)")
        self.c_var: list[pg.PlotDataItem] = []
        self.c_cos: list[pg.PlotDataItem] = []
        self._layers: tuple[str, ...] = ()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.info)
        lay.addLayout(bar)
        lay.addWidget(self.glw, 1)

    # -- events ---------------------------------------------------------------------------
    def on_run_started(self, run_id: str, config) -> None:
        self.run_id = run_id
        self.snaps = []
        self.follow = True
        self.info.setText(f"{run_id}: waiting for the first measurement…" if config.probes.gradient_noise else OFF_TEXT)
        self._dirty = True
        self.redraw_if_due()

    def handle_events(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, GradientNoiseSnapshot) and e.run_id == self.run_id:
                self.snaps.append(e)
                self._dirty = True
        self.redraw_if_due()

    def load_session(self, session) -> None:
        for rec in session.runs:
            snaps = self.read_saved(rec, "gradient noise", lambda r=rec: from_record(r))
            if snaps:
                self.run_id, self.snaps, self.follow = rec.name, snaps, True
                self.redraw()
                return

    def _on_slider_changed(self, value: int) -> None:
        self.follow = value == len(self.snaps) - 1
        self._draw(value)

    # -- drawing --------------------------------------------------------------------------
    def redraw(self) -> None:
        self._mark_drawn()
        n = len(self.snaps)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.setEnabled(n > 1)
        if self.follow:
            self.slider.setValue(max(0, n - 1))
        self.slider.blockSignals(False)
        if n:
            self.info.setText(
                f"{self.run_id}: {self.snaps[-1].draws} minibatches per size from a fixed subset of "
                f"N = {self.snaps[-1].samples} training samples, against its full-batch gradient G "
                "(eval mode). Small batches: large variance, steps that point elsewhere."
            )
        self._draw(self.slider.value())

    def _ensure_curves(self, layers: tuple[str, ...]) -> None:
        if layers == self._layers:
            return
        for p, curves in ((self.p_var, self.c_var), (self.p_cos, self.c_cos)):
            for c in curves:
                p.removeItem(c)
                if p.legend is not None:
                    p.legend.removeItem(c)
            curves.clear()
        for i, lab in enumerate(layers):
            pen = pg.mkPen(color(i), width=2)
            kw = {"symbol": "o", "symbolSize": 6, "symbolBrush": color(i), "symbolPen": None}
            self.c_var.append(self.p_var.plot(pen=pen, name=lab, **kw))
            self.c_cos.append(self.p_cos.plot(pen=pen, name=lab, **kw))
        self._layers = layers

    def _draw(self, index: int) -> None:
        if not self.snaps:
            self.step_label.setText("no measurement yet")
            for c in [*self.c_var, *self.c_cos, self.c_theory]:
                c.setData([], [])
            return
        s = self.snaps[min(max(0, index), len(self.snaps) - 1)]
        self._ensure_curves(s.layers)
        b = np.asarray(s.batch_sizes, dtype=float)
        for i in range(len(s.layers)):
            v = s.rel_var[:, i]
            ok = np.isfinite(v) & (v > 0)
            self.c_var[i].setData(b[ok], v[ok])
            self.c_cos[i].setData(b, s.cosine[:, i])
        theory = (1.0 / b) * np.clip(1.0 - b / s.samples, 1e-9, None)
        first = np.nanmean(s.rel_var[0]) if s.rel_var.size else np.nan
        if np.isfinite(first) and first > 0 and theory[0] > 0:
            self.c_theory.setData(b, theory * first / theory[0])
        self.step_label.setText(f"step {s.step}  ({index + 1} of {len(self.snaps)})")
