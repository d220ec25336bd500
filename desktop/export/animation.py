"""Animations of a session: the Playground race, a run's path over its loss landscape, and the
training curves growing — drawn with the app's own views, frame by frame, into GIF and/or MP4
(engine.export.video).

Each animation is a job (engine.jobs): a generator that yields Progress per frame and returns
the files written; closing it (a cancel) removes what it had begun. The frames are Qt widgets
grabbed as images, so the job runs on the GUI thread (the GUI steps it from a timer between
events; the CLI runs it straight through). The 3D frames need an OpenGL context: a display or
Xvfb — Qt's offscreen platform has none (the CLI starts Xvfb itself when there is no display).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.export.plots import ema
from desktop.plotting import color, style_plot
from engine.export.files import ExportError, ensure_folder
from engine.export.video import AnimationWriter, check_video_size
from engine.jobs import Job, Progress
from engine.session.record import Session

ANIMATIONS = ("race", "landscape", "curves")
NEEDS_GL = {"race", "landscape"}
WHAT_TO_RUN = {
    "race": "no Playground race in this session: record one first "
    "(descent playground --function rosenbrock --optimizers sgd,adam --out FILE, or save the Playground tab)",
    "landscape": "no loss surface with a path in this session: compute one first "
    "(descent landscape FILE --out FILE, or descent compare --surface; the run needs landscape snapshots)",
    "curves": "no training curves in this session: train a run first (descent run or descent compare)",
}


@dataclass(frozen=True)
class AnimationSpec:
    """Frame rate, duration and exact frame size of an animation."""

    fps: float = 15.0
    seconds: float = 6.0
    width: int = 960
    height: int = 540

    @property
    def frames(self) -> int:
        return max(2, round(self.fps * self.seconds))

    def check(self, formats: list[str]) -> None:
        if not 1 <= self.fps <= 60:
            raise ExportError(f"--fps {self.fps:g}: between 1 and 60")
        if not 0.5 <= self.seconds <= 600:
            raise ExportError(f"--seconds {self.seconds:g}: between 0.5 and 600")
        check_video_size(formats, self.width, self.height)


# ---- what a session has ----


@dataclass(frozen=True)
class _Grid:
    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray


@dataclass(frozen=True)
class _SharedPath:
    """A run's path on a comparison's shared surface (descent compare --surface), with what the
    landscape animation reads of a stored landscape result."""

    surface: _Grid
    path_coords: np.ndarray
    path_steps: np.ndarray
    faith: dict | None = None
    others: tuple[tuple[str, np.ndarray], ...] = ()  # the comparison's other runs: (name, path)


def _landscape_source(session: Session):
    """(run, stored surface result) of the first run with a surface and a path of ≥ 2 points;
    else the first run's path on the comparison's shared surface."""
    from engine.compare.surface import SharedSurface
    from engine.landscape.analysis import stored_result

    live = stored_result(session, "live")
    for run in session.runs:
        for res in (live, stored_result(run, "surface"), stored_result(run, "shared")):
            if res is not None and len(res.path_coords) >= 2:
                return run, res
    shared = SharedSurface.from_session(session)
    for run in session.runs if shared is not None else []:
        coords = np.asarray(shared.paths.get(run.name, np.zeros((0, 2))), dtype=np.float64).reshape(-1, 2)
        if len(coords) >= 2:
            steps = np.asarray(run.arrays.get("landscape/trajectory_steps", np.zeros(0)))
            steps = steps if len(steps) == len(coords) else np.arange(len(coords))
            others = tuple(
                (name, np.asarray(c, dtype=np.float64).reshape(-1, 2))
                for name, c in shared.paths.items()
                if name != run.name and len(c) >= 2
            )
            return run, _SharedPath(_Grid(shared.alphas, shared.betas, shared.loss), coords, steps, None, others)
    return None


def available_animations(session: Session) -> dict[str, str | None]:
    """{animation: None if the session has its data, else what to run first}."""
    from engine.playground.session import has_playground

    out: dict[str, str | None] = {}
    out["race"] = None if has_playground(session) else WHAT_TO_RUN["race"]
    try:
        out["landscape"] = None if _landscape_source(session) is not None else WHAT_TO_RUN["landscape"]
    except ValueError as e:
        out["landscape"] = f"the saved loss surface cannot be read: {e}"
    curves = any(len(r.series.get("step/loss", ())) >= 2 for r in session.runs)
    out["curves"] = None if curves else WHAT_TO_RUN["curves"]
    return out


# ---- stages: a widget that draws frame i of n ----


class Stage(QWidget):
    """A frame's widget: a caption above the content; `show_frame(i, n)` updates it."""

    def __init__(self, spec: AnimationSpec) -> None:
        super().__init__()
        self.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        self.setStyleSheet("background: white; color: black;")
        self.spec = spec
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setStyleSheet("font-size: 15px; padding: 4px;")
        self.caption.setWordWrap(True)
        self.body = QHBoxLayout()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 6)
        lay.addWidget(self.caption)
        lay.addLayout(self.body, 1)
        self.setFixedSize(spec.width, spec.height)
        self._framed = False

    def add_view(self, widget: QWidget) -> None:
        """A view side by side with the others; small frames shrink it below its on-screen minimum."""
        widget.setMinimumSize(40, 40)
        self.body.addWidget(widget, 1)

    def show_frame(self, i: int, n: int) -> None:
        raise NotImplementedError

    def colors(self) -> list[tuple[int, int, int]]:
        """The colours the paths and curves are drawn in (kept exact in a GIF's palette)."""
        from desktop.plotting import PALETTE
        from desktop.views.landscape_plots import PATH_COLOR

        return [tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in [*PALETTE, PATH_COLOR]]

    def views_3d(self) -> list[QWidget]:
        """The stage's 3D surface views (their frames get axes painted on)."""
        view = getattr(self, "surface", None)
        return [view] if view is not None else []

    def frame(self) -> np.ndarray:
        """The stage as an RGB array of exactly the spec's size, the 3D views with their axes."""
        from desktop.export.axes3d import fit_camera, view_axes

        QApplication.processEvents()
        if not self._framed:  # laid out now: the cameras step back so the axes' labels fit
            self._framed = True
            for view in self.views_3d():
                fit_camera(view, view_axes(view), view.width(), view.height(), 1.0)
                view.update()
            QApplication.processEvents()
        img = self.grab().toImage()
        w, h = self.spec.width, self.spec.height
        if (img.width(), img.height()) != (w, h):  # a high-DPI screen grabs more pixels
            img = img.scaled(w, h, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
        img = self._with_3d_axes(img)
        img = img.convertToFormat(QImage.Format.Format_RGB888)
        a = np.frombuffer(bytes(img.constBits()), np.uint8).reshape(h, img.bytesPerLine())
        return a[:, : w * 3].reshape(h, w, 3).copy()

    def _with_3d_axes(self, img: QImage) -> QImage:
        from desktop.export.axes3d import paint_axes, view_axes

        img = img.convertToFormat(QImage.Format.Format_ARGB32)
        for view in self.views_3d():
            axes = view_axes(view)
            if not axes:
                continue
            at = QRect(view.mapTo(self, QPoint(0, 0)), view.size())
            part = paint_axes(img.copy(at), view, axes, (view.width(), view.height()), 1.0)
            p = QPainter(img)
            p.drawImage(at.topLeft(), part)
            p.end()
        return img


def _legend(names: list[str], colors: list[str]) -> QLabel:
    text = "&nbsp;&nbsp;".join(f"<span style='color:{c}'>■</span> {n}" for n, c in zip(names, colors))
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


class RaceStage(Stage):
    """The Playground race: 3D surface and contour map with the paths growing, a step counter."""

    def __init__(self, session: Session, spec: AnimationSpec) -> None:
        super().__init__(spec)
        from desktop.views.playground_contour import Contour2D
        from desktop.views.playground_plots import Surface3D, SurfaceGrid
        from engine.playground.functions import get_function
        from engine.playground.session import playground_from_session

        self.cfg, self.paths = playground_from_session(session)
        self.fn = get_function(self.cfg.function)
        grid = SurfaceGrid(self.fn, self.cfg.params, 120, log=self.fn.log_height)
        cmap = pg.colormap.get("viridis")
        self.surface = Surface3D()
        self.contour = Contour2D()
        self.contour.getPlotItem().setTitle(f"{self.fn.title}: contour map", size="10pt")
        self.surface.set_grid(grid, cmap)
        self.contour.set_grid(grid, cmap, self.fn.minima(self.cfg.params), self.cfg.start_point)
        colors = [r.color for r in self.cfg.racers]
        self.surface.set_racers(colors)
        self.contour.set_racers(colors)
        self.add_view(self.surface)
        self.add_view(self.contour)
        self.layout().addWidget(_legend([r.label for r in self.cfg.racers], colors))
        self.total = max((p.steps_taken for p in self.paths), default=0)

    def colors(self) -> list[tuple[int, int, int]]:
        own = [pg.mkColor(r.color).getRgb()[:3] for r in self.cfg.racers]
        return [tuple(int(v) for v in c) for c in own] + super().colors()

    def show_frame(self, i: int, n: int) -> None:
        from engine.states import RunState

        step = round(i / max(1, n - 1) * self.total)
        cut = [
            (p.positions[: min(step, p.steps_taken) + 1], p.losses[: min(step, p.steps_taken) + 1]) for p in self.paths
        ]
        stopped = [p.status == RunState.DIVERGED and step >= p.steps_taken for p in self.paths]
        self.surface.draw(cut, None, None)
        self.contour.draw([pos for pos, _ in cut], None, None, stopped)
        losses = ", ".join(f"{r.label} {float(loss[-1]):.3g}" for r, (_, loss) in zip(self.cfg.racers, cut))
        self.caption.setText(f"<b>{self.fn.title}</b> — step {step} / {self.total} — loss: {losses}")


class LandscapeStage(Stage):
    """A run's path over its loss landscape: the surface fixed, the projected snapshots growing,
    loss, step and epoch in the caption."""

    def __init__(self, session: Session, spec: AnimationSpec) -> None:
        super().__init__(spec)
        from desktop.views.landscape_plots import LandscapeContour, LandscapeSurface3D, SurfaceShape

        found = _landscape_source(session)
        if found is None:
            raise ExportError(WHAT_TO_RUN["landscape"])
        self.run, res = found
        self.shared = isinstance(res, _SharedPath)
        s = res.surface
        finite = s.loss[np.isfinite(s.loss)]
        log = bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > 30)
        self.shape = SurfaceShape(s.alphas, s.betas, s.loss, log)
        self.coords = np.asarray(res.path_coords, dtype=np.float64)
        self.steps = np.asarray(res.path_steps)
        true_loss = res.faith.get("true_loss") if res.faith else None
        self.losses = (
            np.asarray(true_loss, dtype=np.float64)
            if true_loss is not None and len(true_loss) == len(self.coords)
            else self.shape.path_losses(self.coords)
        )
        self.per_epoch = int(self.run.meta.get("steps_per_epoch", 0) or 0)
        self.surface = LandscapeSurface3D()
        self.contour = LandscapeContour()
        self.surface.set_surface(self.shape)
        self.contour.set_surface(self.shape)
        self.add_view(self.surface)
        self.add_view(self.contour)
        # on a comparison's shared surface every run's path grows along, each in its run colour
        self.others: list[tuple[str, np.ndarray, str]] = []
        if isinstance(res, _SharedPath) and res.others:
            from desktop.plotting import color
            from desktop.views.landscape_plots import PATH_COLOR
            from engine.compare.layout import run_colors

            cols = run_colors(session)
            self.others = [(name, c, color(cols.get(name, i + 1))) for i, (name, c) in enumerate(res.others)]
            names = [self.run.name] + [name for name, _, _ in self.others]
            self.layout().addWidget(_legend(names, [PATH_COLOR] + [col for _, _, col in self.others]))

    def show_frame(self, i: int, n: int) -> None:
        # a fractional position along the snapshots: the head glides between them, so a path of a
        # few snapshots still moves on every frame
        t = i / max(1, n - 1) * (len(self.coords) - 1)
        k = min(int(t), len(self.coords) - 2)
        f = t - k
        head = self.coords[k] + f * (self.coords[k + 1] - self.coords[k])
        shown = np.vstack([self.coords[: k + 1], head[None, :]])
        self.surface.set_path(shown)
        self.contour.set_path(shown)
        steps = self.steps if len(self.steps) == len(self.coords) else np.arange(len(self.coords))
        step = float(steps[k] + f * (steps[k + 1] - steps[k]))
        loss = float(self.losses[k] + f * (self.losses[k + 1] - self.losses[k]))
        epoch = f"epoch {step / self.per_epoch:.2f} — " if self.per_epoch else ""
        if self.others:
            grown = [(name, _grown(c, i, n), col) for name, c, col in self.others]
            self.surface.set_other_paths([(c, col) for _, c, col in grown])
            self.contour.set_other_paths([(c, col) for _, c, col in grown])
            heads = np.array([shown[-1]] + [c[-1] for _, c, _ in grown])
            at = self.shape.path_losses(heads)
            losses = ", ".join(f"{name} {v:.4g}" for name, v in zip([self.run.name] + [g[0] for g in grown], at))
            self.caption.setText(f"The comparison's shared loss surface — {epoch}step {step:.0f} — loss: {losses}")
            return
        where = "the comparison's shared loss surface" if self.shared else "its loss landscape"
        self.caption.setText(f"<b>{self.run.name}</b> on {where} — {epoch}step {step:.0f} — loss {loss:.4g}")


