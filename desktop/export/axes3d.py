"""Axes for an exported 3D surface picture: the box's two front floor edges and a vertical
edge, with tick marks, tick labels and titles (α, β and the loss for a loss landscape; x, y
and f for a Playground surface), painted onto the rendered frame.

pyqtgraph's GLAxisItem draws lines without labels, and GLTextItem paints on the widget, not
into the framebuffer an export renders; so the scene points are projected here with the
view's own camera (projectionMatrix · viewMatrix, as pyqtgraph draws them) and the axes are
painted with QPainter on the image. Before rendering, the camera is moved back until the box
and its labels fit in the picture (`framed_for_axes`), and put back afterwards; lines and
markers are drawn as thick, relative to the picture, as on screen (`drawn_thicker`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QVector3D

AXIS_COLOR = "#333333"


@dataclass(frozen=True)
class Range3D:
    """What one scene axis measures: the data range drawn over the scene range, and its title."""

    lo: float
    hi: float
    scene_lo: float
    scene_hi: float
    title: str

    def scene(self, v: float) -> float:
        if self.hi == self.lo:
            return 0.5 * (self.scene_lo + self.scene_hi)
        return self.scene_lo + (v - self.lo) / (self.hi - self.lo) * (self.scene_hi - self.scene_lo)


def view_ranges(gl) -> tuple[Range3D, Range3D, Range3D] | None:
    """(x, y, z) ranges of a loss-landscape or Playground 3D view with a surface; None for
    any other view or one without a surface yet."""
    shape = getattr(gl, "shape", None)
    if shape is not None and hasattr(shape, "alphas"):  # desktop.views.landscape_plots.SurfaceShape
        from desktop.views.landscape_plots import BOX, HEIGHT

        a, b = np.asarray(shape.alphas, float), np.asarray(shape.betas, float)
        z = "log10 loss" if shape.log else "loss"
        return (
            Range3D(float(a[0]), float(a[-1]), -BOX / 2, BOX / 2, "α (direction 1)"),
            Range3D(float(b[0]), float(b[-1]), -BOX / 2, BOX / 2, "β (direction 2)"),
            Range3D(shape.hmin, shape.hmax, 0.0, HEIGHT, z),
        )
    grid = getattr(gl, "grid", None)
    if grid is not None and hasattr(grid, "fn"):  # desktop.views.playground_plots.SurfaceGrid
        from desktop.views.playground_plots import BOX, HEIGHT

        (x0, x1), (y0, y1) = grid.fn.domain
        z = "log10(f − f_min)" if grid.log else "f(x, y)"
        return (
            Range3D(float(x0), float(x1), -BOX / 2, BOX / 2, "x"),
            Range3D(float(y0), float(y1), -BOX / 2, BOX / 2, "y"),
            Range3D(grid.hmin, grid.hmax, 0.0, HEIGHT, z),
        )
    return None


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round values (steps of 1, 2, 2.5 or 5 × 10^k) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9) * step
    vals = np.arange(first, hi + step * 1e-6, step)
    return [0.0 if abs(v) < step * 1e-9 else float(v) for v in vals]


def tick_text(v: float) -> str:
    return f"{v:.3g}"


@dataclass(frozen=True)
class Axis3D:
    """An axis edge in scene coordinates, its ticks (label, scene point) and the direction its
    labels go (away from the box)."""

    start: tuple[float, float, float]
    end: tuple[float, float, float]
    ticks: list[tuple[str, tuple[float, float, float]]]
    outward: tuple[float, float, float]
    title: str
    title_on_top: bool = False  # a vertical axis: its title above its top end, not beside it


def view_axes(gl) -> list[Axis3D]:
    """The axes of a 3D surface view as seen from its camera: α (x) along the floor edge nearest
    the camera, β (y) along the other near floor edge, the loss (z) up the floor corner
    leftmost on screen. Empty for a view that has no surface."""
    ranges = view_ranges(gl)
    if ranges is None:
        return []
    rx, ry, rz = ranges
    cam = gl.cameraPosition()
    centre = gl.opts["center"]
    # the floor edges facing the camera
    ye = ry.scene_lo if cam.y() < centre.y() else ry.scene_hi
    xe = rx.scene_hi if cam.x() > centre.x() else rx.scene_lo
    sy = -1.0 if ye == ry.scene_lo else 1.0
    sx = 1.0 if xe == rx.scene_hi else -1.0
    x_axis = Axis3D(
        (rx.scene_lo, ye, rz.scene_lo),
        (rx.scene_hi, ye, rz.scene_lo),
        [(tick_text(v), (rx.scene(v), ye, rz.scene_lo)) for v in nice_ticks(rx.lo, rx.hi)],
        (0.0, sy, 0.0),
        rx.title,
    )
    y_axis = Axis3D(
        (xe, ry.scene_lo, rz.scene_lo),
        (xe, ry.scene_hi, rz.scene_lo),
        [(tick_text(v), (xe, ry.scene(v), rz.scene_lo)) for v in nice_ticks(ry.lo, ry.hi)],
        (sx, 0.0, 0.0),
        ry.title,
    )
    return [x_axis, y_axis, _z_axis(gl, rx, ry, rz)]


def _z_axis(gl, rx: Range3D, ry: Range3D, rz: Range3D) -> Axis3D:
    corners = [(x, y) for x in (rx.scene_lo, rx.scene_hi) for y in (ry.scene_lo, ry.scene_hi)]
    # leftmost on screen: measured with any image size (the projection keeps the order)
    px = project(gl, [(x, y, rz.scene_lo) for x, y in corners], 1000, 1000)
    cx, cy = corners[int(np.argmin(px[:, 0]))]
    mx, my = 0.5 * (rx.scene_lo + rx.scene_hi), 0.5 * (ry.scene_lo + ry.scene_hi)
    out = np.array([cx - mx, cy - my])
    out = out / max(1e-12, float(np.hypot(*out)))
    return Axis3D(
        (cx, cy, rz.scene_lo),
        (cx, cy, rz.scene_hi),
        [(tick_text(v), (cx, cy, rz.scene(v))) for v in nice_ticks(rz.lo, rz.hi)],
        (float(out[0]), float(out[1]), 0.0),
        rz.title,
        title_on_top=True,
    )


def project(gl, points, width: int, height: int) -> np.ndarray:
    """Scene points → pixel positions (x right, y down) in a `width`×`height` rendering of the view."""
    m = gl.projectionMatrix((0, 0, width, height), (0, 0, width, height)) * gl.viewMatrix()
    out = np.empty((len(points), 2))
    for i, (x, y, z) in enumerate(points):
        v = m.map(QVector3D(float(x), float(y), float(z)))  # clip space, divided by w
        out[i] = ((v.x() + 1) * 0.5 * width, (1 - v.y()) * 0.5 * height)
    return out


def _box_corners(axes: list[Axis3D]) -> list[tuple[float, float, float]]:
    pts = [p for a in axes for p in (a.start, a.end)]
    xs, ys, zs = ({p[i] for p in pts} for i in range(3))
    return [(x, y, z) for x in (min(xs), max(xs)) for y in (min(ys), max(ys)) for z in (min(zs), max(zs))]


@contextlib.contextmanager
def framed_for_axes(gl, width: int, height: int, scale: float) -> Iterator[list[Axis3D]]:
    """The view's axes, with its camera moved back (for the time of the block) until the box
    with room for its labels fits a `width`×`height` picture."""
    axes = view_axes(gl)
    if not axes:
        yield axes
        return
    old = gl.opts["distance"]
    try:
        fit_camera(gl, axes, width, height, scale)
        yield axes
    finally:
        if gl.opts["distance"] != old:
            gl.opts["distance"] = old
            gl.update()


def fit_camera(gl, axes: list[Axis3D], width: int, height: int, scale: float) -> None:
    """Move the camera back (never closer) until the axes' box, with room for labels drawn at
    `scale`, fits a `width`×`height` rendering of the view."""
    mx = min(0.15 * width, 60 * scale)
    my = min(0.15 * height, 40 * scale)
    corners = _box_corners(axes)
    for _ in range(15):
        p = project(gl, corners, width, height)
        inside_x = p[:, 0].min() >= mx and p[:, 0].max() <= width - mx
        if inside_x and p[:, 1].min() >= my and p[:, 1].max() <= height - my:
            return
        gl.opts["distance"] *= 1.08


def paint_axes(img: QImage, gl, axes: list[Axis3D], view_size: tuple[int, int], scale: float) -> QImage:
    """`img` (the view rendered at `view_size`, maybe stretched to the image's size) with the
    axes painted on: edge lines, tick marks, tick labels and titles."""
    if not axes:
        return img
    out = img.convertToFormat(QImage.Format.Format_ARGB32)
    vw, vh = view_size
    sx, sy = out.width() / vw, out.height() / vh

    def to_px(points) -> np.ndarray:
        return project(gl, points, vw, vh) * (sx, sy)

    p = QPainter(out)
    try:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        font = QFont(p.font())
        font.setPixelSize(max(8, round(11 * scale)))
        title_font = QFont(font)
        title_font.setPixelSize(max(9, round(12.5 * scale)))
        title_font.setBold(True)
        pen = QPen(QColor(AXIS_COLOR))
        pen.setWidthF(max(1.0, 1.2 * scale))
        p.setPen(pen)
        tick_len = 5 * scale
        gap = 3 * scale
        for axis in axes:
            a, b = to_px([axis.start, axis.end])
            p.drawLine(QPointF(*a), QPointF(*b))
            # the screen direction the labels go: the outward scene direction, projected
            mid = 0.5 * (np.asarray(axis.start) + np.asarray(axis.end))
            m0, m1 = to_px([tuple(mid), tuple(mid + np.asarray(axis.outward))])
            d = m1 - m0
            d = d / max(1e-9, float(np.hypot(*d)))
            p.setFont(font)
            fm = QFontMetricsF(font)
            reach = 0.0
            for text, pos in axis.ticks:
                (t,) = to_px([pos])
                end = t + d * tick_len
                p.drawLine(QPointF(*t), QPointF(*end))
                r = _inside(_label_rect(fm.horizontalAdvance(text), fm.height(), end + d * gap, d), out)
                p.drawText(r, Qt.AlignmentFlag.AlignCenter, text)
                reach = max(
                    reach, float(np.dot(np.array([r.center().x(), r.center().y()]) - t, d)) + _half_extent(r, d)
                )
            p.setFont(title_font)
            tfm = QFontMetricsF(title_font)
            if axis.title_on_top:
                top = b if b[1] < a[1] else a
                d, anchor = np.array([0.0, -1.0]), top + np.array([0.0, -2 * gap - 0.5 * fm.height()])
            else:
                (c,) = to_px([tuple(mid)])
                anchor = c + d * (max(reach, tick_len) + 2 * gap)
            r = _inside(_label_rect(tfm.horizontalAdvance(axis.title), tfm.height(), anchor, d), out)
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, axis.title)
    finally:
        p.end()
    return out


def _half_extent(r: QRectF, d: np.ndarray) -> float:
    """How far a rectangle reaches from its centre along the unit direction d."""
    return 0.5 * (abs(d[0]) * r.width() + abs(d[1]) * r.height())


def _label_rect(w: float, h: float, anchor: np.ndarray, d: np.ndarray) -> QRectF:
    """A w×h rectangle just beyond `anchor` in the direction d (its near side touches the anchor)."""
    r = QRectF(0, 0, w + 2, h)
    c = anchor + d * _half_extent(r, d)
    r.moveCenter(QPointF(float(c[0]), float(c[1])))
    return r


def _inside(r: QRectF, img: QImage) -> QRectF:
    """The rectangle moved (not shrunk) into the picture where it can be."""
    r = QRectF(r)
    r.moveLeft(min(max(r.left(), 0.0), max(0.0, img.width() - r.width())))
    r.moveTop(min(max(r.top(), 0.0), max(0.0, img.height() - r.height())))
    return r


@contextlib.contextmanager
def drawn_thicker(gl, scale: float) -> Iterator[None]:
    """GL lines and on-screen-sized markers `scale` times as wide for the time of the block:
    their widths are in pixels, so a picture drawn at 3× the view's size would thin them to a third."""
    from pyqtgraph.opengl import GLLinePlotItem, GLScatterPlotItem

    changed: list[tuple[object, str, float]] = []
    if scale > 1:
        for item in gl.items:
            if isinstance(item, GLLinePlotItem):
                changed.append((item, "width", item.width))
            elif isinstance(item, GLScatterPlotItem) and item.pxMode and np.isscalar(item.size):
                changed.append((item, "size", item.size))
    try:
        for item, name, old in changed:
            setattr(item, name, old * scale)
        yield
    finally:
        for item, name, old in changed:
            setattr(item, name, old)
