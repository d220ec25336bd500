"""The Landscape tab's plots: the 3D loss surface with the live path, the contour map
with the path, and the small 1D / sharpness / faithfulness plots.

Items are created once; new surfaces and path points only call setData on them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.plotting import style_plot
from desktop.views.playground_plots import thin

if TYPE_CHECKING:
    from pyqtgraph.opengl import GLLinePlotItem

    from desktop.views.landscape_3d import LandscapeSurface3D

BOX = 10.0  # the surface spans [-BOX/2, BOX/2] in x and y in the 3D scene
HEIGHT = 4.0  # ... and [0, HEIGHT] in z
PATH_COLOR = "#D55E00"
START_COLOR = "#FFFFFF"
HALO_COLOR = "#1A1A1A"
CLIPPED_RGBA = (205, 205, 205, 255)  # surface cells above the drawn range
CMAP = "viridis"


class SurfaceShape:
    """A (possibly coarse) surface as drawn: plane coordinates, loss, and the height map
    (log10 of the loss, or the loss clipped at its 95th percentile so a far wall does not
    flatten the valley)."""

    def __init__(self, alphas: np.ndarray, betas: np.ndarray, loss: np.ndarray, log: bool) -> None:
        self.alphas, self.betas, self.loss, self.log = alphas, betas, loss, log
        finite = loss[np.isfinite(loss)]
        if finite.size == 0:
            finite = np.array([0.0, 1.0])
        self.lo = float(finite.min())
        self.hi = float(np.quantile(finite, 0.95)) if not log else float(finite.max())
        if self.hi <= self.lo:
            self.hi = self.lo + 1e-6
        self.H = self.height(np.where(np.isfinite(loss), loss, self.hi))
        # grid points above the drawn range (the far walls cut at the 95th percentile) or not finite
        self.clipped = ~np.isfinite(loss) | (loss > self.hi * (1 + 1e-9))
        self.hmin, self.hmax = float(self.H.min()), float(self.H.max())
        if self.hmax <= self.hmin:
            self.hmax = self.hmin + 1e-6

    def height(self, z: np.ndarray) -> np.ndarray:
        z = np.clip(np.asarray(z, dtype=np.float64), self.lo, self.hi)
        return np.log10(np.maximum(z, 1e-12)) if self.log else z

    def scene_xy(self, coords: np.ndarray) -> np.ndarray:
        a0, a1, b0, b1 = self.alphas[0], self.alphas[-1], self.betas[0], self.betas[-1]
        out = np.empty((len(coords), 2))
        out[:, 0] = (np.clip(coords[:, 0], a0, a1) - a0) / (a1 - a0) * BOX - BOX / 2
        out[:, 1] = (np.clip(coords[:, 1], b0, b1) - b0) / (b1 - b0) * BOX - BOX / 2
        return out

    def scene_z(self, loss: np.ndarray) -> np.ndarray:
        return (self.height(loss) - self.hmin) / (self.hmax - self.hmin) * HEIGHT

    def path_losses(self, coords: np.ndarray) -> np.ndarray:
        """The surface under each path point (bilinear), clamped into the grid."""
        from engine.landscape.projection import bilinear

        a = np.clip(coords[:, 0], self.alphas[0], self.alphas[-1])
        b = np.clip(coords[:, 1], self.betas[0], self.betas[-1])
        return bilinear(self.alphas, self.betas, self.loss, a, b)


class LandscapeContour(pg.PlotWidget):
    """Heat map and iso-lines of the surface in plane coordinates (a, b), with the path."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style_plot(self.getPlotItem(), "Contour map with the path", "α (direction 1)", "β (direction 2)")
        self.getPlotItem().setClipToView(False)
        self.image = pg.ImageItem()
        self.addItem(self.image)
        self.isos: list[pg.IsocurveItem] = []
        self.clipped = np.zeros((0, 0), dtype=bool)  # the image's cells above the drawn range
        self.cmap = pg.colormap.get(CMAP)
        self.halo = self.plot(pen=pg.mkPen(HALO_COLOR, width=5))  # the path stays visible on any colour
        self.path = self.plot(pen=pg.mkPen(PATH_COLOR, width=2.5))
        self.start = pg.ScatterPlotItem(symbol="s", size=9, brush="#ffffff", pen=pg.mkPen("k", width=1.5))
        self.head = pg.ScatterPlotItem(symbol="o", size=11, brush=PATH_COLOR, pen=pg.mkPen("k", width=1))
        self.addItem(self.start)
        self.addItem(self.head)
        self.other_items: list[pg.PlotDataItem] = []
        self.other_halos: list[pg.PlotDataItem] = []  # a dark halo under each other path

    def set_surface(self, shape: SurfaceShape) -> None:
        from engine.landscape.projection import bilinear

        a, b = shape.alphas, shape.betas
        # Resample onto a regular image grid (coarse previews have an uneven last step).
        n = max(len(a), 2)
        ra, rb = np.linspace(a[0], a[-1], n), np.linspace(b[0], b[-1], n)
        A, B = np.meshgrid(ra, rb, indexing="ij")
        H = shape.height(
            bilinear(a, b, np.where(np.isfinite(shape.loss), shape.loss, shape.hi), A.ravel(), B.ravel())
        ).reshape(n, n)
        # coloured as the 3D view: the colour map over the drawn range, grey where the loss is
        # above it (clipped, or not finite) so a cut-off wall does not read as a plateau
        unit = np.clip((H - shape.hmin) / (shape.hmax - shape.hmin), 0.0, 1.0)
        rgba = np.asarray(self.cmap.map(unit.ravel(), mode="byte"), dtype=np.uint8).reshape(n, n, 4)
        self.clipped = bilinear(a, b, shape.clipped.astype(float), A.ravel(), B.ravel()).reshape(n, n) >= 0.5
        rgba[self.clipped] = CLIPPED_RGBA
        self.image.setImage(rgba, autoLevels=False, levels=(0, 255))
        frac = float(self.clipped.mean())
        self.getPlotItem().setTitle(
            # short: the title sets the plot's minimum width, and the side pane is narrow
            "Contour map with the path"
            if frac == 0
            else f"Contour map · grey: clipped above {shape.hi:.3g} ({frac:.0%})",
            size="10pt",
        )
        self.image.setRect(QRectF(a[0], b[0], a[-1] - a[0], b[-1] - b[0]))
        for it in self.isos:
            if it.scene() is not None:
                it.scene().removeItem(it)
        self.isos = []
        for lv in np.unique(np.quantile(H, np.linspace(0.05, 0.95, 10))):
            iso = pg.IsocurveItem(data=H, level=float(lv), pen=pg.mkPen((255, 255, 255, 140), width=1))
            iso.setParentItem(self.image)
            self.isos.append(iso)
        self.setRange(xRange=(a[0], a[-1]), yRange=(b[0], b[-1]), padding=0.0)

    def set_path(self, coords: np.ndarray) -> None:
        if len(coords) == 0:
            self.path.setData([], [])
            self.halo.setData([], [])
            self.start.setData(pos=np.zeros((0, 2)))
            self.head.setData(pos=np.zeros((0, 2)))
            return
        c = thin(coords)
        self.path.setData(c[:, 0], c[:, 1])
        self.halo.setData(c[:, 0], c[:, 1])
        self.start.setData(pos=coords[:1])
        self.head.setData(pos=coords[-1:])

    def set_other_paths(self, paths: list[tuple[np.ndarray, str]]) -> None:
        for it in self.other_items:
            self.removeItem(it)
        for it in self.other_halos:
            self.removeItem(it)
        self.other_items, self.other_halos = [], []
        for c, col in paths:
            t = thin(c)
            self.other_halos.append(self.plot(t[:, 0], t[:, 1], pen=pg.mkPen(HALO_COLOR, width=4.5)))
            self.other_items.append(self.plot(t[:, 0], t[:, 1], pen=pg.mkPen(col, width=2)))


