"""Live training curves: loss, accuracy, learning rate and gradient norm."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from desktop.plotting import (
    GrowingArray,
    IncrementalEMA,
    PaintTimedLayout,
    minmax_decimate,
    nice_ceiling,
    style_plot,
)
from desktop.views.base import View
from desktop.views.empty_state import EmptyState
from engine.diagnostics.checks import Diagnostic
from engine.diagnostics.snapshot import DiagnosticSnapshot
from engine.diagnostics.snapshot import from_record as diagnostics_of
from engine.events import EpochEnd, Event, RunFinished, StepBatch, series_events
from engine.states import RunState

TRAIN, VAL, STEP = "#0072B2", "#D55E00", "#9fb7d0"
EPOCH_KEYS = ("train_loss", "val_loss", "train_acc", "val_acc", "train_loss_eval", "train_acc_eval")
MARKER_COLORS = {"error": "#D55E00", "warning": "#E69F00", "info": "#009E73"}
X_AXES = {"step": "step", "epoch": "epoch", "wall": "wall time (s)"}  # x-axis mode → label
GHOSTS = 3  # earlier runs of this session kept faded on the loss and accuracy plots
GHOST_ALPHA = (150, 95, 55)  # newest to oldest
MAX_DRAWN_POINTS = 1600  # per curve at most: longer series are min/max-decimated for display
X_HEADROOM = 1.5  # a run that outgrows the step axis gets this much more: fewer re-laid axes


class RunCurves:
    """The arrays of one run as they grow."""

    def __init__(self, alpha: float) -> None:
        self.step = GrowingArray()
        self.loss = GrowingArray()
        self.lr = GrowingArray()
        self.grad_norm = GrowingArray()
        self.wall = GrowingArray()  # seconds since the run started (NaN where not recorded)
        self.steps_per_epoch_hint = 0.0  # from the config, until the first epoch ends
        self.loss_ema = IncrementalEMA(alpha)
        self.epoch_step = GrowingArray(64)
        self.epoch: dict[str, GrowingArray] = {k: GrowingArray(64) for k in EPOCH_KEYS}

    def add_steps(self, e: StepBatch) -> None:
        self.step.extend(e.steps)
        self.loss.extend(e.loss)
        self.lr.extend(e.lr)
        self.grad_norm.extend(e.grad_norm)
        self.wall.extend(e.wall if e.wall is not None else np.full(len(e.steps), np.nan))
        self.loss_ema.extend(np.asarray(e.loss, dtype=np.float64))

    def steps_per_epoch(self) -> float:
        """Steps in one epoch: the first epoch's end, else the config's estimate (0: unknown)."""
        ex = self.epoch_step.view()
        if len(ex) and ex[0] > 0:
            return float(ex[0])
        return self.steps_per_epoch_hint

    def x_of_steps(self, mode: str) -> np.ndarray:
        """The x of every step on an axis by step, epoch (fractional) or wall time."""
        s = self.step.view()
        if mode == "epoch":
            spe = self.steps_per_epoch()
            return s / spe if spe > 0 else np.full(len(s), np.nan)
        if mode == "wall":
            return self.wall.view()
        return s

    def x_of_epochs(self, mode: str) -> np.ndarray:
        """The x of every epoch's end on the same axis."""
        ex = self.epoch_step.view()
        if mode == "epoch":
            return np.arange(1, len(ex) + 1, dtype=np.float64)
        if mode == "wall":
            idx = ex.astype(np.int64) - int(self.step.view()[0] if len(self.step) else 1)
            w = self.wall.view()
            ok = (idx >= 0) & (idx < len(w))
            out = np.full(len(ex), np.nan)
            out[ok] = w[idx[ok]]
            return out
        return ex

    def x_at_step(self, step: float, mode: str) -> float:
        if mode == "step" or not len(self.step):
            return step
        xs = self.x_of_steps(mode)
        ok = np.isfinite(xs)
        if not ok.any():
            return step
        return float(np.interp(step, self.step.view()[ok], xs[ok]))

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
    DRAW_BUDGET = 0.025  # ... and at full speed fewer, so that drawing takes ≤ 2.5% of a core (View),
    MAX_REDRAW_S = 0.5  # but at least 2 a second (a re-laid step axis alone costs about 20 ms)

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.markers: list[pg.InfiniteLine] = []
        self.alpha = 0.9
        self.run = RunCurves(self.alpha)
        self.run_id = ""
        self.glw = PaintTimedLayout()
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
        self._x_fit = False  # set when the main run stops running: the next redraw drops the headroom
        self._epochs_drawn = -1
        self._epochs_racing = False  # several epochs arrive per live redraw (a run at full speed)
        self._run_state = RunState.IDLE  # the main run's: epochs race only while it runs
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
        self.x_axis = QComboBox()
        for key, label in X_AXES.items():
            self.x_axis.addItem(label, key)
        self.x_axis.setToolTip("x axis: optimizer steps, epochs, or wall time since the run started")
        self.x_axis.currentIndexChanged.connect(self._on_x_axis_changed)
        self.ghosts: list[tuple[str, RunCurves, pg.PlotDataItem, pg.PlotDataItem]] = []
        self.show_ghosts = QCheckBox(f"ghosts of the last {GHOSTS} runs")
        self.show_ghosts.setChecked(True)
        self.show_ghosts.setToolTip("Earlier runs of this session, faded behind the current one (kept in memory)")
        self.show_ghosts.toggled.connect(lambda _on: self._draw_ghosts())
        self.clear_ghosts_btn = QPushButton("Clear ghosts")
        self.clear_ghosts_btn.clicked.connect(self.clear_ghosts)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("x axis"))
        controls.addWidget(self.x_axis)
        controls.addSpacing(12)
        controls.addWidget(self.log_y)
        controls.addSpacing(12)
        controls.addWidget(QLabel("EMA smoothing"))
        controls.addWidget(self.smooth)
        controls.addWidget(self.smooth_label)
        controls.addSpacing(12)
        controls.addWidget(self.show_ghosts)
        controls.addWidget(self.clear_ghosts_btn)
        controls.addStretch(1)
        controls.addWidget(self.readout)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(controls)
        lay.addWidget(self.glw, 1)
        self.empty = EmptyState(self.glw)
        controller.state_changed.connect(self._on_controller_state_changed)

    def _on_controller_state_changed(self, state: str, _message: str = "") -> None:
        """A run held at step 0 says how to start it (instead of empty axes); a run that is
        no longer running (paused, stopped, finished) gets its epoch markers back."""
        was_running, self._run_state = self._run_state == RunState.RUNNING, state
        if state != RunState.RUNNING and self._epochs_racing:
            self._epochs_racing = False
            self._epochs_drawn = -1  # the markers change
            self._dirty = True  # drawn now if in view, else when shown (or by the bridge's idle ticks)
        if was_running and state != RunState.RUNNING and len(self.run.step):
            self._x_fit = True  # the step axis fits the run again (no headroom past its end)
            self.draw_at_once()  # the run's last picture now, not after the drawing budget's wait
        self.redraw_if_due()
        if state == RunState.PAUSED and not len(self.run.step):
            self.empty.show_message("Paused before the first step. Press Space to train.", "Train", self._start)
        elif state in (RunState.BUILDING, RunState.RUNNING) or len(self.run.step):
            self.empty.clear()

    def _start(self) -> None:
        self.controller.toggle_pause()

    # -- events --------------------------------------------------------------------------
    def on_run_started(self, run_id: str, config) -> None:
        self.clear_markers()
        self.readout.setText(" ")  # the hover read-out described the previous run
        saved = getattr(self.controller, "continued_from", None)
        if saved is not None:  # a continued run: its saved history, then the new steps
            self.show_series(saved.series)
        else:
            if self.run_id and len(self.run.step):  # the run before becomes a ghost
                self._push_ghost(self.run_id, self.run)
            self.run = RunCurves(self.alpha)
            self.run.steps_per_epoch_hint = _steps_per_epoch_hint(config)
            self._epochs_drawn = -1
            self._epochs_racing = False
            self._redraw()
        self.run_id = run_id

    # -- ghosts: the last runs of this session, faded -------------------------------------
    def _push_ghost(self, run_id: str, run: RunCurves) -> None:
        loss = self.p_loss.plot(antialias=False)
        acc = self.p_acc.plot()
        for item in (loss, acc):
            item.setZValue(-5)  # behind the current run
        self.ghosts.append((run_id, run, loss, acc))
        while len(self.ghosts) > GHOSTS:
            _rid, _r, old_loss, old_acc = self.ghosts.pop(0)
            self._remove_ghost_items(old_loss, old_acc)
        self._draw_ghosts()

    def _remove_ghost_items(self, loss: pg.PlotDataItem, acc: pg.PlotDataItem) -> None:
        for plot, item in ((self.p_loss, loss), (self.p_acc, acc)):
            if plot.legend is not None:
                plot.legend.removeItem(item)
            plot.removeItem(item)

    def clear_ghosts(self) -> None:
        for _rid, _r, loss, acc in self.ghosts:
            self._remove_ghost_items(loss, acc)
        self.ghosts = []

    def _draw_ghosts(self) -> None:
        """Each ghost's smoothed loss and validation accuracy, fainter the older it is; the
        newest has the legend entry."""
        mode = self.x_mode
        on = self.show_ghosts.isChecked()
        n = len(self.ghosts)
        for age, (_rid, r, loss, acc) in enumerate(reversed(self.ghosts)):
            pen = pg.mkPen((110, 110, 110, GHOST_ALPHA[min(age, len(GHOST_ALPHA) - 1)]), width=1.5)
            loss.setPen(pen)
            acc.setPen(pen)
            loss.setData(*minmax_decimate(r.x_of_steps(mode), r.loss_ema.out.view(), MAX_DRAWN_POINTS))
            acc.setData(r.x_of_epochs(mode), r.epoch["val_acc"].view())
            for plot, item in ((self.p_loss, loss), (self.p_acc, acc)):
                item.setVisible(on)
                legend = plot.legend
                if legend is None:
                    continue
                legend.removeItem(item)
                if on and age == 0:
                    legend.addItem(item, f"earlier runs ({n}, faded)")

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
        line.step = step  # where it belongs whatever the x axis
        line.setPos(self.run.x_at_step(step, self.x_mode))
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
            elif isinstance(e, RunFinished):  # the end: epoch markers as for a calm run
                self._epochs_drawn = -1
                self._epochs_racing = False
                changed = True
        self._dirty = changed
        self.redraw_if_due()  # visible only, at most every MIN_REDRAW_S (View)

    def redraw(self) -> None:
        """The live redraw: once epoch curves gain several epochs between two redraws of a
        running run, they are drawn without markers until it pauses, stops or ends (see _redraw)."""
        if (
            not self._epochs_racing
            and self._run_state == RunState.RUNNING
            and self._epochs_drawn >= 0
            and len(self.run.epoch_step) - self._epochs_drawn > 1
        ):
            self._epochs_racing = True
            self._epochs_drawn = -1  # the markers change
        self._redraw()

    def paint_cpu_s(self) -> float:
        return self.glw.paint_s

    def save_into(self, session) -> None:
        from desktop.views.curves_ghosts import save_ghosts

        save_ghosts(self, session)  # the faded earlier runs are kept with the session

    def load_session(self, session) -> None:
        from desktop.views.curves_ghosts import load_ghosts

        self.clear_ghosts()  # the opened session's ghosts replace this window's
        for name, run in load_ghosts(self, session):
            self._push_ghost(name, run)
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
        self._epochs_racing = False
        self._redraw()

    def _redraw(self) -> None:
        self._mark_drawn()
        r = self.run
        mode = self.x_mode
        x = r.x_of_steps(mode)
        # display only: about two points per pixel column (a min and a max), so a redraw's
        # cost is bounded by the plot's width, not by the run's length
        npts = self._drawn_points()
        self.c_step_loss.setData(*minmax_decimate(x, r.loss.view(), npts))
        self.c_ema.setData(*minmax_decimate(x, r.loss_ema.out.view(), npts))
        self.c_lr.setData(*minmax_decimate(x, r.lr.view(), npts))
        if len(r.lr):
            lo, hi = float(np.nanmin(r.lr.view())), float(np.nanmax(r.lr.view()))
            if hi - lo <= 1e-12 * max(abs(hi), 1e-30):  # a constant lr: show it with room around
                self.p_lr.setYRange(0, hi * 1.5 if hi > 0 else 1, padding=0)
            else:
                self.p_lr.enableAutoRange(axis="y")
        self.c_gn.setData(*minmax_decimate(x, r.grad_norm.view(), npts))
        ex = r.x_of_epochs(mode)
        if len(ex) != self._epochs_drawn:  # epoch curves change once an epoch, not every redraw
            self._epochs_drawn = len(ex)
            # symbols help while there are few epochs; beyond that, or while epochs race in
            # several per redraw (pyqtgraph re-makes every marker at each redraw: the costliest
            # part of a redraw at full speed), they cost and clutter
            sym = "o" if len(ex) <= 60 and not self._epochs_racing else None
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
        self._follow_x(float(x[-1]) if len(x) and np.isfinite(x[-1]) else 0.0)
        # the loss plot's top covers the epoch curves too (a rising validation loss stays in view)
        epoch_losses = [r.epoch[k].view() for k in ("val_loss", "train_loss", "train_loss_eval")]
        self._follow_y(self.p_loss, np.concatenate([r.loss.view(), *epoch_losses]))
        self._follow_y(self.p_gn, r.grad_norm.view())

    def _drawn_points(self) -> int:
        width = int(self.p_loss.vb.width()) if self.p_loss.vb is not None else 0
        return int(min(MAX_DRAWN_POINTS, max(400, 2 * width)))

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
        # at least 10 steps; by epoch or wall time the run's own end (a 10 s floor put a short
        # run's 0.01 s in the axis' first 0.1%, squashed, and pyqtgraph's auto-downsampling
        # then dropped its second half)
        floor = 10.0 if self.x_mode == "step" else 0.0
        tight = nice_ceiling(max(xmax, floor))
        fit, self._x_fit = self._x_fit, False
        # grown past the end, a new run, or a run that stopped with headroom left past its end
        if xmax > self._x_hi or self._x_hi > 8 * max(xmax, 1.0) or (fit and self._x_hi > tight):
            # a growing run gets half again as much room: the four linked step axes (ticks,
            # labels, grid) are re-laid about five times per decade of steps, not eight
            grown = not fit and self._x_hi > 0 and xmax > self._x_hi
            self._x_hi = nice_ceiling(max(xmax * X_HEADROOM, floor)) if grown else tight
            self.p_loss.setXRange(0, self._x_hi, padding=0.01)

    # -- controls ------------------------------------------------------------------------
    @property
    def x_mode(self) -> str:
        return str(self.x_axis.currentData() or "step")

    def _on_x_axis_changed(self, _i: int) -> None:
        mode = self.x_mode
        for p in (self.p_loss, self.p_acc, self.p_lr, self.p_gn):
            p.setLabel("bottom", X_AXES[mode])
        for m in self.markers:
            m.setPos(self.run.x_at_step(m.step, mode))
        self._epochs_drawn = -1
        self._x_follow, self._x_hi = True, 0.0
        self._redraw()
        self._draw_ghosts()

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
        mode = self.x_mode
        parts = [f"step {x:.0f}" if mode == "step" else f"{X_AXES[mode]} {x:.4g}"]
        if len(r.step):
            xs = np.nan_to_num(r.x_of_steps(mode), nan=-np.inf)
            i = int(np.clip(np.searchsorted(xs, x), 0, len(r.step) - 1))
            if mode != "step":
                parts.append(f"step {r.step.view()[i]:.0f}")
            parts.append(f"loss {r.loss.view()[i]:.4g} (EMA {r.loss_ema.out.view()[i]:.4g})")
            parts.append(f"lr {r.lr.view()[i]:.3g}")
            parts.append(f"‖g‖ {r.grad_norm.view()[i]:.3g}")
        if len(r.epoch_step):
            exs = np.nan_to_num(r.x_of_epochs(mode), nan=-np.inf)
            j = int(np.clip(np.searchsorted(exs, x), 0, len(r.epoch_step) - 1))
            parts.append(
                f"epoch {j + 1}: train loss (eval mode) {r.epoch['train_loss_eval'].view()[j]:.4g}, "
                f"val loss {r.epoch['val_loss'].view()[j]:.4g}, "
                f"val acc {r.epoch['val_acc'].view()[j]:.3f}"
            )
        self.readout.setText("  ·  ".join(parts))


def _steps_per_epoch_hint(config) -> float:
    """Steps per epoch estimated from the config (synthetic sets: exact) until an epoch ends."""
    d, t = config.data, config.train
    n_train = d.n_samples * (1 - d.test_fraction) * (1 - t.val_fraction)
    return float(np.ceil(n_train / max(1, t.batch_size))) if n_train >= 1 else 0.0