def _grown(coords: np.ndarray, i: int, n: int) -> np.ndarray:
    """A path's first i/(n-1) part, its head gliding between the snapshots."""
    t = i / max(1, n - 1) * (len(coords) - 1)
    k = min(int(t), len(coords) - 2)
    head = coords[k] + (t - k) * (coords[k + 1] - coords[k])
    return np.vstack([coords[: k + 1], head[None, :]])


class CurvesStage(Stage):
    """The training curves growing: minibatch loss (EMA) and validation accuracy (or loss) of every run."""

    def __init__(self, session: Session, spec: AnimationSpec) -> None:
        super().__init__(spec)
        from engine.compare.layout import run_colors

        cols = run_colors(session)
        self.runs = [r for r in session.runs if len(r.series.get("step/loss", ())) >= 2]
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.setBackground("w")
        self.add_view(self.layout_widget)
        loss_plot = self.layout_widget.addPlot()
        style_plot(loss_plot, "Minibatch loss (EMA 0.9)", "step", "loss")
        loss_plot.addLegend(offset=(-10, 10))
        second = "epoch/val_acc" if any("epoch/val_acc" in r.series for r in self.runs) else "epoch/val_loss"
        val_plot = self.layout_widget.addPlot()
        style_plot(val_plot, "Validation accuracy" if second.endswith("acc") else "Validation loss", "step", second[6:])
        self.items: list[tuple[pg.PlotDataItem, np.ndarray, np.ndarray]] = []
        self.total = max(len(r.series["step/loss"]) for r in self.runs)
        losses, vals = [], []
        from engine.export.tensorboard import epoch_steps

        for r in self.runs:
            c = color(cols.get(r.name, 0))
            pen = pg.mkPen(c, width=2)
            y = ema(np.asarray(r.series["step/loss"], dtype=np.float64))
            losses.append(y[np.isfinite(y)])
            self.items.append((loss_plot.plot(pen=pen, name=r.name), np.arange(1.0, len(y) + 1), y))
            v = r.series.get(second)
            if v is not None and len(v):
                v = np.asarray(v, dtype=np.float64)
                vals.append(v[np.isfinite(v)])
                item = val_plot.plot(pen=pen, symbol="o", symbolSize=5, symbolBrush=c)
                self.items.append((item, epoch_steps(r).astype(np.float64)[: len(v)], v))
        # fixed axes over the whole run, so the curves grow into them
        lo = np.concatenate(losses) if losses else np.zeros(0)
        if lo.size and lo.min() > 0:
            loss_plot.setLogMode(y=True)
            loss_plot.setYRange(math.log10(lo.min()), math.log10(lo.max()), padding=0.05)
        elif lo.size:
            loss_plot.setYRange(lo.min(), lo.max(), padding=0.05)
        va = np.concatenate(vals) if vals else np.zeros(0)
        if second.endswith("acc"):
            val_plot.setYRange(0, 1.02, padding=0)
        elif va.size:
            val_plot.setYRange(va.min(), va.max(), padding=0.05)
        for plot in (loss_plot, val_plot):
            plot.setXRange(1, self.total, padding=0.02)
            plot.enableAutoRange(x=False, y=False)

    def show_frame(self, i: int, n: int) -> None:
        step = max(1, round(i / max(1, n - 1) * self.total))
        for item, x, y in self.items:
            keep = x <= step
            item.setData(x[keep], y[keep])
        self.caption.setText(f"Training — step {step} / {self.total}")


