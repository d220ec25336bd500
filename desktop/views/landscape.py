"""The Landscape tab: the loss surface of the network being trained, with its path.

Snapshots stream from the engine's LandscapeHook (LandscapeSnapshot events) and are projected onto
the current plane as they arrive. Surfaces are asked of the LandscapeController
(desktop/landscape_controller.py), which runs them as jobs off the GUI thread: the surface
appears coarse first and refines; a new request or a new run cancels the job and keeps the
previous surface. Batch-norm layers are evaluated in eval mode (running statistics), as the
status line says.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.jobs import runner_for
from desktop.landscape_controller import LandscapeController
from desktop.views.base import View
from desktop.views.empty_state import EmptyState
from desktop.views.landscape_line import LineToRunPanel
from desktop.views.landscape_plots import LandscapeContour, LandscapeSidePlots, Lazy3D, SurfaceShape
from engine.events import EpochEnd, Event, RunFinished
from engine.landscape.snapshot import LandscapeSnapshot, from_record

if TYPE_CHECKING:
    from engine.landscape.analysis import LandscapeRequest, LandscapeResult
    from engine.landscape.directions import Plane
    from engine.landscape.surface import Surface
    from engine.landscape.trajectory import TrajectoryBuffer

# Automatic refreshes during a run share the machine with the training: the next one starts
# no sooner than MIN_AUTO_REFRESH_S, nor sooner than AUTO_REFRESH_IDLE times the last job's
# duration after it ended (a surface job then takes at most ~1/(1+AUTO_REFRESH_IDLE) of a
# core). With tiny epochs, `landscape.refresh_epochs` alone asked for several jobs a second.
MIN_AUTO_REFRESH_S = 2.0
AUTO_REFRESH_IDLE = 4.0


class LandscapeView(View):
    """3D surface (log-loss option) with the live path, contour map, 1D interpolation,
    sharpness vs 2/lr and the faithfulness read-out."""

    title = "Landscape"

    def __init__(self, controller, parent: QWidget | None = None, surfaces: LandscapeController | None = None) -> None:
        super().__init__(controller, parent)
        self.surfaces = surfaces or getattr(controller, "landscape", None) or LandscapeController(controller, self)
        self.run_id = ""
        self.traj: TrajectoryBuffer | None = None
        self.sharp: list[tuple[float, float, float]] = []  # epoch, λ_max, 2/lr
        self._sharp_stale = False  # sharpness estimates not drawn yet (the view was hidden)
        self.result: LandscapeResult | None = None  # the surface shown (complete)
        self.preview: Surface | None = None  # a job's coarse surface
        self.plane: Plane | None = None
        self.coords = np.zeros((0, 2))
        self.epochs_seen = 0
        self.last_refresh_epoch = 0
        self.session_record = None  # a replayed run
        self._stale = False  # hidden while a refresh was due
        self._job_started = 0.0
        self._last_job_end = -1e9
        self._last_job_s = 0.0
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.timeout.connect(self._on_refresh_timer)
        self.surfaces.preview.connect(self._on_surfaces_preview)
        self.surfaces.finished.connect(self._on_surfaces_finished)
        self.surfaces.failed.connect(self._on_surfaces_failed)
        self._build_ui()

    # -- UI ------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        from typing import get_args

        from engine.config import LandscapeConfig

        kinds = get_args(LandscapeConfig.model_fields["directions"].annotation)  # the planes, without torch
        cfg = self.controller.config.landscape if self.controller is not None else None
        bar = QHBoxLayout()
        self.kind = QComboBox()
        self.kind.addItems(list(kinds))
        self.kind.setToolTip("Plane: PCA of the trajectory, filter-normalized random, init → current + random")
        self.grid = QSpinBox()
        self.grid.setRange(5, 401)
        self.span = QDoubleSpinBox()
        self.span.setRange(0.05, 100.0)
        self.span.setSingleStep(0.25)
        if cfg is not None:
            self.kind.setCurrentText(cfg.directions)
            self.grid.setValue(cfg.grid)
            self.span.setValue(cfg.span)
        self.log = QCheckBox("log loss")
        self.log.toggled.connect(self._on_log_toggled)
        self.compute_btn = QPushButton("Compute surface")
        self.compute_btn.clicked.connect(self.compute)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(160)
        for w in (
            QLabel("Plane"),
            self.kind,
            QLabel("Grid"),
            self.grid,
            QLabel("Span"),
            self.span,
            self.log,
            self.compute_btn,
            self.cancel_btn,
            self.progress,
        ):
            bar.addWidget(w)
        bar.addStretch(1)
        self.status = QLabel("The surface appears after the first epoch of a run.")
        self.status.setWordWrap(True)
        self.faith_label = QLabel("")
        self.faith_label.setWordWrap(True)
        self.surface3d = Lazy3D()
        self.contour = LandscapeContour()
        self.side = LandscapeSidePlots()
        self.line_panel = LineToRunPanel(self._line_source, runner_for(self.controller))
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.side, "1D · sharpness · faithfulness")
        self.side_tabs.addTab(self.line_panel, "Line to a saved run")
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.contour)
        right.addWidget(self.side_tabs)
        right.setSizes([300, 420])
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.surface3d)
        split.addWidget(right)
        split.setSizes([620, 420])
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self.status)
        lay.addWidget(self.faith_label)
        lay.addWidget(split, 1)
        self.empty = EmptyState(split)  # over the 3D box and the contour until a surface shows
        self.empty.show_message("No surface yet: it appears after the first epoch of a run.")
        self._sync_buttons()

    @property
    def busy(self) -> bool:
        """A surface is being computed."""
        return self.surfaces.busy

    def _sync_buttons(self) -> None:
        self.cancel_btn.setEnabled(self.busy)

    def request(self) -> LandscapeRequest:
        from engine.landscape.analysis import LandscapeRequest

        seed = self.controller.config.seed if self.controller is not None else 0
        zero = self.controller.config.landscape.zero_bias_directions if self.controller is not None else True
        return LandscapeRequest(self.kind.currentText(), self.grid.value(), float(self.span.value()), seed, zero)

    # -- events --------------------------------------------------------------------------
    def on_run_started(self, run_id: str, config) -> None:
        self.cancel()
        self._refresh_timer.stop()
        self._last_job_end, self._last_job_s = -1e9, 0.0
        self.run_id = run_id
        self.session_record = None
        self.traj = None
        self.sharp = []
        self._sharp_stale = False
        self.result = self.preview = self.plane = None
        self.coords = np.zeros((0, 2))
        self.epochs_seen = self.last_refresh_epoch = 0
        lc = config.landscape
        self.kind.setCurrentText(lc.directions)
        self.grid.setValue(lc.grid)
        self.span.setValue(lc.span)
        self.side.set_sharpness(np.zeros(0), np.zeros(0), np.zeros(0))
        self.side.set_line(np.zeros(0), np.zeros(0))
        self.side.set_faith(np.zeros(0), np.zeros(0), np.zeros(0))
        self.surface3d.set_path(np.zeros((0, 2)))
        self.contour.set_path(np.zeros((0, 2)))
        self.faith_label.setText("")
        self.line_panel.clear()
        self.status.setText("Recording the path; the surface appears after the first epoch.")
        self.empty.show_message(
            "Recording the path: the surface appears after the first epoch.",
            "Compute the surface now",
            self.compute,
        )

    def handle_events(self, events: list[Event]) -> None:
        new_rows = 0
        auto = final = False
        for e in events:
            if e.run_id != self.run_id or not self.run_id:
                continue
            if isinstance(e, LandscapeSnapshot):
                new_rows += self._add_snapshot(e, self.controller.config.landscape.max_snapshots)
            elif isinstance(e, EpochEnd):
                self.epochs_seen = e.epoch
                every = self.controller.config.landscape.refresh_epochs
                if self.busy:
                    continue
                if self.result is None or (every and e.epoch - self.last_refresh_epoch >= every):
                    auto = True
            elif isinstance(e, RunFinished):
                auto = final = True
        if new_rows and self.plane is not None:
            self._dirty = True  # the path is re-projected and drawn at most every MIN_REDRAW_S
        self.redraw_if_due()
        if auto and self.traj is not None and len(self.traj) >= 2:
            if not self.isVisible():
                # Hidden: no surface work competing with training; refresh when shown.
                self._stale = True
            elif final or self.result is None:
                self._auto_refresh()
            else:
                wait = (
                    self._last_job_end
                    + max(MIN_AUTO_REFRESH_S, AUTO_REFRESH_IDLE * self._last_job_s)
                    - time.perf_counter()
                )
                if wait <= 0:
                    self._auto_refresh()
                elif not self._refresh_timer.isActive():
                    self._refresh_timer.start(int(wait * 1000) + 1)

    def _add_snapshot(self, snap: LandscapeSnapshot, capacity: int) -> int:
        """A snapshot's path rows and sharpness estimates, live or replayed; the rows added."""
        from engine.landscape.trajectory import TrajectoryBuffer

        if len(snap.steps):
            if self.traj is None:
                self.traj = TrajectoryBuffer(snap.params.shape[1], 1, capacity)
            for step, row in zip(snap.steps.tolist(), snap.params):
                self.traj.add(int(step), row)
        if len(snap.sharpness):
            self.sharp.extend(zip(snap.sharpness[:, 0], snap.sharpness[:, 2], snap.two_over_lr))
            self._sharp_stale = True
            if self.isVisible():  # hidden: drawn when shown
                self._draw_sharpness()
        return len(snap.steps)

    def _draw_sharpness(self) -> None:
        self._sharp_stale = False
        s = np.asarray(self.sharp, dtype=np.float64).reshape(-1, 3)
        self.side.set_sharpness(s[:, 0], s[:, 1], s[:, 2])

    def _auto_refresh(self) -> None:
        self._refresh_timer.stop()
        self.last_refresh_epoch = self.epochs_seen
        self.compute()

    def _on_refresh_timer(self) -> None:
        if (
            self.isVisible()
            and not self.busy
            and self.traj is not None
            and len(self.traj) >= 2
            and self.session_record is None
        ):
            self._auto_refresh()

    def redraw(self) -> None:
        self._reproject()
        self._mark_drawn()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._sharp_stale:
            self._draw_sharpness()
        if self._stale and not self.busy and self.traj is not None and len(self.traj) >= 2:
            self._stale = False
            self.last_refresh_epoch = self.epochs_seen
            self.compute()

    def _reproject(self) -> None:
        from engine.landscape.projection import project

        if self.plane is None or self.traj is None or len(self.traj) == 0:
            return
        self.coords, _ = project(self.plane, self.traj.params)
        self.surface3d.set_path(self.coords)
        self.contour.set_path(self.coords)

    # -- jobs ----------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop the running job; the surface shown stays."""
        self.surfaces.cancel()
        self.progress.setValue(0)
        self._sync_buttons()

    def compute(self) -> None:
        """Ask for a surface around the current weights (or a replayed run's final weights)."""
        from engine.landscape.params import LandscapeError

        self.cancel()
        request = self.request()
        traj = self.traj.params.copy() if self.traj is not None and len(self.traj) else None
        steps = self.traj.steps if self.traj is not None else None
        try:
            self.surfaces.compute(request, traj, steps, self.session_record)
        except LandscapeError as e:
            self._on_surfaces_failed(str(e))
            return
        self._job_started = time.perf_counter()
        self.progress.setValue(0)
        if self.empty.showing:
            self.empty.show_message(f"Computing a {request.grid}×{request.grid} loss surface (coarse first)…")
        self.status.setText(
            f"Computing a {request.grid}×{request.grid} surface on a {request.kind} plane "
            "(coarse first)… batch-norm layers in eval mode."
        )
        self._sync_buttons()

    # -- job results (GUI thread) --------------------------------------------------------
    def _on_surfaces_preview(self, surf: Surface | None, level, frac: float) -> None:
        self.progress.setValue(int(frac * 100))
        if surf is None or level is None or frac >= 1.0:
            return
        # A completed coarse level: show it as the preview.
        self.preview = surf
        self.plane = surf.plane
        a, b, loss = surf.level(level)
        self._show_surface(a, b, loss)
        self._reproject()

    def _on_surfaces_finished(self, res: LandscapeResult, line) -> None:
        self._last_job_end = time.perf_counter()
        self._last_job_s = self._last_job_end - self._job_started
        self._sync_buttons()
        self.progress.setValue(100)
        self.result = res
        self.plane = res.surface.plane
        s = res.surface
        self._show_surface(s.alphas, s.betas, s.loss)
        if self.traj is None and len(res.path_coords):
            self.coords = res.path_coords
            self.surface3d.set_path(self.coords)
            self.contour.set_path(self.coords)
        else:
            self._reproject()
        if line is not None:
            self.side.set_line(line["t"], line["loss"])
        self._show_faith(res)

    def _on_surfaces_failed(self, message: str) -> None:
        self._last_job_end = time.perf_counter()
        self._sync_buttons()
        self.progress.setValue(0)
        self.status.setText(f"Surface not computed: {message}")
        if self.result is None and self.preview is None:
            self.empty.show_message(f"Surface not computed: {message}", "Try again", self.compute)

    def _show_surface(self, a: np.ndarray, b: np.ndarray, loss: np.ndarray) -> None:
        self.empty.clear()
        shape = SurfaceShape(a, b, loss, self.log.isChecked())
        self.surface3d.set_surface(shape)
        self.contour.set_surface(shape)

    def _on_log_toggled(self, _on: bool) -> None:
        if self.result is not None:
            s = self.result.surface
            self._show_surface(s.alphas, s.betas, s.loss)
            self._reproject()

    def _show_faith(self, res: LandscapeResult) -> None:
        p = res.surface.plane
        ev = p.explained_variance
        parts = [
            f"{p.kind} plane"
            + (f" (explained variance {ev[0]:.2f} + {ev[1]:.2f})" if ev else "")
            + (f" — {p.info['fallback']}" if "fallback" in p.info else ""),
            f"{len(res.surface.alphas)}² points in {res.seconds:.2f} s ({res.mode})",
            "batch-norm layers in eval mode",
        ]
        self.status.setText(" · ".join(parts))
        f = res.faith
        if f:
            self.faith_label.setText(
                f"Faithfulness: {100 * f['in_plane_fraction']:.0f}% of the path's length lies in the plane; "
                f"|true loss − surface at the projection| mean {f['mean_abs_gap']:.3g}, max {f['max_abs_gap']:.3g} "
                f"over {len(f.get('steps', []))} snapshots."
            )
            if "steps" in f:
                self.side.set_faith(
                    np.asarray(f["steps"], float), np.asarray(f["true_loss"]), np.asarray(f["plane_loss"])
                )
        else:
            self.faith_label.setText("")

    # -- sessions ------------------------------------------------------------------------
    def load_session(self, session) -> None:
        from engine.landscape.analysis import stored_result

        self.cancel()
        self.run_id = ""
        self.result = self.preview = self.plane = None
        self.traj, self.sharp = None, []
        self.session_record = session.runs[0] if session.runs else None
        res = stored_result(session, "live")
        rec = self.session_record
        if res is None and rec is not None:
            res = stored_result(rec, "surface") or stored_result(rec, "shared")
        try:
            snaps = from_record(rec) if rec is not None else []
        except ValueError as e:  # a malformed file: the rest of the session still shows
            self.status.setText(f"{rec.name}: the saved path cannot be read: {e}")
            snaps = []
        for snap in snaps:
            self._add_snapshot(snap, max(len(snap.steps), 8))  # the saved path whole
        line = None
        if rec is not None and "landscape/line/init/t" in rec.arrays:
            line = {k: np.asarray(rec.arrays[f"landscape/line/init/{k}"]) for k in ("t", "loss")}
        self.line_panel.load(session)
        if res is not None:
            self._on_surfaces_finished(res, line)
            self._show_shared_paths(session, res)
        else:
            self.status.setText("This session has no surface yet: press Compute surface.")
            self.empty.show_message(
                "This session holds no loss surface yet; it can be computed from the saved run's weights.",
                "Compute surface",
                self.compute,
            )

    def _show_shared_paths(self, session, res: LandscapeResult) -> None:
        """On a shared plane (descent landscape --shared), every other run's path too."""
        from desktop.plotting import color

        runs = [r for r in session.runs[1:] if "landscape/shared/path_coords" in r.arrays]
        if res.surface.plane.kind != "pca":
            runs = []
        # Magenta, sky blue, ...: colours that stand out on viridis and from the main path.
        others = [
            (np.asarray(r.arrays["landscape/shared/path_coords"]).reshape(-1, 2), color(i + 4))
            for i, r in enumerate(runs)
        ]
        self.surface3d.set_other_paths(others)
        self.contour.set_other_paths(others)
        if runs:
            names = ", ".join(f"<span style='color:{c}'>■</span> {r.name}" for r, (_, c) in zip(runs, others))
            first = session.runs[0].name
            self.faith_label.setText(
                self.faith_label.text() + f"<br>Shared plane (same init): "
                f"<span style='color:#D55E00'>■</span> {first}, {names}"
            )

    def save_into(self, session) -> None:
        from engine.landscape.analysis import store_result

        if self.result is not None and self.result.complete:
            store_result(session, self.result, "live")
        self.line_panel.save_into(session)

    def shutdown(self) -> None:
        self.surfaces.shutdown()
        self.line_panel.shutdown()

    # -- the line to a saved run -----------------------------------------------------------
    def _line_source(self):
        """Run A of the line to a saved run (see LandscapeController.line_source)."""
        return self.surfaces.line_source(self.session_record, self.run_id or "this run")