class LandscapeSidePlots(pg.GraphicsLayoutWidget):
    """1D loss from init to the current weights; λ_max against 2/lr; true loss vs the
    surface at the path's projections (faithfulness)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.p_line = self.addPlot(row=0, col=0)
        style_plot(self.p_line, "1D: init (t=0) → current (t=1)", "t", "loss")
        self.line = self.p_line.plot(pen=pg.mkPen("#0072B2", width=2))
        self.line_ends = pg.ScatterPlotItem(size=8, brush="#0072B2")
        self.p_line.addItem(self.line_ends)
        self.p_sharp = self.addPlot(row=1, col=0)
        style_plot(self.p_sharp, "Sharpness λ_max vs 2/lr (log scale)", "epoch", "λ_max")
        self.p_sharp.setLogMode(y=True)
        self.p_sharp.addLegend(offset=(5, 5))
        self.sharp = self.p_sharp.plot(
            pen=pg.mkPen("#009E73", width=2), symbol="o", symbolSize=5, symbolBrush="#009E73", name="λ_max"
        )
        self.two_lr = self.p_sharp.plot(pen=pg.mkPen("#CC79A7", width=2, style=pg.QtCore.Qt.DashLine), name="2/lr")
        self.p_faith = self.addPlot(row=2, col=0)
        style_plot(self.p_faith, "Faithfulness: true loss vs surface", "step", "loss")
        self.p_faith.addLegend(offset=(5, 5))
        self.true_loss = self.p_faith.plot(pen=pg.mkPen("#000000", width=2), name="true")
        self.plane_loss = self.p_faith.plot(
            pen=pg.mkPen(PATH_COLOR, width=2, style=pg.QtCore.Qt.DashLine), name="at projection"
        )

    def set_line(self, t: np.ndarray, loss: np.ndarray) -> None:
        self.line.setData(t, loss)
        ends = [i for i, v in enumerate(t) if abs(v) < 1e-9 or abs(v - 1) < 1e-9]
        self.line_ends.setData(t[ends], loss[ends])

    def set_sharpness(self, epochs: np.ndarray, lam: np.ndarray, two_over_lr: np.ndarray) -> None:
        self.sharp.setData(epochs, lam)
        self.two_lr.setData(epochs, two_over_lr)

    def set_faith(self, steps: np.ndarray, true_loss: np.ndarray, plane_loss: np.ndarray) -> None:
        self.true_loss.setData(steps, true_loss)
        self.plane_loss.setData(steps, plane_loss)


class Lazy3D(QWidget):
    """The 3D view, created on first show: a window whose Landscape tab is never opened
    makes no OpenGL context (fewer GL resources in long sessions and test runs). Keeps the
    latest surface and paths and hands them over when the view appears."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.view: LandscapeSurface3D | None = None  # made on first show
        self._shape: SurfaceShape | None = None
        self._path: np.ndarray | None = None
        self._others: list[tuple[np.ndarray, str]] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.key = SurfaceKey()
        lay.addWidget(self.key)
        self.setMinimumSize(260, 220)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.view is None:
            from desktop.views.landscape_3d import LandscapeSurface3D  # OpenGL: loaded on first show

            self.view = LandscapeSurface3D()
            self.layout().insertWidget(0, self.view, 1)
            if self._shape is not None:
                self.view.set_surface(self._shape)
            if self._path is not None:
                self.view.set_path(self._path)
            if self._others:
                self.view.set_other_paths(self._others)

    def set_surface(self, shape: SurfaceShape) -> None:
        self._shape = shape
        self.key.set_shape(shape)
        if self.view is not None:
            self.view.set_surface(shape)

    def set_path(self, coords: np.ndarray) -> None:
        self._path = coords
        if self.view is not None:
            self.view.set_path(coords)

    def set_other_paths(self, paths: list[tuple[np.ndarray, str]]) -> None:
        self._others = list(paths)
        if self.view is not None:
            self.view.set_other_paths(paths)

    @property
    def path(self) -> GLLinePlotItem | None:
        return None if self.view is None else self.view.path

    @property
    def others(self) -> list:
        return self._others


