"""The playground's 2D view: heat map and contour lines of the surface, with the paths.

The heat map and its contour lines never change while a race plays, so they are one
item cached as a pixmap (QGraphicsItem.DeviceCoordinateCache): each frame blits it
and draws only the moving paths, markers and arrows over it, instead of repainting a
pg.ImageItem and ten antialiased IsocurveItems every frame
(tests/benchmarks/bench_playground.py --frames times the frames).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPainterPath
from PySide6.QtWidgets import QGraphicsItem

from desktop.plotting import line_style, style_plot
from desktop.views.playground_plots import SurfaceGrid, thin_to_pixels

N_LEVELS = 10


class HeatmapContours(pg.GraphicsObject):
    """The surface as a colour-mapped image with white contour lines, in data coordinates.

    Row r of the image is y index r and column c is x index c (grid.H[c, r]), stretched
    over the function's domain; the contour lines are traced on every other grid point
    and scaled back onto the image's pixel grid, as pyqtgraph's IsocurveItem would."""

    def __init__(self) -> None:
        super().__init__()
        self.qimage: QImage | None = None
        self._pixels: np.ndarray | None = None
        self.paths: list[QPainterPath] = []
        self.levels: np.ndarray = np.zeros(0)
        self.rect = QRectF(0, 0, 1, 1)
        self.n = 1
        self.pen = pg.mkPen((255, 255, 255, 130), width=1)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_grid(self, grid: SurfaceGrid, cmap: pg.ColorMap) -> None:
        (x0, x1), (y0, y1) = grid.fn.domain
        H = grid.H
        hn = (H - grid.hmin) / max(grid.hmax - grid.hmin, 1e-300)
        rgba = np.asarray(cmap.map(np.nan_to_num(hn.T, nan=1.0).ravel(), mode="byte"), dtype=np.uint8)
        self._pixels = np.ascontiguousarray(rgba.reshape(H.shape[1], H.shape[0], 4))
        self._pixels[..., 3] = 255
        h, w = self._pixels.shape[:2]
        self.qimage = QImage(self._pixels.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
        self.n = grid.n
        self.levels = np.unique(np.quantile(H[np.isfinite(H)], np.linspace(0.04, 0.96, N_LEVELS)))
        half = H[::2, ::2]
        self.paths = []
        for lv in self.levels:
            path = QPainterPath()
            for line in pg.functions.isocurve(half, float(lv), connected=True, extendToEdge=True):
                path.moveTo(2.0 * line[0][0], 2.0 * line[0][1])
                for px, py in line[1:]:
                    path.lineTo(2.0 * px, 2.0 * py)
            self.paths.append(path)
        self.prepareGeometryChange()
        self.rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(self.rect)

    def paint(self, p: QPainter, *args) -> None:
        if self.qimage is None:
            return
        r = self.rect
        p.save()
        p.translate(r.topLeft())
        p.scale(
            r.width() / w if (w := self.qimage.width()) else 1.0, r.height() / h if (h := self.qimage.height()) else 1.0
        )
        p.drawImage(QRectF(0, 0, self.qimage.width(), self.qimage.height()), self.qimage)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(self.pen)
        for path in self.paths:
            p.drawPath(path)
        p.restore()


class Contour2D(pg.PlotWidget):
    """Heat map + isocurves of the same surface with the paths; a click sets the start point."""

    start_clicked = Signal(float, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style_plot(self.getPlotItem(), "Contour map (click: start point)", "x", "y")
        # x is not sorted along a path: pyqtgraph's clip-to-view and auto-downsampling assume
        # it is (they cut a path short when zoomed in); the paths are thinned to pixels instead
        self.getPlotItem().setClipToView(False)
        self.getPlotItem().setDownsampling(ds=1, auto=False)
        # no grid over the heat map: pyqtgraph draws grid lines in the axis items, whose
        # bounding rect then covers the plot, so every path update would repaint both axes
        self.showGrid(x=False, y=False)
        self.setAspectLocked(False)
        self.heatmap = HeatmapContours()
        self.addItem(self.heatmap)
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
        self.heatmap.set_grid(grid, cmap)
        self.minima.setData(pos=np.array(minima, dtype=np.float64).reshape(-1, 2))
        self.set_start(start)
        self.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)

    def set_start(self, start) -> None:
        self.start.setData(pos=np.array([start], dtype=np.float64))

    def set_racers(self, colors: list[str]) -> None:
        for it in self.curves + self.grad_items + self.vel_items:
            self.removeItem(it)
        self.curves = [self.plot(pen=pg.mkPen(c, width=2.5, style=line_style(i))) for i, c in enumerate(colors)]
        self.grad_items = [self.plot(pen=pg.mkPen(c, width=2), connect="pairs") for c in colors]
        self.vel_items = [self.plot(pen=pg.mkPen(c, width=2, style=Qt.DashLine), connect="pairs") for c in colors]
        self.colors = colors
        self.brushes = [pg.mkBrush(c) for c in colors]

    def draw(
        self, positions: list[np.ndarray], grads: list | None, vels: list | None, stopped: list[bool] | None = None
    ) -> None:
        """Paths up to the current step; a racer that diverged ends in a cross."""
        heads = []
        px, py = self.getPlotItem().vb.viewPixelSize()
        for i, pos in enumerate(positions):
            p = thin_to_pixels(pos, px, py)
            self.curves[i].setData(p[:, 0], p[:, 1])
            heads.append(pos[-1])
        heads_a = np.array(heads).reshape(-1, 2)
        stopped = stopped or [False] * len(heads)
        if any(stopped):
            self.markers.setData(
                pos=heads_a,
                brush=self.brushes[: len(heads)],
                symbol=["x" if s else "o" for s in stopped],
                size=[16 if s else 10 for s in stopped],
            )
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
