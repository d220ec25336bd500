"""The playground's plots: the 3D surface with paths, the 2D contour map, loss vs step.

Items are created when the surface or the set of racers changes; every frame only calls
setData on them. Long paths are thinned for drawing (every k-th point plus the last);
the recorded paths are never thinned.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
import torch
from PySide6.QtCore import QRectF, Qt, Signal
from OpenGL import GL
from PySide6.QtGui import QColor, QTransform, QVector3D

from desktop.plotting import style_plot
from desktop.qt_setup import pin_none_refcount, share_gl_contexts  # noqa: F401 (re-exported)
from engine.playground.functions import TestFunction

BOX = 10.0             # the surface spans [-BOX/2, BOX/2] in x and y in the 3D scene
HEIGHT = 4.0           # ... and [0, HEIGHT] in z
MAX_DRAWN = 1500       # points per path drawn per frame
# Paths, markers and arrows are drawn over the surface (no depth test): a path in a valley
# must stay visible behind the valley's wall.
ON_TOP = {GL.GL_DEPTH_TEST: False, GL.GL_BLEND: True, GL.GL_CULL_FACE: False,
          "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)}


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


class SurfaceGrid:
    """The function on a grid (evaluated with torch) and the height transform (linear or log)."""

    def __init__(self, fn: TestFunction, params: dict, n: int = 200, log: bool = False) -> None:
        self.fn, self.params, self.n, self.log = fn, params, n, log
        (x0, x1), (y0, y1) = fn.domain
        self.xs = np.linspace(x0, x1, n)
        self.ys = np.linspace(y0, y1, n)
        X, Y = torch.meshgrid(torch.from_numpy(self.xs), torch.from_numpy(self.ys), indexing="ij")
        with torch.no_grad():
            self.Z = fn.value(X, Y, torch, params).numpy()          # Z[i, j] = f(xs[i], ys[j])
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


class Surface3D(gl.GLViewWidget):
    """GLSurfacePlotItem with a colormap, a GLLinePlotItem path and a marker per racer,
    and optional gradient / velocity arrows at the current points."""

    def __init__(self, parent=None) -> None:
        pin_none_refcount()
        super().__init__(parent)
        self.setBackgroundColor("w")
        self.setCameraPosition(pos=QVector3D(0.0, 0.0, HEIGHT * 0.35), distance=15.5, elevation=42, azimuth=-65)
        self.setMinimumSize(240, 200)
        self.grid: SurfaceGrid | None = None
        self.surface: gl.GLSurfacePlotItem | None = None
        self.paths: list[gl.GLLinePlotItem] = []
        self.markers = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), size=11, pxMode=True)
        self.grad_arrows = gl.GLLinePlotItem(pos=np.zeros((0, 3)), mode="lines", width=2.5)
        self.vel_arrows = gl.GLLinePlotItem(pos=np.zeros((0, 3)), mode="lines", width=2.5)
        for it in (self.markers, self.grad_arrows, self.vel_arrows):
            it.setGLOptions(ON_TOP)
            it.setDepthValue(10)                    # drawn after the surface and the paths
            self.addItem(it)

    def set_grid(self, grid: SurfaceGrid, cmap: pg.ColorMap) -> None:
        self.grid = grid
        hn = (grid.H - grid.hmin) / max(grid.hmax - grid.hmin, 1e-300)
        # one RGBA row per vertex, in the mesh's vertex order (the (w, h, 4) form fails in pyqtgraph 0.14)
        colors = np.asarray(cmap.map(hn.ravel(), mode="byte"), dtype=np.uint8).reshape(-1, 4)   # 4 bytes/vertex
        colors[:, 3] = 255
        x = np.linspace(-BOX / 2, BOX / 2, grid.n)
        z = hn * HEIGHT
        if self.surface is None:
            self.surface = gl.GLSurfacePlotItem(x=x, y=x, z=z, colors=colors, smooth=False)
            self.surface.setGLOptions("opaque")
            self.addItem(self.surface)
        else:
            self.surface.setData(x=x, y=x, z=z, colors=colors)

    def set_racers(self, colors: list[str]) -> None:
        for it in self.paths:
            self.removeItem(it)
        # no GL line smoothing: in Mesa's llvmpipe it costs ~6 ms of CPU per frame for 6 paths
        self.paths = [gl.GLLinePlotItem(pos=np.zeros((0, 3)), color=rgba(c), width=3, antialias=False) for c in colors]
        for it in self.paths:
            it.setGLOptions(ON_TOP)
            it.setDepthValue(5)
            self.addItem(it)
        self.colors = np.array([rgba(c) for c in colors])

    def draw(self, paths: list[tuple[np.ndarray, np.ndarray]], grads: list | None, vels: list | None) -> None:
        """paths: per racer (positions (k+1, 2), losses (k+1,)); grads/vels: per racer a 2-vector or None."""
        g = self.grid
        if g is None:
            return
        heads = np.zeros((len(paths), 3))
        for i, (pos, loss) in enumerate(paths):
            pts = g.scene_points(thin(pos), thin(loss))
            self.paths[i].setData(pos=pts)
            heads[i] = g.scene_points(pos[-1:], loss[-1:], lift=0.12)[0]
        self.markers.setData(pos=heads, color=self.colors[: len(paths)])
        self._arrows(self.grad_arrows, heads, grads, 1.0)
        self._arrows(self.vel_arrows, heads, vels, 0.55)

    def _arrows(self, item: gl.GLLinePlotItem, heads: np.ndarray, vecs: list | None, alpha: float) -> None:
        if not vecs:
            item.setData(pos=np.zeros((0, 3)))
            return
        seg, col = [], []
        for i, v in enumerate(vecs):
            if v is None or not np.all(np.isfinite(v)) or not np.any(v):
                continue
            d = np.asarray(v, dtype=np.float64) / np.hypot(*v) * (0.09 * BOX)
            seg += [heads[i], heads[i] + [d[0], d[1], 0.0]]
            c = tuple(self.colors[i][:3]) + (alpha,)
            col += [c, c]
        item.setData(pos=np.array(seg).reshape(-1, 3), color=np.array(col).reshape(-1, 4))


class Contour2D(pg.PlotWidget):
    """Heat map + isocurves of the same surface with the paths; a click sets the start point."""

    start_clicked = Signal(float, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style_plot(self.getPlotItem(), "Contour map (click: start point)", "x", "y")
        # no grid over the heat map: pyqtgraph draws grid lines in the axis items, whose
        # bounding rect then covers the plot, so every path update would repaint both axes
        self.showGrid(x=False, y=False)
        self.setAspectLocked(False)
        self.image = pg.ImageItem()
        self.addItem(self.image)
        self.isos: list[pg.IsocurveItem] = []
        self.minima = pg.ScatterPlotItem(symbol="star", size=14, brush="#ffffff", pen=pg.mkPen("k"))
        self.start = pg.ScatterPlotItem(symbol="s", size=9, brush="#ffffff", pen=pg.mkPen("k", width=1.5))
        self.addItem(self.minima)
        self.addItem(self.start)
        self.curves: list[pg.PlotDataItem] = []
        self.grad_items: list[pg.PlotDataItem] = []
        self.vel_items: list[pg.PlotDataItem] = []
        self.markers = pg.ScatterPlotItem(size=10, pen=pg.mkPen("k", width=1))
        self.addItem(self.markers)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self.domain = ((0.0, 1.0), (0.0, 1.0))

    def set_grid(self, grid: SurfaceGrid, cmap: pg.ColorMap, minima, start) -> None:
        (x0, x1), (y0, y1) = grid.fn.domain
        self.domain = grid.fn.domain
        self.image.setImage(grid.H, autoLevels=False, levels=(grid.hmin, grid.hmax))
        self.image.setColorMap(cmap)
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        for it in self.isos:
            if it.scene() is not None:
                it.scene().removeItem(it)
        self.isos = []
        levels = np.unique(np.quantile(grid.H[np.isfinite(grid.H)], np.linspace(0.04, 0.96, 10)))
        # contour lines from every other grid point (4x cheaper to trace on the GUI thread),
        # scaled back onto the image's pixel grid
        half = grid.H[::2, ::2]
        for lv in levels:
            iso = pg.IsocurveItem(data=half, level=float(lv), pen=pg.mkPen((255, 255, 255, 130), width=1))
            iso.setParentItem(self.image)
            iso.setTransform(QTransform.fromScale(2.0, 2.0))
            self.isos.append(iso)
        self.minima.setData(pos=np.array(minima, dtype=np.float64).reshape(-1, 2))
        self.set_start(start)
        self.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)

    def set_start(self, start) -> None:
        self.start.setData(pos=np.array([start], dtype=np.float64))

    def set_racers(self, colors: list[str]) -> None:
        for it in self.curves + self.grad_items + self.vel_items:
            self.removeItem(it)
        self.curves = [self.plot(pen=pg.mkPen(c, width=2.5)) for c in colors]
        self.grad_items = [self.plot(pen=pg.mkPen(c, width=2), connect="pairs") for c in colors]
        self.vel_items = [self.plot(pen=pg.mkPen(c, width=2, style=Qt.DashLine), connect="pairs") for c in colors]
        self.colors = colors
        self.brushes = [pg.mkBrush(c) for c in colors]

    def draw(self, positions: list[np.ndarray], grads: list | None, vels: list | None,
             stopped: list[bool] | None = None) -> None:
        """Paths up to the current step; a racer that diverged ends in a cross."""
        heads = []
        for i, pos in enumerate(positions):
            p = thin(pos)
            self.curves[i].setData(p[:, 0], p[:, 1])
            heads.append(pos[-1])
        heads_a = np.array(heads).reshape(-1, 2)
        stopped = stopped or [False] * len(heads)
        if any(stopped):
            self.markers.setData(pos=heads_a, brush=self.brushes[: len(heads)],
                                 symbol=["x" if s else "o" for s in stopped], size=[16 if s else 10 for s in stopped])
        else:
            self.markers.setData(pos=heads_a, brush=self.brushes[: len(heads)], symbol="o", size=10)
        (x0, x1), _ = self.domain
        L = 0.09 * (x1 - x0)
        for items, vecs in ((self.grad_items, grads), (self.vel_items, vels)):
            for i, it in enumerate(items):
                v = None if not vecs else vecs[i]
                if v is None or not np.all(np.isfinite(v)) or not np.any(v):
                    it.setData([], [])
                    continue
                d = np.asarray(v) / np.hypot(*v) * L
                h = heads_a[i]
                it.setData([h[0], h[0] + d[0]], [h[1], h[1] + d[1]])

    def _on_scene_clicked(self, evt) -> None:
        if evt.button() != Qt.LeftButton or evt.double():
            return
        vb = self.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(evt.scenePos()):
            return
        p = vb.mapSceneToView(evt.scenePos())
        (x0, x1), (y0, y1) = self.domain
        if x0 <= p.x() <= x1 and y0 <= p.y() <= y1:
            self.start_clicked.emit(float(p.x()), float(p.y()))


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
    or velocity norm, or the learning rate."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style_plot(self.getPlotItem(), "Loss vs step", "step", "loss")
        self.getPlotItem().setClipToView(False)
        self.getPlotItem().getAxis("left").enableAutoSIPrefix(False)    # no "(x0.001)" on log axes
        self.curves: list[pg.PlotDataItem] = []
        self.curves_y: list[pg.PlotDataItem] = []
        self.fmin: float | None = None
        self.mode = "loss"
        self.steps = 0
        self.x_max = 0

    def set_racers(self, colors: list[str], labels: list[str], fmin: float | None, steps: int = 0) -> None:
        for it in self.curves + self.curves_y:
            self.removeItem(it)
        self.fmin = fmin
        pi = self.getPlotItem()
        # the step axis grows by doubling (few re-layouts of the axis while the race plays)
        self.steps = steps
        self.x_max = 0
        pi.disableAutoRange(axis="x")
        self.curves = [self.plot(pen=pg.mkPen(c, width=2), name=lb, antialias=False) for c, lb in zip(colors, labels)]
        self.curves_y = [self.plot(pen=pg.mkPen(c, width=2, style=Qt.DashLine), antialias=False) for c in colors]
        self.set_mode(self.mode)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        title, label = SERIES_MODES[mode]
        pi = self.getPlotItem()
        pi.setTitle(title, size="10pt")
        log = mode != "loss" or self.fmin is not None
        pi.setLogMode(y=log)
        pi.setLabel("left", ("loss − f* (log)" if log else "loss") if mode == "loss" else f"{label} (log)")
        for c in self.curves_y:
            c.setVisible(mode == "step size")
            c.setData([], [])
        pi.enableAutoRange(axis="y")

    def draw(self, paths, ks: list[int]) -> None:
        """paths: RacerPath-like records; ks: the step each racer is shown at."""
        mode = self.mode
        k_max = max(ks, default=0)
        if k_max > self.x_max or k_max < self.x_max // 4:
            self.x_max = max(16, 1 << max(0, int(k_max) - 1).bit_length())
            if self.steps:
                self.x_max = min(self.x_max, self.steps)
            self.getPlotItem().setXRange(0, self.x_max, padding=0.02)
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
                y = np.where(y > 0, y, np.nan)            # log axis; no velocity: no curve
                y2 = None if y2 is None else np.where(y2 > 0, y2, np.nan)
            xt = thin(x, 1000)
            self.curves[i].setData(xt, thin(y, 1000))
            if y2 is not None:
                self.curves_y[i].setData(xt, thin(y2, 1000))
