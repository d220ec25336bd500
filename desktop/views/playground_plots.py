"""The playground's plots: the 3D surface with paths, the 2D contour map, loss vs step.

Items are created when the surface or the set of racers changes; every frame only calls
setData on them. Long paths are thinned for drawing (every k-th point plus the last);
the recorded paths are never thinned.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QWidget

from desktop.plotting import line_style, style_plot
from desktop.views.log_axis import DecadeLogAxis
from engine.playground.functions import TestFunction

if TYPE_CHECKING:
    from desktop.views.playground_3d import Surface3D

BOX = 10.0  # the surface spans [-BOX/2, BOX/2] in x and y in the 3D scene
HEIGHT = 4.0  # ... and [0, HEIGHT] in z
MAX_DRAWN = 1500  # points per path drawn per frame


def rgba(color: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    c = QColor(color)
    return (c.redF(), c.greenF(), c.blueF(), alpha)


def thin(a: np.ndarray, limit: int = MAX_DRAWN) -> np.ndarray:
    """Every k-th row and the last one, at most ~limit rows (display only)."""
    n = len(a)
    if n <= limit:
        return a
    k = -(-n // limit)
    idx = np.r_[np.arange(0, n - 1, k), n - 1]
    return a[idx]


def thin_to_pixels(xy: np.ndarray, px: float, py: float, limit: int = MAX_DRAWN) -> np.ndarray:
    """A path for drawing at a pixel size of (px, py) data units: consecutive points that
    fall in the same pixel are merged (the first and last point always stay), then at most
    ~limit rows. A converging optimizer takes thousands of sub-pixel steps; stroking them
    costs Qt's antialiased raster engine time on every frame without changing a pixel."""
    n = len(xy)
    if n <= 2 or not (px > 0 and py > 0 and math.isfinite(px) and math.isfinite(py)):
        return thin(xy, limit)
    with np.errstate(all="ignore"):
        q = np.floor(xy / (px, py))
    moved = np.any(q[1:] != q[:-1], axis=1)
    moved[-1] = True  # the current point
    keep = np.flatnonzero(np.r_[True, moved])
    return thin(xy[keep], limit)


class SurfaceGrid:
    """The function on a grid (evaluated with numpy) and the height transform (linear or log)."""

    def __init__(self, fn: TestFunction, params: dict, n: int = 200, log: bool = False) -> None:
        self.fn, self.params, self.n, self.log = fn, params, n, log
        (x0, x1), (y0, y1) = fn.domain
        self.xs = np.linspace(x0, x1, n)
        self.ys = np.linspace(y0, y1, n)
        X, Y = np.meshgrid(self.xs, self.ys, indexing="ij")
        with np.errstate(all="ignore"):  # overflow far from the minimum is drawn as clipped
            self.Z = np.asarray(fn.value(X, Y, np, params), dtype=float)  # Z[i, j] = f(xs[i], ys[j])
        finite = self.Z[np.isfinite(self.Z)]
        self.zmin, self.zmax = float(finite.min()), float(finite.max())
        self.delta = max(1e-12, 1e-4 * (self.zmax - self.zmin))
        self.H = self.height(self.Z)
        self.hmin, self.hmax = float(np.nanmin(self.H)), float(np.nanmax(self.H))

    def height(self, z: np.ndarray) -> np.ndarray:
        """The drawn height of loss values: z, or log10 of z above the grid's minimum."""
        z = np.clip(np.asarray(z, dtype=np.float64), self.zmin, self.zmax)
        return np.log10(z - self.zmin + self.delta) if self.log else z

    def scene_z(self, h: np.ndarray) -> np.ndarray:
        return (h - self.hmin) / max(self.hmax - self.hmin, 1e-300) * HEIGHT

    def scene_xy(self, pts: np.ndarray) -> np.ndarray:
        (x0, x1), (y0, y1) = self.fn.domain
        out = np.empty_like(pts)
        out[:, 0] = (np.clip(pts[:, 0], x0, x1) - x0) / (x1 - x0) * BOX - BOX / 2
        out[:, 1] = (np.clip(pts[:, 1], y0, y1) - y0) / (y1 - y0) * BOX - BOX / 2
        return out

    def scene_points(self, pts: np.ndarray, losses: np.ndarray, lift: float = 0.06) -> np.ndarray:
        out = np.empty((len(pts), 3))
        out[:, :2] = self.scene_xy(pts)
        out[:, 2] = self.scene_z(self.height(losses)) + lift
        return out


