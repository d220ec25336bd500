"""The diagnostics panel: every finding with its step, markers on a loss curve, and the
one-click sanity checks (initial loss vs ln C, overfit a tiny subset)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.plotting import GrowingArray, style_plot
from desktop.views.base import View
from desktop.views.log_axis import log_plot
from engine.diagnostics.snapshot import DiagnosticSnapshot
from engine.diagnostics.snapshot import from_record as diagnostics_of
from engine.events import Event, StepBatch, series_events

LEVEL_COLORS = {"info": "#009E73", "warning": "#E69F00", "error": "#D55E00"}
COLUMNS = ["step", "epoch", "level", "kind", "layer", "message"]


def initial_loss_check(config) -> dict:
    """The initial-loss sanity check on a fresh, untrained model of the config."""
    from engine.data import load_data
    from engine.diagnostics import check_initial_loss, initial_loss
    from engine.model import build_model

    data = load_data(config)
    model = build_model(config.model, data.n_features, data.n_classes, config.seed)
    loss = initial_loss(model, data.x_train, data.y_train)
    return check_initial_loss(loss, data.n_classes, config.diagnostics.initial_loss_tolerance).to_json()


class DiagnosticsView(View):
    title = "Diagnostics"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.run_id = ""
        self.found: list[dict] = []
        self.step = GrowingArray()
        self.loss = GrowingArray()
        self._label = ""
        # sanity checks
        self.n_samples = QSpinBox()
        self.n_samples.setRange(2, 1000)
        self.n_samples.setValue(20)
        self.max_steps = QSpinBox()
        self.max_steps.setRange(10, 100_000)
        self.max_steps.setValue(300)
        self.overfit_button = QPushButton("Overfit a tiny subset")
        self.overfit_button.setToolTip(
            "Train a fresh model of the current config on a few samples: it must reach "
            "100% training accuracy, or the model/code/lr cannot learn"
        )
        self.initial_button = QPushButton("Check initial loss")
        self.initial_button.setToolTip("Cross-entropy of an untrained model of the current config vs ln C")
        self.result = QLabel(" ")
        self.result.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(self.initial_button)
        bar.addSpacing(12)
        bar.addWidget(self.overfit_button)
        bar.addWidget(QLabel("samples"))
        bar.addWidget(self.n_samples)
        bar.addWidget(QLabel("step budget"))
        bar.addWidget(self.max_steps)
        bar.addStretch(1)
        # findings table
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        hh = self.table.horizontalHeader()
        for j in range(len(COLUMNS) - 1):
            hh.setSectionResizeMode(j, QHeaderView.ResizeToContents)
        hh.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.Stretch)
        self.table.setWordWrap(True)
        # loss curve with markers
        self.glw = pg.GraphicsLayoutWidget()
        self.plot = log_plot(self.glw)  # a diverging loss spans decades
        style_plot(self.plot, "Minibatch loss with the diagnostics' steps", "step", "loss")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.c_loss = self.plot.plot(pen=pg.mkPen("#9fb7d0", width=1))
        self.markers: list[pg.InfiniteLine] = []
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.glw)
        split.setSizes([300, 260])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.result)
        lay.addWidget(split, 1)
        self.overfit_button.clicked.connect(self._on_overfit_clicked)
        self.initial_button.clicked.connect(self._on_initial_clicked)

    # -- events --------------------------------------------------------------------------------
    def on_run_started(self, run_id: str, config) -> None:
        self.run_id = run_id
        self.found = []
        self.step.clear()
        self.loss.clear()
        self.table.setRowCount(0)
        for m in self.markers:
            self.plot.removeItem(m)
        self.markers = []
        self.redraw()

    def handle_events(self, events: list[Event]) -> None:
        for e in events:
            if e.run_id != self.run_id:
                continue
            self._add_event(e)
        self.redraw_if_due()

    def _add_event(self, e: Event) -> None:
        """A finding or a step batch, live or replayed."""
        if isinstance(e, DiagnosticSnapshot):
            self.add_finding(e.finding.to_json())
        elif isinstance(e, StepBatch):
            self.step.extend(e.steps)
            self.loss.extend(e.loss)
            self._dirty = True

    def load_session(self, session) -> None:
        if not session.runs:
            return
        rec = session.runs[0]
        self.on_run_started("", rec.config)
        replay = self.read_saved(
            rec,
            "diagnostics",
            lambda: [e for e in series_events("", rec.series) if isinstance(e, StepBatch)] + diagnostics_of(rec),
        )
        for event in replay or []:
            self._add_event(event)
        self.redraw()

    # -- findings ----------------------------------------------------------------------------------
    def add_finding(self, d: dict) -> None:
        self.found.append(d)
        r = self.table.rowCount()
        self.table.insertRow(r)
        vals = [
            str(d.get("step", "")),
            str(d.get("epoch", "")),
            d.get("level", ""),
            d.get("kind", ""),
            d.get("layer", ""),
            d.get("message", ""),
        ]
        level_color = QColor(LEVEL_COLORS.get(d.get("level", ""), "#777777"))
        for j, v in enumerate(vals):
            item = QTableWidgetItem(v)
            if j == 2:
                item.setForeground(level_color)
            self.table.setItem(r, j, item)
        self.table.resizeRowToContents(r)
        step = d.get("step")
        if isinstance(step, (int, float)) and d.get("kind") != "overfit_subset":
            self._mark(float(step), d.get("kind", ""), d.get("level", ""))

    def _mark(self, step: float, kind: str, level: str) -> None:
        """One dashed line per step on the loss curve; findings at the same step share it."""
        for line in self.markers:
            if line.value() == step:
                kinds = line.kinds
                if kind not in kinds:
                    kinds.append(kind)
                    line.label.setFormat(" + ".join(kinds))
                return
        c = LEVEL_COLORS.get(level, "#777777")
        line = pg.InfiniteLine(
            pos=step,
            angle=90,
            movable=False,
            pen=pg.mkPen(c, width=1.5, style=Qt.DashLine),
            label=kind,
            labelOpts={"position": 0.85 - 0.2 * (len(self.markers) % 4), "color": c},
        )
        line.kinds = [kind]
        self.plot.addItem(line)
        self.markers.append(line)

    def redraw(self) -> None:
        self._mark_drawn()
        loss = self.loss.view()
        ok = np.isfinite(loss) & (loss > 0)
        self.c_loss.setData(self.step.view()[ok], loss[ok])

    # -- sanity checks (jobs off the GUI thread; results come back on it) ------------------------
    def _start_job(self, fn, label: str) -> None:
        if self.job_running:
            return
        self._label = label
        self.overfit_button.setEnabled(False)
        self.initial_button.setEnabled(False)
        self.result.setText(f"{label}…")
        config = self.controller.config
        self.start_job(lambda: fn(config), self._on_job_done, self._on_job_failed)

    def _on_job_failed(self, message: str) -> None:
        self._on_job_done(
            {
                "kind": "error",
                "level": "error",
                "step": "",
                "epoch": "",
                "layer": "",
                "message": f"{self._label} failed: {message}",
            }
        )

    def _on_overfit_clicked(self) -> None:
        from engine.diagnostics import overfit_tiny_subset

        n, steps = self.n_samples.value(), self.max_steps.value()

        def job(config) -> dict:
            r = overfit_tiny_subset(config, n_samples=n, max_steps=steps)
            return {
                "kind": "overfit_subset",
                "level": "info" if r.passed else "error",
                "step": "",
                "epoch": "",
                "layer": "",
                "message": r.message,
                "passed": r.passed,
            }

        self._start_job(job, "overfitting a tiny subset")

    def _on_initial_clicked(self) -> None:
        def job(config) -> dict:
            d = initial_loss_check(config)
            d["step"] = ""
            d["epoch"] = ""
            return d

        self._start_job(job, "checking the initial loss")

    def _on_job_done(self, out: dict) -> None:
        self.overfit_button.setEnabled(True)
        self.initial_button.setEnabled(True)
        color = LEVEL_COLORS.get(out.get("level", ""), "#777")
        self.result.setText(f"<span style='color:{color}'><b>{out.get('message', '')}</b></span>")
        self.add_finding(out)
        self.last_result = out
