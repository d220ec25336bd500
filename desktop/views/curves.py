"""Live training curves: loss, accuracy, learning rate and gradient norm."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from desktop.plotting import GrowingArray, IncrementalEMA, nice_ceiling, style_plot
from desktop.views.base import View
from engine.diagnostics.checks import Diagnostic
from engine.diagnostics.snapshot import DiagnosticSnapshot
from engine.diagnostics.snapshot import from_record as diagnostics_of
from engine.events import EpochEnd, Event, StepBatch, series_events

TRAIN, VAL, STEP = "#0072B2", "#D55E00", "#9fb7d0"
EPOCH_KEYS = ("train_loss", "val_loss", "train_acc", "val_acc", "train_loss_eval", "train_acc_eval")
MARKER_COLORS = {"error": "#D55E00", "warning": "#E69F00", "info": "#009E73"}


class RunCurves:
    """The arrays of one run as they grow."""

    def __init__(self, alpha: float) -> None:
        self.step = GrowingArray()
        self.loss = GrowingArray()
        self.lr = GrowingArray()
        self.grad_norm = GrowingArray()
        self.loss_ema = IncrementalEMA(alpha)
        self.epoch_step = GrowingArray(64)
        self.epoch: dict[str, GrowingArray] = {k: GrowingArray(64) for k in EPOCH_KEYS}

    def add_steps(self, e: StepBatch) -> None:
        self.step.extend(e.steps)
        self.loss.extend(e.loss)
        self.lr.extend(e.lr)
        self.grad_norm.extend(e.grad_norm)
        self.loss_ema.extend(np.asarray(e.loss, dtype=np.float64))

    def add(self, e: Event) -> bool:
        """Take a step batch or an epoch end; True if it was one (the curves changed)."""
        if isinstance(e, StepBatch):
            self.add_steps(e)
        elif isinstance(e, EpochEnd):
            self.add_epoch(e)
        else:
            return False
        return True

    def add_epoch(self, e: EpochEnd) -> None:
        self.epoch_step.append(e.step)
        for k, arr in self.epoch.items():
            arr.append(e.metrics.get(k, np.nan))


class CurvesView(View):
    """Four linked plots updated in place; log-y, EMA smoothing and a hover read-out."""

    title = "Curves"
    MIN_REDRAW_S = 0.25  # ≤ 4 redraws/s: drawing holds the GIL and a core the engine thread needs

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.markers: list[pg.InfiniteLine] = []
        self.alpha = 0.9
        self.run = RunCurves(self.alpha)
        self.run_id = ""
        self.glw = pg.GraphicsLayoutWidget()
        self.p_loss = self.glw.addPlot(row=0, col=0)
        self.p_acc = self.glw.addPlot(row=0, col=1)
        self.p_lr = self.glw.addPlot(row=1, col=0)
        self.p_gn = self.glw.addPlot(row=1, col=1)
        style_plot(self.p_loss, "Loss (cross-entropy)", "step", "loss")
        style_plot(self.p_acc, "Accuracy", "step", "accuracy")
        style_plot(self.p_lr, "Learning rate", "step", "lr")
        style_plot(self.p_gn, "Gradient norm (all parameters)", "step", "L2 norm")
        for p in (self.p_acc, self.p_lr, self.p_gn):
            p.setXLink(self.p_loss)
        for p in (self.p_loss, self.p_acc, self.p_lr, self.p_gn):
            p.getAxis("left").setWidth(56)  # fixed widths: no re-layout when tick labels change
        for p in (self.p_loss, self.p_acc):
            p.addLegend(offset=(-10, -10) if p is self.p_acc else (-10, 10), labelTextSize="8pt")
        self.c_step_loss = self.p_loss.plot(pen=pg.mkPen(STEP, width=1), name="minibatch", antialias=False)
        self.c_ema = self.p_loss.plot(pen=pg.mkPen(TRAIN, width=2), name="minibatch (EMA)", antialias=False)
        self.c_train_loss = self.p_loss.plot(
            pen=pg.mkPen(TRAIN, width=1.5, style=Qt.DashLine),
            symbol="o",
            symbolSize=5,
            symbolBrush=None,
            symbolPen=TRAIN,
            name="train, running (train mode)",
        )
        self.c_train_loss_eval = self.p_loss.plot(
            pen=pg.mkPen(TRAIN, width=2.5),
            symbol="s",
            symbolSize=5,
            symbolBrush=TRAIN,
            name="train, eval mode (≤512 samples)",
        )
        self.c_val_loss = self.p_loss.plot(
            pen=pg.mkPen(VAL, width=2), symbol="o", symbolSize=5, symbolBrush=VAL, name="validation"
        )
        self.c_train_acc = self.p_acc.plot(
            pen=pg.mkPen(TRAIN, width=1.5, style=Qt.DashLine),
            symbol="o",
            symbolSize=5,
            symbolBrush=None,
            symbolPen=TRAIN,
            name="train, running (train mode)",
        )
        self.c_train_acc_eval = self.p_acc.plot(
            pen=pg.mkPen(TRAIN, width=2.5), symbol="s", symbolSize=5, symbolBrush=TRAIN, name="train, eval mode"
        )
        self.c_val_acc = self.p_acc.plot(
            pen=pg.mkPen(VAL, width=2), symbol="o", symbolSize=5, symbolBrush=VAL, name="validation"
        )
        self.c_lr = self.p_lr.plot(pen=pg.mkPen("#009E73", width=2), antialias=False)
        self.c_gn = self.p_gn.plot(pen=pg.mkPen("#CC79A7", width=1), antialias=False)
        self.p_acc.setYRange(0, 1.02)
        # The step axis follows the run in coarse steps (nice_ceiling), so the four plots'
        # x axes are not re-laid at every redraw; a pan/zoom by the user stops following,
        # the plot's "A" button resumes it.
        self._x_hi = 0.0
        self._x_follow = True
        self._epochs_drawn = -1
        self.p_loss.vb.sigRangeChangedManually.connect(self._on_manual_range)
        # Loss and gradient norm (linear y) get the same coarse steps on y: [0, nice top].
        self._y_top = {self.p_loss: 0.0, self.p_gn: 0.0}
        self._y_follow = {self.p_loss: True, self.p_gn: True}
        for p in (self.p_loss, self.p_gn):
            p.vb.sigRangeChangedManually.connect(lambda *_a, p=p: self._y_follow.__setitem__(p, False))

        # hover read-out
        self.readout = QLabel(" ")
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888", style=Qt.DotLine))
        self.p_loss.addItem(self.vline, ignoreBounds=True)
        self._mouse_proxy = pg.SignalProxy(self.glw.scene().sigMouseMoved, rateLimit=30, slot=self._on_scene_mouse)

        # controls
        self.log_y = QCheckBox("log-y (loss, grad norm)")
        self.log_y.toggled.connect(self._on_log_y_toggled)
        self.smooth = QSlider(Qt.Horizontal)
        self.smooth.setRange(0, 99)
        self.smooth.setValue(int(self.alpha * 100))
        self.smooth.setMaximumWidth(160)
        self.smooth.valueChanged.connect(self._on_smooth_changed)
        self.smooth_label = QLabel()
        self._on_smooth_label()
        controls = QHBoxLayout()
        controls.addWidget(self.log_y)
        controls.addSpacing(12)
        controls.addWidget(QLabel("EMA smoothing"))
        controls.addWidget(self.smooth)
        controls.addWidget(self.smooth_label)
        controls.addStretch(1)
        controls.addWidget(self.readout)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(controls)
        lay.addWidget(self.glw, 1)

    # -- events --------------------------------------------------------------------------
    def on_run_started(self, run_id: str, config) -> None:
        self.clear_markers()
        saved = getattr(self.controller, "continued_from", None)
        if saved is not None:  # a continued run: its saved history, then the new steps
            self.show_series(saved.series)
        else:
            self.run = RunCurves(self.alpha)
            self._epochs_drawn = -1
            self._redraw()
        self.run_id = run_id

    # -- diagnostic markers --------------------------------------------------------------
    def add_marker(self, step: float, label: str, level: str = "warning", tip: str = "") -> None:
        """A vertical line on the loss plot at `step`, labelled (e.g. a diagnostic)."""
        col = MARKER_COLORS.get(level, "#555555")
        line = pg.InfiniteLine(
            pos=step,
            angle=90,
            movable=False,
            pen=pg.mkPen(col, width=1.5, style=Qt.DashLine),
            label=label,
            labelOpts={"position": 0.92 - 0.1 * (len(self.markers) % 5), "color": col, "fill": (255, 255, 255, 200)},
        )
        line.setToolTip(tip or label)
        self.p_loss.addItem(line, ignoreBounds=True)
        self.markers.append(line)

    def clear_markers(self) -> None:
        for m in self.markers:
            self.p_loss.removeItem(m)
        self.markers = []

    def _add_diagnostic(self, d: Diagnostic) -> None:
        if d.level == "info" and d.kind == "initial_loss":
            return  # the expected case: no marker
        label = d.kind.replace("_", " ")
        if d.layer:
            label += f" ({d.layer})"
        self.add_marker(float(d.step), label, d.level, d.message)

    def handle_events(self, events: list[Event]) -> None:
        changed = self._dirty
        for e in events:
            if e.run_id != self.run_id:
                continue
            if self.run.add(e):
                changed = True
            elif isinstance(e, DiagnosticSnapshot):
                self._add_diagnostic(e.finding)
        self._dirty = changed
        self.redraw_if_due()  # visible only, at most every MIN_REDRAW_S (View)

    def redraw(self) -> None:
        self._redraw()

    def load_session(self, session) -> None:
        if not session.runs:
            return
        rec = session.runs[0]
        self.run_id = ""
        self.clear_markers()

        def read() -> list:
            self.show_series(rec.series)
            return diagnostics_of(rec)

        for s in self.read_saved(rec, "curves", read) or []:
            self._add_diagnostic(s.finding)

    def show_series(self, series: dict[str, np.ndarray]) -> None:
        """Replay a saved run's full-resolution series (the events that drew them live);
        raises ValueError for malformed series."""
        r = RunCurves(self.alpha)
        for e in series_events("", series):
            r.add(e)
        self.run = r
        self._epochs_drawn = -1
        self._redraw()

    def _redraw(self) -> None:
        self._mark_drawn()
        r = self.run
        x = r.step.view()
        self.c_step_loss.setData(x, r.loss.view())
        self.c_ema.setData(x, r.loss_ema.out.view())
        self.c_lr.setData(x, r.lr.view())
        if len(r.lr):
            lo, hi = float(np.nanmin(r.lr.view())), float(np.nanmax(r.lr.view()))
            if hi - lo <= 1e-12 * max(abs(hi), 1e-30):  # a constant lr: show it with room around
                self.p_lr.setYRange(0, hi * 1.5 if hi > 0 else 1, padding=0)
            else:
                self.p_lr.enableAutoRange(axis="y")
        self.c_gn.setData(x, r.grad_norm.view())
        ex = r.epoch_step.view()
        if len(ex) != self._epochs_drawn:  # epoch curves change once an epoch, not every redraw
            self._epochs_drawn = len(ex)
            # symbols help while there are few epochs; beyond that they cost and clutter
            sym = "o" if len(ex) <= 60 else None
            curves = {
                "train_loss": self.c_train_loss,
                "val_loss": self.c_val_loss,
                "train_acc": self.c_train_acc,
                "val_acc": self.c_val_acc,
                "train_loss_eval": self.c_train_loss_eval,
                "train_acc_eval": self.c_train_acc_eval,
            }
            symbols = {"train_loss_eval": "s", "train_acc_eval": "s"}
            for k, c in curves.items():
                want = symbols.get(k, "o") if sym else None
                if c.opts["symbol"] != want:
                    c.setSymbol(want)
            for k, c in curves.items():
                ys = r.epoch[k].view()
                if np.isfinite(ys).any():
                    c.setData(ex, ys)
                else:  # a session saved before the eval-mode series existed: nothing to draw
                    c.setData([], [])
        self._follow_x(float(x[-1]) if len(x) else 0.0)
        self._follow_y(self.p_loss, r.loss.view())
        self._follow_y(self.p_gn, r.grad_norm.view())

    def _follow_y(self, plot: pg.PlotItem, ys: np.ndarray) -> None:
        """A non-negative series on a linear axis: y from 0 to a nice top that changes only
        when the data outgrow it or shrink far below it (log-y and user zooms: left alone)."""
        vb = plot.vb
        if self.log_y.isChecked():
            return
        if vb.state["autoRange"][1] is not False:  # at start, or the user pressed "A"
            vb.enableAutoRange(y=False)
            self._y_follow[plot], self._y_top[plot] = True, 0.0
        if not self._y_follow[plot] or not len(ys):
            return
        finite = ys[np.isfinite(ys)]
        if not len(finite) or finite.min() < 0:
            return
        top = float(finite.max())
        if top > self._y_top[plot] or self._y_top[plot] > 4 * max(top, 1e-12):
            self._y_top[plot] = nice_ceiling(top * 1.05) if top > 0 else 1.0
            plot.setYRange(-0.03 * self._y_top[plot], self._y_top[plot], padding=0)  # (room for the 0 tick)

    def _on_manual_range(self, *_args) -> None:
        self._x_follow = False

    def _follow_x(self, xmax: float) -> None:
        vb = self.p_loss.vb
        if vb.state["autoRange"][0] is not False:  # at start, or the user pressed "A"
            vb.enableAutoRange(x=False)
            self._x_follow, self._x_hi = True, 0.0
        if not self._x_follow:
            return
        if xmax > self._x_hi or self._x_hi > 8 * max(xmax, 1.0):  # grown past the end, or a new run
            self._x_hi = nice_ceiling(max(xmax, 10.0))
            self.p_loss.setXRange(0, self._x_hi, padding=0.01)

    # -- controls ------------------------------------------------------------------------
    def _on_log_y_toggled(self, on: bool) -> None:
        self.p_loss.setLogMode(y=on)
        self.p_gn.setLogMode(y=on)
        for p in (self.p_loss, self.p_gn):  # log: pyqtgraph's auto range; linear: ours again
            p.vb.enableAutoRange(y=True)
        if not on:
            self._redraw()

    def _on_smooth_label(self) -> None:
        self.smooth_label.setText(f"{self.alpha:.2f}")

    def _on_smooth_changed(self, v: int) -> None:
        self.alpha = v / 100.0
        self._on_smooth_label()
        self.run.loss_ema.reset(self.alpha)
        self.run.loss_ema.extend(self.run.loss.view())
        self._redraw()

    def _on_scene_mouse(self, evt) -> None:
        pos = evt[0]
        for p in (self.p_loss, self.p_acc, self.p_lr, self.p_gn):
            if p.sceneBoundingRect().contains(pos):
                x = p.vb.mapSceneToView(pos).x()
                break
        else:
            return
        self.vline.setPos(x)
        r = self.run
        parts = [f"step {x:.0f}"]
        if len(r.step):
            i = int(np.clip(np.searchsorted(r.step.view(), x), 0, len(r.step) - 1))
            parts.append(f"loss {r.loss.view()[i]:.4g} (EMA {r.loss_ema.out.view()[i]:.4g})")
            parts.append(f"lr {r.lr.view()[i]:.3g}")
            parts.append(f"‖g‖ {r.grad_norm.view()[i]:.3g}")
        if len(r.epoch_step):
            j = int(np.clip(np.searchsorted(r.epoch_step.view(), x), 0, len(r.epoch_step) - 1))
            parts.append(
                f"epoch {j + 1}: train loss (eval mode) {r.epoch['train_loss_eval'].view()[j]:.4g}, "
                f"val loss {r.epoch['val_loss'].view()[j]:.4g}, "
                f"val acc {r.epoch['val_acc'].view()[j]:.3f}"
            )
        self.readout.setText("  ·  ".join(parts))
