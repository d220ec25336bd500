"""The playground's legend table and the per-racer hyperparameter editor.

The editor's inputs are generated from the same OptimConfig/ScheduleConfig field specs
as the main hyperparameter panel (FieldEditor), showing only the fields the selected
racer's optimizer uses. Every accepted edit asks the view to restart the race.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.panels.hyperparams import FieldEditor
from engine.config import OPTIMIZERS, ScheduleConfig
from engine.playground.config import PlaygroundConfig, racer_field_spec, schedule_fields
from engine.states import RunState

FIELDS_OF = {
    "sgd": ("lr", "weight_decay"),
    "momentum": ("lr", "momentum", "dampening", "weight_decay"),
    "nesterov": ("lr", "momentum", "weight_decay"),
    "adagrad": ("lr", "lr_decay", "initial_accumulator", "eps", "weight_decay"),
    "rmsprop": ("lr", "alpha", "eps", "rmsprop_momentum", "centered", "weight_decay"),
    "adam": ("lr", "betas", "eps", "amsgrad", "weight_decay"),
    "adamw": ("lr", "betas", "eps", "amsgrad", "weight_decay"),
}
ALL_FIELDS = (
    "name",
    "lr",
    "momentum",
    "dampening",
    "betas",
    "eps",
    "weight_decay",
    "lr_decay",
    "initial_accumulator",
    "alpha",
    "rmsprop_momentum",
    "centered",
    "amsgrad",
)
SCHEDULE_FIELDS = tuple(ScheduleConfig.model_fields)  # name first, then every schedule's parameters
COLUMNS = ("optimizer", "loss", "dist. to min", "steps", "status", "settings")
HYPER_COL = 5


def hyper_text(r) -> str:
    o = r.optim
    parts = [f"lr={o.lr:g}"]
    if o.name in ("momentum", "nesterov"):
        parts.append(f"μ={o.momentum:g}")
    elif o.name == "rmsprop":
        parts.append(f"α={o.alpha:g}")
        if o.rmsprop_momentum:
            parts.append(f"μ={o.rmsprop_momentum:g}")
    elif o.name in ("adam", "adamw"):
        parts.append(f"β=({o.betas[0]:g}, {o.betas[1]:g})")
    if o.weight_decay:
        parts.append(f"wd={o.weight_decay:g}")
    if r.schedule.name != "constant":
        parts.append(r.schedule.name)
    return ", ".join(parts)


def _fmt(x: float | None, digits: int = 4) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


class LegendTable(QTableWidget):
    """One row per racer: colour, optimizer, hyperparameters, current loss, distance to the
    nearest minimum, steps taken, status (diverged rows are marked)."""

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        h = self.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeToContents)
        h.setSectionResizeMode(HYPER_COL, QHeaderView.Stretch)
        h.setMinimumSectionSize(40)

    def set_racers(self, cfg: PlaygroundConfig) -> None:
        keep = self.currentRow()
        self.setRowCount(len(cfg.racers))
        for row, r in enumerate(cfg.racers):
            name = QTableWidgetItem(f"■ {r.label}")
            name.setForeground(QBrush(QColor(r.color)))
            self.setItem(row, 0, name)
            hyper = QTableWidgetItem(hyper_text(r))
            hyper.setToolTip(hyper_text(r))
            self.setItem(row, HYPER_COL, hyper)
            for col in range(1, HYPER_COL):
                self.setItem(row, col, QTableWidgetItem(""))
        self.selectRow(min(max(keep, 0), len(cfg.racers) - 1))

    def set_values(self, row: int, loss: float | None, dist: float | None, steps: int, status: str) -> None:
        for col, text in ((1, _fmt(loss)), (2, _fmt(dist, 3)), (3, str(steps)), (4, status)):
            it = self.item(row, col)
            if it is not None and it.text() != text:
                it.setText(text)
                if col == 4:
                    it.setForeground(QBrush(QColor("#D55E00" if status == RunState.DIVERGED else "#222222")))


class RacerEditor(QGroupBox):
    """Edit the selected racer: optimizer, its hyperparameters and schedule; add/remove racers.
    Only the fields the racer's optimizer and schedule read are shown (every parameter of
    the chosen torch.optim.lr_scheduler schedule, with its range and help in the tooltip).
    `commit(label, key, value)` returns an error message or None (then the race restarts)."""

    add_requested = Signal(str)
    remove_requested = Signal()

    def __init__(self, commit: Callable[[str, str, Any], str | None], parent=None) -> None:
        super().__init__("Selected optimizer", parent)
        self._commit_cb = commit
        self.label = ""
        self.form = QFormLayout()
        self.editors: dict[str, FieldEditor] = {}
        for f in ALL_FIELDS:
            ed = FieldEditor(racer_field_spec(f"optim.{f}"), self._on_field_commit)
            self.editors[f"optim.{f}"] = ed
            self.form.addRow(f.replace("_", " "), ed.widget)
        self.schedule_box = QGroupBox("Learning-rate schedule")
        self.schedule_box.setToolTip("torch.optim.lr_scheduler, stepped once per optimizer step")
        self.schedule_form = QFormLayout(self.schedule_box)
        for f in SCHEDULE_FIELDS:
            ed = FieldEditor(racer_field_spec(f"schedule.{f}"), self._on_field_commit)
            self.editors[f"schedule.{f}"] = ed
            self.schedule_form.addRow("schedule" if f == "name" else f.replace("_", " "), ed.widget)
        for ed in self.editors.values():  # here no edit applies live: every change restarts the race
            ed.base_tip = (
                ed.base_tip.replace("<br>applies live to the running optimizer", "") + "<br>a change restarts the race"
            )
            ed.widget.setToolTip(ed.base_tip)
        buttons = QHBoxLayout()
        self.add_combo = QComboBox()
        self.add_combo.addItems(list(OPTIMIZERS))
        self.add_combo.setObjectName("playground:add_optimizer")
        add = QPushButton("Add")
        add.setToolTip("Add a racer with this optimizer (the race restarts)")
        add.clicked.connect(lambda: self.add_requested.emit(self.add_combo.currentText()))
        self.remove = QPushButton("Remove selected")
        self.remove.clicked.connect(self.remove_requested.emit)
        buttons.addWidget(self.add_combo)
        buttons.addWidget(add)
        buttons.addWidget(self.remove)
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.schedule_box)
        lay.addLayout(buttons)

    def show_racer(self, racer) -> None:
        self.label = racer.label
        self.setTitle(f"Optimizer '{racer.label}'")
        used = set(FIELDS_OF[racer.optim.name]) | {"name"}
        for f in ALL_FIELDS:
            ed = self.editors[f"optim.{f}"]
            ed.set_value(getattr(racer.optim, f))
            self.form.setRowVisible(ed.widget, f in used)
        sched = racer.schedule
        used_sched = set(schedule_fields(sched)) | {"name"}
        for f in SCHEDULE_FIELDS:
            ed = self.editors[f"schedule.{f}"]
            ed.set_value(getattr(sched, f))
            self.schedule_form.setRowVisible(ed.widget, f in used_sched)

    def visible_fields(self) -> list[str]:
        """The dotted keys whose rows are shown (tests, screenshots)."""
        out = [k for k, ed in self.editors.items() if k.startswith("optim.") and self.form.isRowVisible(ed.widget)]
        return out + [
            k
            for k, ed in self.editors.items()
            if k.startswith("schedule.") and self.schedule_form.isRowVisible(ed.widget)
        ]

    def _on_field_commit(self, key: str, value: Any) -> str | None:
        if not self.label:
            return None
        return self._commit_cb(self.label, key, value)


class Transport(QWidget):
    """Play/pause, step, reset and the speed (steps per frame)."""

    SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.play = QPushButton("Pause race")
        self.play.setObjectName("playground:play")
        self.play.setToolTip("Play or pause this tab's race (the toolbar acts on the main run)")
        self.step = QPushButton("Step race")
        self.reset = QPushButton("Reset race")
        self.speed = QComboBox()
        self.speed.addItems([f"{s} / frame" for s in self.SPEEDS])
        self.speed.setCurrentIndex(3)
        self.speed.setToolTip("Steps shown per frame (30 frames/s)")
        for w in (self.play, self.step, self.reset, self.speed):
            lay.addWidget(w)

    @property
    def steps_per_frame(self) -> int:
        return self.SPEEDS[self.speed.currentIndex()]

    def set_playing(self, playing: bool) -> None:
        self.play.setText("Pause race" if playing else "Play race")
