"""The playground's 3D surface with the racers' paths (OpenGL, rendered offscreen):
imported when the view is first shown (LazySurface3D), not before the window's first paint."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6.QtGui import QVector3D

from desktop.gl_offscreen import OffscreenGLView
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
