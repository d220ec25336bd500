"""The playground's 3D surface with the racers' paths (OpenGL, rendered offscreen):
imported when the view is first shown (LazySurface3D), not before the window's first paint."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6.QtCore import Qt
from PySide6.QtGui import QVector3D

from desktop.gl_offscreen import OffscreenGLView
from desktop.plotting import line_style
from desktop.qt_setup import pin_none_refcount
from desktop.views.playground_plots import BOX, HEIGHT, SurfaceGrid, rgba, thin

# Paths, markers and arrows are drawn over the surface (no depth test): a path in a valley
# must stay visible behind the valley's wall.
ON_TOP = {
    GL.GL_DEPTH_TEST: False,
    GL.GL_BLEND: True,
    GL.GL_CULL_FACE: False,
    "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA),
}

# OpenGL lines have no dash styles: a racer whose 2D line style is not solid (the eleventh
# racer on, whose colour comes round again) gets its path drawn as segments with gaps in
# the same pattern, lengths in scene units along the path (the box is BOX wide), on first.
DASHES: dict[Qt.PenStyle, tuple[float, ...]] = {
    Qt.DashLine: (0.3, 0.15),
    Qt.DotLine: (0.06, 0.14),
    Qt.DashDotLine: (0.3, 0.12, 0.06, 0.12),
}


def dashed(pts: np.ndarray, pattern: tuple[float, ...]) -> np.ndarray:
    """The polyline `pts` (n, 3) as pairs of points (GL "lines" mode) drawn in the dash
    `pattern` (on, off, on, off… lengths along the path): the path is cut at its vertices
    and at every dash end, and the pieces that fall in an "on" part are kept."""
    pts = np.asarray(pts, dtype=np.float64)
    if len(pts) < 2:
        return np.zeros((0, 3))
    s = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))]
    total, period = float(s[-1]), float(sum(pattern))
    if not (total > 0 and np.isfinite(total)):
        return np.zeros((0, 3))
    ends = np.cumsum(pattern)  # the ends of the pattern's parts within one period
    cuts = (np.arange(int(total // period) + 1)[:, None] * period + ends[None, :]).ravel()
    u = np.union1d(s, cuts[cuts < total])
    mid = ((u[:-1] + u[1:]) / 2) % period
    on = (np.searchsorted(ends, mid, side="right") % 2) == 0  # parts 0, 2, …: dashes
    xyz = np.column_stack([np.interp(u, s, pts[:, k]) for k in range(3)])
    seg = np.stack([xyz[:-1][on], xyz[1:][on]], axis=1)
    return seg.reshape(-1, 3)


class Surface3D(OffscreenGLView):
    """GLSurfacePlotItem with a colormap, a GLLinePlotItem path and a marker per racer,
    and optional gradient / velocity arrows at the current points."""

    def __init__(self, parent=None) -> None:
        pin_none_refcount()
        super().__init__(parent)
        self.setBackgroundColor("w")
        self.setCameraPosition(pos=QVector3D(0.0, 0.0, HEIGHT * 0.35), distance=14.5, elevation=42, azimuth=-65)
        self.setMinimumSize(240, 200)
        self.grid: SurfaceGrid | None = None
        self.surface: gl.GLSurfacePlotItem | None = None
        self.paths: list[gl.GLLinePlotItem] = []
        self.markers = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), size=11, pxMode=True)
        self.grad_arrows = gl.GLLinePlotItem(pos=np.zeros((0, 3)), mode="lines", width=2.5)
        self.vel_arrows = gl.GLLinePlotItem(pos=np.zeros((0, 3)), mode="lines", width=2.5)
        for it in (self.markers, self.grad_arrows, self.vel_arrows):
            it.setGLOptions(ON_TOP)
            it.setDepthValue(10)  # drawn after the surface and the paths
            self.addItem(it)

    def set_grid(self, grid: SurfaceGrid, cmap: pg.ColorMap) -> None:
        self.grid = grid
        self.cmap = cmap
        hn = (grid.H - grid.hmin) / max(grid.hmax - grid.hmin, 1e-300)
        # one RGBA row per vertex, in the mesh's vertex order (the (w, h, 4) form fails in pyqtgraph 0.14)
        colors = np.asarray(cmap.map(hn.ravel(), mode="byte"), dtype=np.uint8).reshape(-1, 4)  # 4 bytes/vertex
        colors[:, 3] = 255
        x = np.linspace(-BOX / 2, BOX / 2, grid.n)
        z = hn * HEIGHT
        if self.surface is None:
            self.surface = gl.GLSurfacePlotItem(x=x, y=x, z=z, colors=colors, smooth=False)
            self.surface.setGLOptions("opaque")
            self.addItem(self.surface)
        else:
            self.surface.setData(x=x, y=x, z=z, colors=colors)
        self.set_static_items([self.surface])  # drawn once per camera, then blitted back

    def colour_scale(self) -> tuple[pg.ColorMap, float, float, str] | None:
        """The surface's colour map, the heights at its ends and what they are (for an exported colour bar)."""
        g = self.grid
        if g is None:
            return None
        return self.cmap, g.hmin, g.hmax, "log10(f − f_min)" if g.log else "f(x, y)"

    def set_racers(self, colors: list[str]) -> None:
        for it in self.paths:
            self.removeItem(it)
        # no GL line smoothing: in Mesa's llvmpipe it is done on the CPU, for every path and frame
        self.dashes = [DASHES.get(line_style(i)) for i in range(len(colors))]  # None: a solid path
        self.paths = [
            gl.GLLinePlotItem(
                pos=np.zeros((0, 3)),
                color=rgba(c),
                width=3,
                antialias=False,
                mode="line_strip" if d is None else "lines",
            )
            for c, d in zip(colors, self.dashes, strict=True)
        ]
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
            dash = self.dashes[i]
            self.paths[i].setData(pos=pts if dash is None else dashed(pts, dash))
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