class SurfaceKey(QWidget):
    """The 3D view's key: the colour bar with the loss range it spans (what is clipped and
    how it is marked), the plane's axes, and which marker is the start and which the end."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cmap = pg.colormap.get(CMAP)
        self.lo_label = QLabel("")
        self.hi_label = QLabel("")
        self.bar = QLabel()
        self.bar.setFixedHeight(12)
        self.bar.setMinimumWidth(120)
        self.range_label = QLabel("")
        self.range_label.setWordWrap(True)
        self.markers = QLabel(
            f"<span style='background:#444;color:{START_COLOR}'>&nbsp;●&nbsp;</span> start &nbsp; "
            f"<span style='color:{PATH_COLOR}'>●</span> end (now) &nbsp; "
            f"<span style='color:{PATH_COLOR}'>━━</span> path &nbsp; "
            "<span style='color:#888'>drag to turn, wheel to zoom</span>"
        )
        row = QHBoxLayout()
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(QLabel("loss"))
        row.addWidget(self.lo_label)
        row.addWidget(self.bar, 1)
        row.addWidget(self.hi_label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        lay.addLayout(row)
        lay.addWidget(self.range_label)
        lay.addWidget(self.markers)
        self.setVisible(False)

    def set_shape(self, shape: SurfaceShape) -> None:
        self.setVisible(True)
        self.lo_label.setText(f"{shape.lo:.4g}")
        self.hi_label.setText(f"{shape.hi:.4g}")
        img = np.asarray(self.cmap.map(np.linspace(0.0, 1.0, 256), mode="byte"), dtype=np.uint8)[:, :3]
        rgb = np.ascontiguousarray(np.repeat(img[None], 12, axis=0))
        qimg = QImage(rgb.data, 256, 12, 256 * 3, QImage.Format_RGB888)
        self.bar.setPixmap(QPixmap.fromImage(qimg.copy()).scaled(max(120, self.bar.width()), 12))
        self.bar.setScaledContents(True)
        frac = float(shape.clipped.mean()) if shape.clipped.size else 0.0
        scale = "log scale" if shape.log else "linear"
        clipped = (
            f"; <span style='background:rgb{CLIPPED_RGBA[:3]}'>&nbsp;grey&nbsp;</span>: above {shape.hi:.4g}, "
            f"clipped ({frac:.0%} of the grid)"
            if frac > 0
            else ""
        )
        a, b = shape.alphas, shape.betas
        self.range_label.setText(
            f"height and colour: loss, {scale}{clipped} · floor: α (direction 1) {a[0]:.3g} … {a[-1]:.3g}, "
            f"β (direction 2) {b[0]:.3g} … {b[-1]:.3g}"
        )


def __getattr__(name: str) -> Any:
    """LandscapeSurface3D lives in desktop.views.landscape_3d (OpenGL, imported on first use)."""
    if name == "LandscapeSurface3D":
        from desktop.views.landscape_3d import LandscapeSurface3D

        return LandscapeSurface3D
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
