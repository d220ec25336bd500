"""The main run's speed and what a finished run offers, on the run toolbar.

Speed: steps per second from "slow" to "as fast as possible" (a setting of this window,
remembered; the engine paces the run, headless commands never do). A finished, stopped or
reopened run offers Train more (N more epochs from its weights and optimizer state) next to
Restart; the Pause/Resume action says "Train more" then, so nothing retrains silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QSlider, QSpinBox, QToolBar

from desktop.controller import CAN_TRAIN_MORE
from engine.states import RunState, parse_state

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

# Steps per second of the speed slider's notches; None: as fast as possible.
SPEEDS: list[float | None] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, None]
# Slow enough to watch the default experiment learn: its 1300 steps take ~2 min at this
# pace, the loss falls visibly for the first ~30 s (0.3 at epoch 5, 0.007 at epoch 20).
WATCHABLE_SPEED = 10.0
DEFAULT_SPEED: float | None = WATCHABLE_SPEED
SETTINGS_KEY = "run/max_steps_per_s"


def speed_text(speed: float | None) -> str:
    return "as fast as possible" if speed is None else f"{speed:g} steps/s"


def saved_speed(settings: QSettings) -> float | None:
    """The speed remembered in `settings` (0: as fast as possible), else DEFAULT_SPEED."""
    v = settings.value(SETTINGS_KEY)
    if v is None:
        return DEFAULT_SPEED
    try:
        f = float(v)
    except (TypeError, ValueError):
        return DEFAULT_SPEED
    return f if f > 0 else None


class RunControls:
    """The speed slider, Train more and its epoch count, on the window's run toolbar."""

    def __init__(self, window: MainWindow, toolbar: QToolBar) -> None:
        self.window = window
        self.controller = c = window.controller
        self.settings = window.settings

        pause_button = toolbar.widgetForAction(window.act_pause)
        if pause_button is not None:  # wide enough for its longest text, "Train more"
            pause_button.setMinimumWidth(pause_button.fontMetrics().horizontalAdvance("Train more") + 16)
        toolbar.addSeparator()
        self.act_train_more = QAction("Train more", window)
        self.act_train_more.setShortcut(QKeySequence("Ctrl+M"))
        self.act_train_more.setShortcutContext(Qt.WindowShortcut)
        self.act_train_more.setToolTip(
            "Train the finished run for more epochs from its weights and optimizer state (Ctrl+M)"
        )
        self.act_train_more.triggered.connect(self._on_train_more_triggered)
        window.addAction(self.act_train_more)
        toolbar.addAction(self.act_train_more)
        run_menu = getattr(window, "run_menu", None)
        if run_menu is not None:
            run_menu.addAction(self.act_train_more)
        self.more_epochs = QSpinBox()
        self.more_epochs.setRange(1, 100_000)
        self.more_epochs.setValue(c.more_epochs)
        self.more_epochs.setPrefix("+")
        self.more_epochs.setSuffix(" epochs")
        self.more_epochs.setToolTip("How many more epochs Train more runs")
        self.more_epochs.valueChanged.connect(self._on_more_epochs_changed)
        toolbar.addWidget(self.more_epochs)

        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Speed "))
        self.speed = QSlider(Qt.Horizontal)
        self.speed.setRange(0, len(SPEEDS) - 1)
        self.speed.setPageStep(1)
        self.speed.setFixedWidth(140)
        self.speed.setToolTip("Steps per second at most, from slow (to watch) to as fast as possible")
        self.speed_label = QLabel()
        self.speed_label.setMinimumWidth(130)
        toolbar.addWidget(self.speed)
        toolbar.addWidget(self.speed_label)
        self.set_speed(saved_speed(self.settings))
        self.speed.valueChanged.connect(self._on_speed_changed)

        c.state_changed.connect(self._on_controller_state_changed)
        self._on_controller_state_changed(c.state, "")

    # -- speed -------------------------------------------------------------------------------
    def set_speed(self, speed: float | None) -> None:
        """Pace the main run (None: as fast as possible); the slider moves to the nearest notch."""
        if speed is None:
            i = len(SPEEDS) - 1
        else:
            i = min(range(len(SPEEDS) - 1), key=lambda k: abs((SPEEDS[k] or 0) - speed))
        self.speed.blockSignals(True)
        self.speed.setValue(i)
        self.speed.blockSignals(False)
        self._apply(SPEEDS[i])

    def _apply(self, speed: float | None) -> None:
        self.controller.set_speed(speed)
        self.speed_label.setText(speed_text(speed))
        self.settings.setValue(SETTINGS_KEY, speed or 0.0)

    def _on_speed_changed(self, i: int) -> None:
        self._apply(SPEEDS[i])

    # -- train more ----------------------------------------------------------------------------
    def _on_more_epochs_changed(self, n: int) -> None:
        self.controller.more_epochs = n

    def _on_train_more_triggered(self) -> None:
        if self.controller.train_more(self.more_epochs.value()):
            self.window.tabs.setCurrentIndex(0)

    def _on_controller_state_changed(self, state: str, _message: str = "") -> None:
        s = parse_state(state, RunState.IDLE)
        over = s in CAN_TRAIN_MORE and self.controller.can_train_more()
        self.act_train_more.setEnabled(over)
        self.more_epochs.setEnabled(over)
        pause = self.window.act_pause
        if s == RunState.RUNNING:
            pause.setText("Pause")
        elif over:
            pause.setText("Train more")
        else:
            pause.setText("Resume" if s in (RunState.PAUSED, RunState.DIVERGED) else "Train")
