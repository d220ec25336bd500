"""The "Playground" tab: optimizers racing on an exact 2-parameter surface.

The race is a job (engine.playground.job) on the app's job runner, off the GUI thread; a
30 Hz frame timer moves a cursor along the recorded steps ("speed" steps per frame) and
updates the 3D surface, the contour map, the loss plot and the legend in place. A saved
race (a session's playground part) replays through the same drawing code.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.jobs import JobHandle
from desktop.panels.hyperparams import FieldEditor
from desktop.views.base import View
from desktop.views.playground_contour import Contour2D
from desktop.views.playground_plots import SERIES_MODES, LazySurface3D, LossPlot, SurfaceGrid
from desktop.views.playground_racers import LegendTable, RacerEditor, Transport
from engine.config import ConfigError, OptimConfig
from engine.playground.config import PALETTE, PlaygroundConfig, Racer, make_config, settings_specs, suggested_lr
from engine.playground.functions import get_function
from engine.playground.session import has_playground, paths_to_session, playground_from_session, race_to_session
from engine.states import RunState

if TYPE_CHECKING:
    from engine.playground.race import Race, RacerPath

CMAP = "viridis"


class PlaygroundView(View):
    """Optimizer race on a test function: 3D surface, contour map, loss plot, legend, controls."""

    title = "Playground"
    own_work = "race"
    uses_panel = False  # the race has its own settings panel
    FRAME_MS = 33
    TABLE_EVERY_S = 0.25
    LOSS_EVERY_S = 0.1

    def __init__(
        self, controller=None, parent: QWidget | None = None, config: PlaygroundConfig | None = None, grid_n: int = 200
    ) -> None:
        super().__init__(controller, parent)
        self.cfg = config or make_config("rosenbrock", None, {"steps": 3000})
        self._first_cfg = self.cfg  # the race shown by itself (work_token)
        self.grid_n = grid_n
        self.cmap = pg.colormap.get(CMAP)
        self.race: Race | None = None  # the race being computed or computed (its arrays are preallocated)
        self.job: JobHandle | None = None  # the job advancing it
        self.replay: list[RacerPath] | None = None
        self.cursor = 0
        self.playing = True
        self.grid: SurfaceGrid | None = None
        self._grid_key: tuple = ()
        self._scaled_function = ""
        self._drawn_cursor = -1
        self._last_table = 0.0
        self._last_loss = 0.0
        self._paths_cache: tuple | None = None
        self.frame_times: deque[float] = deque(maxlen=240)
        self._build_ui()
        self.timer = QTimer(self)
        self.timer.setInterval(self.FRAME_MS)
        self.timer.timeout.connect(self._on_timer_frame)

    def showEvent(self, event) -> None:
        if self.race is None and self.replay is None:
            self.restart()  # the first race starts when the tab is first shown
        self.timer.start()  # frames only while the tab is visible
        super().showEvent(event)

    def hideEvent(self, event) -> None:
        self.timer.stop()
        super().hideEvent(event)

    # -- layout ---------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.surface = LazySurface3D()  # OpenGL once shown
        self.contour = Contour2D()
        self.contour.start_clicked.connect(self._on_contour_start_clicked)
        self.loss_plot = LossPlot()
        self.table = LegendTable()
        self.table.itemSelectionChanged.connect(self._on_table_selection)

        controls = QWidget()
        col = QVBoxLayout(controls)
        self.transport = Transport()
        self.transport.play.clicked.connect(self._on_transport_play)
        self.transport.step.clicked.connect(self._on_transport_step)
        self.transport.reset.clicked.connect(self._on_transport_reset)
        col.addWidget(self.transport)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("playground:status")
        col.addWidget(self.status)

        box = QGroupBox("Surface and race")
        form = QFormLayout(box)
        self.settings: dict[str, FieldEditor] = {}
        for spec in settings_specs():
            ed = FieldEditor(spec, self._on_setting_commit)
            self.settings[spec.key] = ed
            form.addRow(spec.key, ed.widget)
        self.start_edit = QLineEdit()
        self.start_edit.setToolTip("Start point x, y (or click on the contour map)")
        self.start_edit.editingFinished.connect(self._on_start_edited)
        suggested = QPushButton("Suggested")
        suggested.setToolTip("Use the function's suggested start point")
        suggested.clicked.connect(lambda: self.apply({"start": None}))
        row = QHBoxLayout()
        row.addWidget(self.start_edit)
        row.addWidget(suggested)
        form.addRow("start", row)
        self.log_height = QCheckBox("log height")
        self.log_height.setToolTip("Draw log10 of the height above the minimum (for steep surfaces)")
        self.log_height.toggled.connect(self._on_log_height_toggled)
        self.show_grad = QCheckBox("gradient arrows")
        self.show_grad.setToolTip("Solid: direction of −gradient at each current point")
        self.show_vel = QCheckBox("velocity arrows")
        self.show_vel.setToolTip("Dashed: direction of −velocity (momentum buffer / Adam's first moment)")
        for cb in (self.show_grad, self.show_vel):
            cb.toggled.connect(self._on_arrows_toggled)
        form.addRow(self.log_height)
        arrows = QHBoxLayout()
        arrows.addWidget(self.show_grad)
        arrows.addWidget(self.show_vel)
        form.addRow(arrows)
        col.addWidget(box)
        self.editor = RacerEditor(self._commit_racer_field)
        self.editor.add_requested.connect(self._on_editor_add)
        self.editor.remove_requested.connect(self._on_editor_remove)
        col.addWidget(self.editor)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(controls.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)

        top = QSplitter(Qt.Horizontal)
        top.addWidget(self.surface)
        top.addWidget(self.contour)
        self.series = QComboBox()
        self.series.setObjectName("playground:series")
        self.series.addItems(list(SERIES_MODES))
        self.series.setToolTip("What the plot below shows per optimizer and step")
        self.series.currentTextChanged.connect(self._on_series_changed)
        series_box = QWidget()
        sl = QVBoxLayout(series_box)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.series)
        sl.addWidget(self.loss_plot)
        bottom = QSplitter(Qt.Horizontal)
        bottom.addWidget(series_box)
        bottom.addWidget(self.table)
        right = QSplitter(Qt.Vertical)
        right.addWidget(top)
        right.addWidget(bottom)
        bottom.setSizes([450, 550])
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        main = QSplitter(Qt.Horizontal)
        main.addWidget(scroll)
        main.addWidget(right)
        main.setStretchFactor(1, 1)
        main.setSizes([330, 1170])
        lay = QHBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(main)

    # -- race lifecycle ------------------------------------------------------------------
    def restart(self) -> None:
        """(Re)start the race of self.cfg from step 0, computed off the GUI thread."""
        from engine.playground.job import race_job
        from engine.playground.race import Race

        self._stop_job()
        self.replay = None
        self.race = Race(self.cfg)
        self.job = self.start_job(race_job(self.race), on_result=None)
        self._reset_display()

    def show_replay(self, cfg: PlaygroundConfig, paths: list[RacerPath]) -> None:
        """Replay recorded paths (from a session) from step 0."""
        self._stop_job()
        self.cfg = cfg
        self.replay = paths
        self._reset_display()

    def _stop_job(self) -> None:
        if self.job is not None:
            self.job.cancel()
        self.job = None
        self.race = None

    def _reset_display(self) -> None:
        cfg = self.cfg
        fn = get_function(cfg.function)
        if cfg.function != self._scaled_function:
            self._scaled_function = cfg.function
            self.log_height.blockSignals(True)  # a new surface: its suggested height scale
            self.log_height.setChecked(fn.log_height)
            self.log_height.blockSignals(False)
        key = (cfg.function, cfg.condition, cfg.rotation, self.log_height.isChecked())
        if key != self._grid_key:
            self.grid = SurfaceGrid(fn, cfg.params, self.grid_n, log=self.log_height.isChecked())
            self._grid_key = key
            self.surface.set_grid(self.grid, self.cmap)
            self.contour.set_grid(self.grid, self.cmap, fn.minima(cfg.params), cfg.start_point)
        self.contour.set_start(cfg.start_point)
        colors = [r.color for r in cfg.racers]
        self.surface.set_racers(colors)
        self.contour.set_racers(colors)
        mins = fn.minima(cfg.params)
        fmin = min(float(fn.value(np.array(mx), np.array(my), np, cfg.params)) for mx, my in mins) if mins else None
        self.loss_plot.set_racers(colors, [r.label for r in cfg.racers], fmin, cfg.steps)
        self.table.set_racers(cfg)
        self._sync_widgets()
        self.cursor = 0
        self._drawn_cursor = -1
        self.set_playing(True)
        self._draw()

    def _sync_widgets(self) -> None:
        for key, ed in self.settings.items():
            ed.set_value(getattr(self.cfg, key))
        x, y = self.cfg.start_point
        self.start_edit.setText(f"{x:g}, {y:g}")
        self._on_table_selection()

    def shutdown(self) -> None:
        self.timer.stop()
        job = self.job
        self._stop_job()
        if job is not None:
            job.wait(1.0)  # the chunk being computed ends

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    # -- data access -----------------------------------------------------------------------
    def paths(self) -> list[RacerPath]:
        if self.replay is not None:
            return self.replay
        race = self.race
        if race is None:
            return []
        if self._paths_cache is not None and self._paths_cache[0] is race:
            return self._paths_cache[1]
        paths = [race.path(i) for i in range(race.n)]
        if not self.computing:  # finished: the paths no longer change
            self._paths_cache = (race, paths)
        return paths

    @property
    def computing(self) -> bool:
        return self.job is not None and self.job.computing

    def available_steps(self) -> int:
        return max((p.steps_taken for p in self.paths()), default=0)

    # -- frames --------------------------------------------------------------------------
    def set_playing(self, playing: bool) -> None:
        self.playing = playing
        self.transport.set_playing(playing)

    def _on_timer_frame(self) -> None:
        avail = self.available_steps()
        if self.playing:
            self.cursor = min(self.cursor + self.transport.steps_per_frame, avail)
            if self.cursor >= avail and not self.computing:
                self.set_playing(False)
        if self.cursor != self._drawn_cursor:
            self._draw()
        elif time.perf_counter() - self._last_table > 1.0:
            self._update_status()

    def _draw(self) -> None:
        t0 = time.perf_counter()
        paths = self.paths()
        if not paths or self.grid is None:
            return
        c = self.cursor
        cut = []
        grads: list | None = [] if self.show_grad.isChecked() else None
        vels: list | None = [] if self.show_vel.isChecked() else None
        for p in paths:
            k = min(c, p.steps_taken)
            cut.append((p.positions[: k + 1], p.losses[: k + 1]))
            if grads is not None:
                g = p.gradients[k] if k < p.steps_taken else (p.gradients[k - 1] if k > 0 else None)
                grads.append(None if g is None else -g)
            if vels is not None:
                vels.append(-p.velocities[k - 1] if k > 0 else None)
        stopped = [p.status == RunState.DIVERGED and c >= p.steps_taken for p in paths]
        self.surface.draw(cut, grads, vels)
        self.contour.draw([pos for pos, _ in cut], grads, vels, stopped)
        now = time.perf_counter()
        if now - self._last_loss > self.LOSS_EVERY_S or not self.playing:  # the loss plot at ~10 Hz
            self.loss_plot.draw(paths, [len(pos) - 1 for pos, _ in cut])
            self._last_loss = now
        self._drawn_cursor = c
        if now - self._last_table > self.TABLE_EVERY_S or not self.playing:
            self._update_table(paths, cut)
            self._last_table = now
        self.frame_times.append(time.perf_counter() - t0)

    def _update_table(self, paths: list[RacerPath], cut) -> None:
        from engine.playground.race import nearest_minimum_distance

        fn = get_function(self.cfg.function)
        for row, (p, (pos, loss)) in enumerate(zip(paths, cut)):
            k = len(pos) - 1
            status = p.status if k >= p.steps_taken else "racing"
            self.table.set_values(
                row, float(loss[-1]), nearest_minimum_distance(fn, self.cfg.params, pos[-1]), k, status
            )
        self._update_status()

    def _update_status(self) -> None:
        fn = get_function(self.cfg.function)
        state = (
            "replaying a saved race"
            if self.replay is not None
            else f"computing {100 * self.race.done / max(1, self.race.total):.0f}%"
            if self.computing and self.race is not None
            else ""
        )
        if self.job is not None and self.job.error:
            state = f"race failed: {self.job.error}"
        diverged = [p.label for p in self.paths() if p.status == RunState.DIVERGED and self.cursor >= p.steps_taken]
        text = f"<b>{fn.title}</b>: {fn.lesson}.<br>step {self.cursor} / {self.available_steps()} {state}"
        if diverged:
            text += f"<br><span style='color:#D55E00'>diverged: {', '.join(diverged)} (path stopped)</span>"
        self.status.setText(text)

    # -- edits -----------------------------------------------------------------------------
    def apply(self, updates: dict[str, Any]) -> str | None:
        """Apply setting/racer updates (dotted keys as `PlaygroundConfig.with_updates` takes them,
        e.g. "steps" or "adam.optim.lr"); a valid change restarts the race. Returns an error or None."""
        try:
            data_updates = dict(updates)
            if "start" in updates and updates["start"] is None:
                data_updates.pop("start")
                cfg = self.cfg.model_copy(update={"start": None})
            else:
                cfg = self.cfg
            cfg = cfg.with_updates(data_updates)
            if cfg.function != self.cfg.function:
                cfg = self._retarget(cfg)
        except ConfigError as e:
            self.status.setText(f"<span style='color:#D55E00'>{e}</span>")
            return str(e)
        self.cfg = cfg
        self.restart()
        return None

    @staticmethod
    def _retarget(cfg: PlaygroundConfig) -> PlaygroundConfig:
        """A new function: its suggested start and learning rates (other hyperparameters kept)."""
        racers = [
            r.model_copy(update={"optim": r.optim.model_copy(update={"lr": suggested_lr(cfg.function, r.optim.name)})})
            for r in cfg.racers
        ]
        return cfg.model_copy(update={"start": None, "racers": racers})

    def _on_setting_commit(self, key: str, value: Any) -> str | None:
        if getattr(self.cfg, key) == value:
            return None
        return self.apply({key: value})

    def _on_start_edited(self) -> None:
        text = self.start_edit.text()
        x, y = self.cfg.start_point
        if text.strip() != f"{x:g}, {y:g}":
            err = self.apply({"start": text})
            self.start_edit.setStyleSheet("border: 2px solid #D55E00;" if err else "")

    def _on_contour_start_clicked(self, x: float, y: float) -> None:
        self.apply({"start": [round(x, 4), round(y, 4)]})

    def _commit_racer_field(self, label: str, key: str, value: Any) -> str | None:
        i = [r.label for r in self.cfg.racers].index(label)
        if key == "optim.name":
            # a different optimizer: its suggested learning rate on this function
            lr = suggested_lr(self.cfg.function, value)
            racers = list(self.cfg.racers)
            racers[i] = racers[i].model_copy(update={"optim": OptimConfig(name=value, lr=lr)})
            self.cfg = self.cfg.model_copy(update={"racers": racers})
            self.restart()
            return None
        section, field = key.split(".", 1)
        if getattr(getattr(self.cfg.racers[i], section), field) == value:
            return None
        return self.apply({f"{label}.{key}": value})

    def _on_editor_add(self, name: str) -> None:
        labels = {r.label for r in self.cfg.racers}
        if len(labels) >= 12:
            self.status.setText("<span style='color:#D55E00'>at most 12 optimizers race at once</span>")
            return
        n, label = 1, name
        while label in labels:
            n += 1
            label = f"{name}-{n}"
        used = {r.color for r in self.cfg.racers}
        color = next((c for c in PALETTE if c not in used), PALETTE[len(labels) % len(PALETTE)])
        racer = Racer(label=label, color=color, optim=OptimConfig(name=name, lr=suggested_lr(self.cfg.function, name)))
        self.cfg = self.cfg.model_copy(update={"racers": [*self.cfg.racers, racer]})
        self.restart()
        self.table.selectRow(len(self.cfg.racers) - 1)

    def _on_editor_remove(self) -> None:
        row = self.table.currentRow()
        if len(self.cfg.racers) <= 1 or row < 0:
            self.status.setText("<span style='color:#D55E00'>the race needs at least one optimizer</span>")
            return
        racers = [r for i, r in enumerate(self.cfg.racers) if i != row]
        self.cfg = self.cfg.model_copy(update={"racers": racers})
        self.restart()

    def _on_table_selection(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self.cfg.racers):
            self.editor.show_racer(self.cfg.racers[row])

    def _on_log_height_toggled(self, _on: bool) -> None:
        self._grid_key = ()
        cursor, playing = self.cursor, self.playing
        self._reset_display()
        self.cursor, self._drawn_cursor = cursor, -1
        self.set_playing(playing)
        self._draw()

    def _on_series_changed(self, mode: str) -> None:
        self.loss_plot.set_mode(mode)
        self._drawn_cursor = -1
        self._last_loss = 0.0
        self._draw()

    def _on_arrows_toggled(self, _on: bool) -> None:
        self._drawn_cursor = -1
        self._draw()

    # -- transport -------------------------------------------------------------------------
    def _on_transport_play(self) -> None:
        if not self.playing and self.cursor >= self.available_steps() and not self.computing:
            self.cursor = 0  # play again from the start
        self.set_playing(not self.playing)

    def _on_transport_step(self) -> None:
        self.set_playing(False)
        self.cursor = min(self.cursor + 1, self.available_steps())
        self._draw()

    def _on_transport_reset(self) -> None:
        self.set_playing(False)
        self.cursor = 0
        self._draw()

    def seek(self, step: int) -> None:
        """Show the race at `step` (paused)."""
        self.set_playing(False)
        self.cursor = max(0, min(step, self.available_steps()))
        self._draw()

    def wait_computed(self, timeout: float = 10.0) -> bool:
        """Block until the background race is computed (tests, screenshots)."""
        t_end = time.perf_counter() + timeout
        while self.computing and time.perf_counter() < t_end:
            time.sleep(0.01)
        return not self.computing

    # -- sessions ----------------------------------------------------------------------------
    def load_session(self, session) -> None:
        if not has_playground(session):
            return
        try:
            cfg, paths = playground_from_session(session)
        except ValueError as e:
            self.status.setText(f"<span style='color:#D55E00'>cannot replay the playground race: {e}</span>")
            return
        self.show_replay(cfg, paths)

    def work_token(self) -> object:
        """The race the user set up (its config) or the replay shown; the race the tab starts
        by itself, on its first config, is nothing to lose."""
        if self.replay is not None:
            return ("replay", self.cfg)
        if self.race is None or self.cfg == self._first_cfg:
            return None
        return ("race", self.cfg)

    def save_into(self, session) -> None:
        if self.replay is not None:
            paths_to_session(self.cfg, self.replay, self.available_steps(), session)
        elif self.race is not None and self.race.done > 0:
            self.wait_computed(10.0)  # save a finished race, not one mid-chunk
            race_to_session(self.race, session)
