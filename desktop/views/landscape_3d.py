"""The Landscape tab's 3D loss surface with the live path (OpenGL, rendered offscreen):
imported when the 3D view is first shown, not before the window's first paint."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from PySide6.QtGui import QVector3D

from desktop.gl_offscreen import OffscreenGLView
from desktop.qt_setup import pin_none_refcount
from desktop.views.landscape_plots import (
    BOX,
    CLIPPED_RGBA,
    CMAP,
    HALO_COLOR,
    HEIGHT,
    PATH_COLOR,
    START_COLOR,
    SurfaceShape,
)
from desktop.views.playground_3d import ON_TOP
from desktop.views.playground_plots import rgba, thin


class LandscapeSurface3D(OffscreenGLView):
    """GLSurfacePlotItem coloured by height, the path as a line lifted onto the surface,
    and a marker at the current weights. Rendered offscreen (no QOpenGLWidget in the
    window: with one, every window flush is GL-composited, which under a software renderer
    such as llvmpipe takes CPU from the training beside it); the surface is cached and only
    the path redrawn."""

    def __init__(self, parent=None) -> None:
        pin_none_refcount()
        super().__init__(parent)
        self.setBackgroundColor("w")
        self.setCameraPosition(pos=QVector3D(0.0, 0.0, HEIGHT * 0.35), distance=16.0, elevation=38, azimuth=-60)
        self.setMinimumSize(260, 220)
        self.shape: SurfaceShape | None = None
        self.surface: gl.GLSurfacePlotItem | None = None
        self.cmap = pg.colormap.get(CMAP)
        self.path = gl.GLLinePlotItem(pos=np.zeros((0, 3)), color=rgba(PATH_COLOR), width=3, antialias=True)
        # a dark halo under the path: it stays visible on every colour of the map
        self.halo = gl.GLLinePlotItem(pos=np.zeros((0, 3)), color=rgba(HALO_COLOR), width=6.5, antialias=True)
        self.head = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), size=12, pxMode=True, color=rgba(PATH_COLOR))
        self.start = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), size=11, pxMode=True, color=rgba(START_COLOR))
        self.others: list[gl.GLLinePlotItem] = []
        self.other_halos: list[gl.GLLinePlotItem] = []
        for depth, it in ((4.5, self.halo), (5, self.path), (9, self.start), (10, self.head)):
            it.setGLOptions(ON_TOP)
            it.setDepthValue(depth)
            self.addItem(it)
        # the box's floor and its height edge: where a, b and the loss are measured from
        h, e = BOX / 2, [-BOX / 2, -BOX / 2, 0.0]
        frame = np.array([[-h, -h, 0], [h, -h, 0], [h, h, 0], [-h, h, 0], [-h, -h, 0], e, [-h, -h, HEIGHT]])
        self.frame = gl.GLLinePlotItem(pos=frame, color=(0.3, 0.3, 0.3, 1.0), width=1.5, antialias=True)
        self.addItem(self.frame)

    def set_surface(self, shape: SurfaceShape) -> None:
        self.shape = shape
        hn = (shape.H - shape.hmin) / (shape.hmax - shape.hmin)
        colors = np.asarray(self.cmap.map(hn.ravel(), mode="byte"), dtype=np.uint8).reshape(-1, 4)
        colors[:, 3] = 255
        colors[shape.clipped.ravel()] = CLIPPED_RGBA  # above the drawn range: marked, not just flat
        x = (
            np.linspace(-BOX / 2, BOX / 2, len(shape.alphas))
            if len(shape.alphas) < 2
            else (shape.alphas - shape.alphas[0]) / (shape.alphas[-1] - shape.alphas[0]) * BOX - BOX / 2
        )
        y = (shape.betas - shape.betas[0]) / (shape.betas[-1] - shape.betas[0]) * BOX - BOX / 2
        if self.surface is None:
            self.surface = gl.GLSurfacePlotItem(x=x, y=y, z=hn * HEIGHT, colors=colors, smooth=False)
            self.surface.setGLOptions("opaque")
            self.addItem(self.surface)
            self.set_static_items([self.surface])  # drawn once per camera, then blitted back
        else:
            self.surface.setData(x=x, y=y, z=hn * HEIGHT, colors=colors)

    def colour_scale(self) -> tuple[pg.ColorMap, float, float, str] | None:
        """The surface's colour map, the heights at its ends and what they are (for an exported colour bar)."""
        shape = getattr(self, "shape", None)
        if shape is None:
            return None
        return self.cmap, shape.hmin, shape.hmax, "log10 loss" if shape.log else "loss"

    def set_path(self, coords: np.ndarray) -> None:
        s = self.shape
        if s is None or len(coords) == 0:
            for it in (self.path, self.halo, self.head, self.start):
                it.setData(pos=np.zeros((0, 3)))
            return
        c = thin(coords)
        pts = np.empty((len(c), 3))
        pts[:, :2] = s.scene_xy(c)
        pts[:, 2] = s.scene_z(s.path_losses(c)) + 0.06
        self.path.setData(pos=pts)
        self.halo.setData(pos=pts)
        self.head.setData(pos=pts[-1:] + [0.0, 0.0, 0.06])
        self.start.setData(pos=pts[:1] + [0.0, 0.0, 0.06])

    def set_other_paths(self, paths: list[tuple[np.ndarray, str]]) -> None:
        """Other runs' paths on a shared plane."""
        for it in self.others + self.other_halos:
            self.removeItem(it)
        self.others, self.other_halos = [], []
        s = self.shape
        if s is None:
            return
        for coords, col in paths:
            c = thin(coords)
            pts = np.c_[s.scene_xy(c), s.scene_z(s.path_losses(c)) + 0.06]
            for color, width, depth, items in ((HALO_COLOR, 5.5, 3.5, self.other_halos), (col, 2.5, 4, self.others)):
                it = gl.GLLinePlotItem(pos=pts, color=rgba(color), width=width, antialias=True)
                it.setGLOptions(ON_TOP)
                it.setDepthValue(depth)
                self.addItem(it)
                items.append(it)
