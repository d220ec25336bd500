"""The "LR range test" tab: the learning-rate range test (engine/tuning/lr_range.py) on the
panel's config, run off the GUI thread, its smoothed (and faint raw) loss against the
learning rate on a log axis, both suggestions marked, and a button that writes the
suggested lr into the hyperparameter panel.

Run ▸ Find learning rate… shows this tab and starts the test (`start`). The result goes
into saved sessions and comes back when one is opened.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.plotting import style_plot
from desktop.views.base import View
from engine.config import ExperimentConfig
from engine.jobs import Progress
from engine.session import SessionError
from engine.states import RunState
from engine.tuning.lr_range_settings import MAX_ITERATIONS, LrRangeError, LrRangeSettings
from engine.tuning.lr_range_snapshot import MIN_OVER_10, STEEPEST, LrRangeResult, stored_result

SMOOTH_COLOR = "#0072B2"
RAW_COLOR = (0, 114, 178, 70)  # the smoothed curve's blue, faint
STEEP_COLOR = "#009E73"
MIN_COLOR = "#D55E00"
DEFAULTS = LrRangeSettings()
LIVE_STATES = (RunState.RUNNING, RunState.PAUSED, RunState.DIVERGED)  # an lr edit applies to these at once


def _lr_text(lr: float) -> str:
    return f"{lr:.3g}"


class LrFindView(View):
    title = "LR range test"
    own_work = "range test"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.result: LrRangeResult | None = None
        self.handle = None

        self.start_edit = QLineEdit(f"{DEFAULTS.start:g}")
        self.end_edit = QLineEdit(f"{DEFAULTS.end:g}")
        for ed, tip in ((self.start_edit, "first learning rate"), (self.end_edit, "last learning rate")):
            ed.setMaximumWidth(80)
            ed.setToolTip(f"{tip} (> 0; the sweep grows it exponentially)")
        self.iterations = QSpinBox()
        self.iterations.setRange(2, MAX_ITERATIONS)
        self.iterations.setValue(DEFAULTS.iterations)
        self.iterations.setToolTip("minibatch steps of the sweep")
        self.factor = QDoubleSpinBox()
        self.factor.setRange(1.5, 100.0)
        self.factor.setValue(DEFAULTS.diverge_factor)
        self.factor.setSuffix("× min")
        self.factor.setToolTip("stop once the smoothed loss passes this many times its minimum")
        self.from_weights = QCheckBox("from the current weights")
        self.from_weights.setToolTip(
            "Start the sweep from the current run's weights and optimizer state (a finished, paused or "
            "reopened run) instead of a fresh init: where should the lr be now, mid-training?"
        )
        self.run_btn = QPushButton("Find learning rate")
        self.run_btn.setToolTip("Run the range test on the panel's config (the current run is not touched)")
        self.run_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(160)
        bar = QHBoxLayout()
        for w in (
            QLabel("lr from"),
            self.start_edit,
            QLabel("to"),
            self.end_edit,
            QLabel("steps"),
            self.iterations,
            QLabel("stop at"),
            self.factor,
            self.from_weights,
            self.run_btn,
            self.cancel_btn,
            self.progress,
        ):
            bar.addWidget(w)
        bar.addStretch(1)

        self.status = QLabel(
            "Learning-rate range test (Smith 2017): train on minibatches while the learning rate grows "
            "exponentially; the loss falls fastest at a good learning rate and blows up past the largest "
            "usable one. Run ▸ Find learning rate… or the button above."
        )
        self.status.setWordWrap(True)
        self.suggestion = QLabel("")
        self.suggestion.setTextFormat(Qt.RichText)
        self.use_btn = QPushButton("Use this learning rate")
        self.use_btn.setToolTip("Write the suggested lr into the panel's optim.lr")
        self.use_btn.setEnabled(False)
        self.use_btn.clicked.connect(self.use_suggestion)
        row = QHBoxLayout()
        row.addWidget(self.suggestion, 1)
        row.addWidget(self.use_btn)

        self.plot_widget = pg.PlotWidget()
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        style_plot(self.plot, "Loss vs learning rate", "learning rate (log scale)", "training loss")
        self.plot.setLogMode(x=True, y=False)
        self.plot.addLegend(offset=(10, -10))  # bottom left: the curve starts high
        self.raw_curve = self.plot.plot(pen=pg.mkPen(RAW_COLOR, width=1), name="loss (minibatch)")
        self.smooth_curve = self.plot.plot(pen=pg.mkPen(SMOOTH_COLOR, width=2.5), name="smoothed loss")
        self.marks: dict[str, pg.InfiniteLine] = {}
        self.dots: dict[str, pg.ScatterPlotItem] = {}
        for key, col, pos in ((STEEPEST, STEEP_COLOR, 0.92), (MIN_OVER_10, MIN_COLOR, 0.78)):
            line = pg.InfiniteLine(
                angle=90,
                movable=False,
                pen=pg.mkPen(col, width=1.5, style=Qt.DashLine),
                label="",
                labelOpts={
                    "position": pos,
                    "color": col,
                    "fill": pg.mkBrush(255, 255, 255, 220),
                    "anchors": [(0, 0.5), (0, 0.5)],
                },
            )
            line.setVisible(False)
            self.plot.addItem(line)
            self.marks[key] = line
            dot = pg.ScatterPlotItem(size=11, pen=pg.mkPen("w", width=1.5), brush=pg.mkBrush(col))
            self.plot.addItem(dot)
            self.dots[key] = dot

        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self.status)
        lay.addLayout(row)
        lay.addWidget(self.plot_widget, 1)

    # -- the job -------------------------------------------------------------------------------
    def settings(self) -> LrRangeSettings:
        """The settings in the fields; LrRangeError naming the bad one."""
        values = []
        for name, ed in (("start", self.start_edit), ("end", self.end_edit)):
            try:
                values.append(float(ed.text().strip()))
            except ValueError:
                raise LrRangeError(f"{name} lr: cannot read {ed.text().strip()[:40]!r} as a number") from None
        return LrRangeSettings(values[0], values[1], int(self.iterations.value()), diverge_factor=self.factor.value())

    def start(self) -> bool:
        """Run the range test on the controller's config off the GUI thread; False (the
        reason in the status line) when the settings are refused."""
        from engine.session.checkpoint import CheckpointError
        from engine.tuning.lr_range import lr_range_job

        try:
            settings = self.settings()
        except LrRangeError as e:
            self.status.setText(f"<span style='color:#D55E00'>{e}</span>")
            return False
        config, state, origin = self.controller.config, None, ""
        if self.from_weights.isChecked():
            try:
                found = self._current_weights()
            except (SessionError, CheckpointError) as e:
                self.status.setText(f"<span style='color:#D55E00'>{e}</span>")
                return False
            if found is None:
                self.status.setText(
                    "<span style='color:#D55E00'>no run with weights yet: train or open one, or untick "
                    "“from the current weights”</span>"
                )
                return False
            config, state, origin = found
        self.show_result(None)
        self.status.setText(
            f"running the range test: {config.optim.name} on {config.data.name}, lr {settings.start:g} → "
            f"{settings.end:g} over {settings.iterations} steps{origin}…"
        )
        self.progress.setValue(0)
        self.run_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.handle = self.start_job(
            lr_range_job(config, settings, start_state=state),
            self._on_job_result,
            self._on_job_error,
            self._on_job_progress,
        )
        return True

    def _current_weights(self) -> tuple[ExperimentConfig, dict, str] | None:
        """The current run's config, start state and a phrase naming it; None without one."""
        from engine.session.checkpoint import start_state

        c = self.controller
        if c.state == RunState.REPLAY:
            record = c.session.runs[0] if c.session is not None and c.session.runs else None
        else:
            record = c.current_record()
        if record is None or record.checkpoint is None:
            return None
        epoch = int(record.checkpoint.meta.get("epoch", 0))
        return record.config, start_state(record.checkpoint), f" from run {record.name}'s weights (epoch {epoch})"

    def cancel(self) -> None:
        self.jobs.cancel(self.job_key)
        self._idle()
        self.progress.setValue(0)
        self.status.setText("range test cancelled")

    @property
    def running(self) -> bool:
        return self.job_running

    def _idle(self) -> None:
        self.run_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)

    def _on_job_progress(self, p: Progress) -> None:
        self.progress.setValue(int(round(100 * p.fraction)))
        # The curve and its read-out change only when a window of losses arrives (a preview);
        # the steps in between move the bar alone, leaving the GIL to the job.
        if isinstance(p.preview, LrRangeResult):
            self._draw(p.preview, final=False)
            self.status.setText(f"running the range test: {p.message}")

    def _on_job_result(self, result: LrRangeResult) -> None:
        self._idle()
        self.progress.setValue(100)
        self.show_result(result)

    def _on_job_error(self, message: str) -> None:
        self._idle()
        self.progress.setValue(0)
        self.status.setText(f"<span style='color:#D55E00'>range test failed: {message}</span>")

    # -- drawing -------------------------------------------------------------------------------
    def show_result(self, result: LrRangeResult | None) -> None:
        """Draw a finished result (or clear the plot) and offer its suggestion."""
        self.result = result
        self._draw(result, final=True)
        self.use_btn.setEnabled(result is not None)
        if result is None:
            self.suggestion.setText("")
            return
        c = result.config
        self.status.setText(
            f"{c.optim.name} on {c.data.name}, batch {c.train.batch_size}: {result.done} steps in "
            f"{result.seconds:.2f} s; {result.stop_text}."
        )
        steep = "—" if result.steepest_lr is None else _lr_text(result.steepest_lr)
        chosen = "steepest descent" if result.suggestion == STEEPEST else "minimum / 10"
        self.suggestion.setText(
            f"<b>Suggested lr: {_lr_text(result.suggested_lr)}</b> ({chosen}) &nbsp;·&nbsp; "
            f"<span style='color:{STEEP_COLOR}'>steepest descent: {steep}</span> &nbsp;·&nbsp; "
            f"<span style='color:{MIN_COLOR}'>minimum at {_lr_text(result.min_loss_lr)}, /10: "
            f"{_lr_text(result.min_over_10_lr)}</span>"
        )
        self.use_btn.setText(f"Use this learning rate ({_lr_text(result.suggested_lr)})")

    def _draw(self, result: LrRangeResult | None, final: bool) -> None:
        if result is None:
            self.raw_curve.setData([], [])
            self.smooth_curve.setData([], [])
            for key in self.marks:
                self.marks[key].setVisible(False)
                self.dots[key].setData([], [])
            return
        self.raw_curve.setData(result.lrs, result.losses)
        self.smooth_curve.setData(result.lrs, result.smoothed)
        marks = {STEEPEST: result.steepest_lr, MIN_OVER_10: result.min_over_10_lr}
        for key, lr in marks.items():
            line, dot = self.marks[key], self.dots[key]
            show = final and lr is not None and math.isfinite(lr)
            line.setVisible(show)
            if not show or lr is None:
                dot.setData([], [])
                continue
            line.setPos(math.log10(lr))  # the x axis is in log10 units
            name = "steepest" if key == STEEPEST else "min/10"
            star = " ★" if key == result.suggestion else ""
            line.label.setFormat(f"{name}: {_lr_text(lr)}{star}")
            y = float(np.interp(math.log10(lr), np.log10(result.lrs), result.smoothed))
            dot.setData([math.log10(lr)], [y])
        # The y range: from the lowest loss to the curve's start or (when it blows up) a little
        # under the stop level, so the final blow-up does not flatten what matters.
        s_min = float(np.min(result.smoothed))
        lo = min(s_min, float(np.min(result.losses)))
        top = max(float(result.smoothed[0]), min(float(np.max(result.smoothed)), result.diverge_factor * s_min))
        pad = 0.06 * max(top - lo, 1e-6)
        self.plot.setYRange(lo - pad, top + pad, padding=0)
        self.plot.setXRange(math.log10(result.start), math.log10(result.end), padding=0.02)

    # -- the panel -----------------------------------------------------------------------------
    def use_suggestion(self) -> str | None:
        """Write the suggested lr into the config's optim.lr (the panel shows it; a live run
        takes it at once, otherwise it applies when the run starts). The error, or None."""
        if self.result is None:
            return "no range test result"
        lr = float(_lr_text(self.result.suggested_lr))
        error = self.controller.set_field("optim.lr", lr)
        if error:
            self.status.setText(f"<span style='color:#D55E00'>{error}</span>")
            return error
        c = self.controller
        if c.restart_needed:
            when = "it applies when the run restarts (Ctrl+R)"
        elif c.worker is not None and c.state in LIVE_STATES:
            when = "the running optimizer uses it from its next step"
        else:
            when = "the next run starts with it"
        self.status.setText(f"optim.lr set to {lr:g} in the panel: {when}.")
        return None

    # -- sessions ------------------------------------------------------------------------------
    def save_into(self, session) -> None:
        if self.result is not None:
            self.result.store_in(session)

    def load_session(self, session) -> None:
        self.jobs.cancel(self.job_key)
        self._idle()
        try:
            result = stored_result(session)
        except ValueError as e:
            self.show_result(None)
            self.controller.notice.emit(f"the saved learning-rate range test cannot be read: {e}", "error")
            return
        self.show_result(result)
        if result is not None and not session.runs:
            # A session of only a range test (descent lr-find --out): its config is the one to tune.
            self.controller.set_config(result.config)