class LazySurface3D(QWidget):
    """The playground's 3D view (Surface3D), made on first show or first use: OpenGL is
    imported then, not before the window's first paint. Keeps the latest grid, racers and
    drawing and hands them over in the order they came; any other attribute is the view's."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.view: Surface3D | None = None
        self._calls: dict[str, tuple] = {}  # the latest call of each kind, oldest first
        self.setMinimumSize(240, 200)  # no layout: sized like the view itself in the splitter

    def ensure(self) -> Surface3D:
        """The 3D view, made now if it is not yet."""
        if self.view is None:
            from desktop.views.playground_3d import Surface3D

            self.view = Surface3D(self)
            self.view.setGeometry(self.rect())
            self.view.show()
            for name, args in self._calls.items():
                getattr(self.view, name)(*args)
        return self.view

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.ensure()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.view is not None:
            self.view.setGeometry(self.rect())

    def _call(self, name: str, *args) -> None:
        if self.view is not None:
            getattr(self.view, name)(*args)
            return
        self._calls.pop(name, None)
        self._calls[name] = args

    def set_grid(self, grid: SurfaceGrid, cmap: pg.ColorMap) -> None:
        self._call("set_grid", grid, cmap)

    def set_racers(self, colors: list[str]) -> None:
        self._call("set_racers", colors)

    def draw(self, *args) -> None:
        self._call("draw", *args)

    def __getattr__(self, name: str) -> Any:
        if name in ("view", "_calls") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.ensure(), name)


SERIES_MODES = {
    "loss": ("Loss vs step", "loss"),
    "step size": ("Effective step size per coordinate (x solid, y dashed)", "step size"),
    "gradient": ("Gradient norm (with the noise, as the optimizer saw it)", "‖g‖"),
    "velocity": ("Velocity norm (momentum buffer / Adam's first moment)", "‖v‖"),
    "learning rate": ("Learning rate (the schedule)", "lr"),
}


class LossPlot(pg.PlotWidget):
    """One recorded series per racer vs step: the loss (its gap to the known minimum on a
    log axis, or the raw loss on surfaces without a minimum), the effective per-coordinate
    step size (lr for SGD, lr/(√accumulator + ε) for Adagrad/RMSProp/Adam), the gradient
    or velocity norm, or the learning rate.

    Drawing cost (it redraws at ~10 Hz while a race plays): the axes, whose grid lines span
    the plot, are cached as pixmaps and repainted only when their range changes, and the
    ranges change in coarse steps (x doubles, y snaps to whole decades on a log axis, to
    round numbers on a linear one) instead of following every new point. A loss that
    converges to 1e-16 spans 18 decades: pyqtgraph's default log ticks draw ten grid lines
    per decade, a slow axis paint; decade ticks draw a third of them, rarely
    (tests/benchmarks/bench_playground.py --frames times the frames)."""

    def __init__(self, parent=None) -> None:
        axis = DecadeLogAxis("left")
        axis.setStyle(maxTextLevel=0)
        super().__init__(parent, axisItems={"left": axis})
        style_plot(self.getPlotItem(), "Loss vs step", "step", "loss")
        pi = self.getPlotItem()
        pi.setClipToView(False)
        pi.getAxis("left").enableAutoSIPrefix(False)  # no "(x0.001)" on log axes
        for name in ("left", "bottom"):
            pi.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        pi.vb.sigRangeChangedManually.connect(self._on_vb_range_changed_manually)
        self.curves: list[pg.PlotDataItem] = []
        self.curves_y: list[pg.PlotDataItem] = []
        self.fmin: float | None = None
        self.mode = "loss"
        self.steps = 0
        self.x_max = 0
        self.log_y = True
        self.y_range: tuple[float, float] | None = None  # in view coordinates (log10 on a log axis)
        self.follow_x = True  # False once the user pans or zooms
        self.follow_y = True

    def _on_vb_range_changed_manually(self, mask) -> None:
        if mask[0]:
            self.follow_x = False
        if mask[1]:
            self.follow_y = False

    def set_racers(self, colors: list[str], labels: list[str], fmin: float | None, steps: int = 0) -> None:
        for it in self.curves + self.curves_y:
            self.removeItem(it)
        self.fmin = fmin
        pi = self.getPlotItem()
        # the step axis grows by doubling (few re-layouts of the axis while the race plays)
        self.steps = steps
        self.x_max = min(16, steps) if steps else 16  # the first steps' axis, before any is drawn
        self.follow_x = True
        pi.disableAutoRange(axis="x")
        pi.setXRange(0, self.x_max, padding=0.02)
        self.curves = [  # after the palette's tenth colour, another line style (as the runs' plots)
            self.plot(pen=pg.mkPen(c, width=2, style=line_style(i)), name=lb, antialias=False)
            for i, (c, lb) in enumerate(zip(colors, labels))
        ]
        self.curves_y = [self.plot(pen=pg.mkPen(c, width=2, style=Qt.DashLine), antialias=False) for c in colors]
        self.set_mode(self.mode)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        title, label = SERIES_MODES[mode]
        pi = self.getPlotItem()
        pi.setTitle(title, size="10pt")
        log = mode != "loss" or self.fmin is not None
        self.log_y = log
        pi.setLogMode(y=log)
        pi.setLabel("left", ("loss − f* (log)" if log else "loss") if mode == "loss" else f"{label} (log)")
        for c in self.curves_y:
            c.setVisible(mode == "step size")
            c.setData([], [])
        pi.disableAutoRange(axis="y")
        self.y_range = None
        self.follow_y = True

    def draw(self, paths, ks: list[int]) -> None:
        """paths: RacerPath-like records; ks: the step each racer is shown at."""
        mode = self.mode
        vb = self.getPlotItem().vb
        auto_x, auto_y = vb.autoRangeEnabled()
        if auto_x or auto_y:  # the "A" button: follow the data again, in steps
            self.follow_x, self.follow_y = self.follow_x or bool(auto_x), self.follow_y or bool(auto_y)
            vb.disableAutoRange()
            if auto_x:
                self.x_max = 0
            if auto_y:
                self.y_range = None
        k_max = max(ks, default=0)
        if self.follow_x and (k_max > self.x_max or k_max < self.x_max // 4):
            self.x_max = max(16, 1 << max(0, int(k_max) - 1).bit_length())
            if self.steps:
                self.x_max = min(self.x_max, self.steps)
            self.getPlotItem().setXRange(0, self.x_max, padding=0.02)
        lo, hi = math.inf, -math.inf
        log = self.log_y
        for i, (p, k) in enumerate(zip(paths, ks)):
            y2 = None
            if mode == "loss":
                y = p.losses[: k + 1]
                x = np.arange(k + 1, dtype=np.float64)
                if self.fmin is not None:
                    y = np.maximum(y - self.fmin, 1e-16)
            else:
                x = np.arange(1, k + 1, dtype=np.float64)
                if mode == "step size":
                    y, y2 = p.step_sizes[:k, 0], p.step_sizes[:k, 1]
                elif mode == "gradient":
                    y = np.hypot(p.gradients[:k, 0], p.gradients[:k, 1])
                elif mode == "velocity":
                    y = np.hypot(p.velocities[:k, 0], p.velocities[:k, 1])
                else:
                    y = p.lrs[:k]
                y = np.where(y > 0, y, np.nan)  # log axis; no velocity: no curve
                y2 = None if y2 is None else np.where(y2 > 0, y2, np.nan)
            xt, yt = thin(x, 1000), thin(y, 1000)
            self.curves[i].setData(xt, yt)
            lo, hi = _extend(lo, hi, yt, log)
            if y2 is not None:
                y2t = thin(y2, 1000)
                self.curves_y[i].setData(xt, y2t)
                lo, hi = _extend(lo, hi, y2t, log)
        if self.follow_y and lo <= hi:
            self._fit_y(lo, hi, log)

    def _fit_y(self, lo: float, hi: float, log: bool) -> None:
        """Snap the y range outward to whole decades (log) or round steps (linear); change it
        only when the data leaves it or fills less than half of it."""
        if log:
            nlo, nhi = math.floor(lo), math.ceil(hi)
            if nhi - nlo < 1:
                nlo, nhi = nlo - 0.5, nhi + 0.5
        else:
            span = hi - lo or abs(hi) or 1.0
            step = 10.0 ** math.floor(math.log10(span))
            nlo, nhi = math.floor(lo / step) * step, math.ceil(hi / step) * step
            if nhi - nlo <= 0:
                nlo, nhi = nlo - step, nhi + step
        cur = self.y_range
        if cur is None or lo < cur[0] or hi > cur[1] or (nhi - nlo) < 0.5 * (cur[1] - cur[0]):
            self.y_range = (nlo, nhi)
            self.getPlotItem().setYRange(nlo, nhi, padding=0.02)


def _extend(lo: float, hi: float, y: np.ndarray, log: bool) -> tuple[float, float]:
    """Grow (lo, hi) by the finite values of y, in view coordinates (log10 on a log axis)."""
    with np.errstate(all="ignore"):
        v = np.log10(y) if log else np.asarray(y, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size:
        lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    return lo, hi


def __getattr__(name: str) -> Any:
    """Surface3D and ON_TOP live in desktop.views.playground_3d (OpenGL, imported on first use)."""
    if name in ("Surface3D", "ON_TOP"):
        from desktop.views import playground_3d

        return getattr(playground_3d, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