STAGES: dict[str, Callable[[Session, AnimationSpec], Stage]] = {
    "race": RaceStage,
    "landscape": LandscapeStage,
    "curves": CurvesStage,
}


def animation_job(
    session: Session, kind: str, folder: str | Path, formats: list[str], spec: AnimationSpec
) -> Job[list[Path]]:
    """Draw and encode one animation into `folder`/<kind>.<format>; yields Progress per frame.
    Closing the generator (a cancel) leaves no file behind. GUI thread only."""
    missing = available_animations(session).get(kind, f"unknown animation '{kind}' (use {', '.join(ANIMATIONS)})")
    if missing:
        raise ExportError(missing)
    spec.check(formats)
    folder = ensure_folder(folder)
    stage = STAGES[kind](session, spec)
    try:
        stage.show()
        n = spec.frames
        with AnimationWriter(folder / kind, formats, spec.fps, spec.width, spec.height, stage.colors()) as writer:
            for i in range(n):
                stage.show_frame(i, n)
                writer.add(stage.frame())
                yield Progress((i + 1) / n, f"{kind}: frame {i + 1} of {n}")
        return writer.written
    finally:
        if shiboken6.isValid(stage):  # a generator closed late (at exit) may outlive the widget
            stage.close()
            stage.deleteLater()
