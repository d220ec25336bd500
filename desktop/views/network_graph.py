"""The network drawn as a layered graph: every neuron a small picture (its output over the
input plane, its weights as an image, or its mean output per class as bars), every
connection a line whose colour is the weight's sign and whose width its size; beside it the
output as the decision boundary with the data, and the neuron picked by a click, enlarged.

One GraphicsLayoutWidget holds it all (so it exports as one PNG/SVG). The items are made
when the layout changes (another network, another number of neurons shown) and updated in
place for every snapshot, touching only what changed (Qt repaints only what is touched):
a layer's shown pictures are coloured in one vectorised pass and each neuron's image is
replaced only when its pixels differ; the connections of a layer pair are one item with a
path per sign and width class, rebuilt only when a connection changes class; texts,
frames, titles and axes are set only when their value changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import QGraphicsRectItem

from desktop.plotting import PaintTimedLayout, color, style_plot
from desktop.views.decision_boundary import class_colors, probs_to_rgb
from engine.boundary.snapshot import BoundaryPoints
from engine.network.snapshot import LayerPictures, NetworkSnapshot

COL = 2.8  # horizontal distance between two layers (a neuron is 1 × 1)
PITCH = 1.3  # vertical distance between two neurons of a layer
NEG = np.array([33, 102, 172], float)  # negative values and weights: blue
POS = np.array([230, 97, 1], float)  # positive: orange
WIDTHS = (0.6, 1.3, 2.3, 3.6)  # connection width classes (pixels), by |w| / max |w| of the layer pair
DEAD_PEN = pg.mkPen("#D55E00", width=3)
SATURATED_PEN = pg.mkPen("#CC79A7", width=3, style=Qt.DashLine)
PLAIN_PEN = pg.mkPen(150, 150, 150, width=1)
SELECTED_PEN = pg.mkPen("#000000", width=3)


def diverging_lut() -> np.ndarray:
    """(256, 3) uint8: blue (negative) → white (zero) → orange (positive)."""
    t = np.linspace(-1, 1, 256)[:, None]
    white = np.full(3, 255.0)
    rgb = np.where(t < 0, white + (white - NEG) * t, white + (POS - white) * t)
    return np.clip(rgb, 0, 255).astype(np.uint8)


LUT = diverging_lut()


def scale_of(values: np.ndarray, percentile: float = 100.0) -> float:
    """The largest |value| (or that percentile of them; 1 when there is none), the symmetric
    colour range of a layer."""
    a = np.abs(values[np.isfinite(values)]) if values.size else np.zeros(0)
    m = float(np.percentile(a, percentile)) if a.size else 0.0
    return m if np.isfinite(m) and m > 0 else 1.0


# A layer's neuron maps share one colour range: the 99th percentile of its |outputs| over the
# plane, so one unit growing large far from the data (ReLU in a corner) does not leave every
# other map a pale wash; the few values beyond it show at full colour.
PLANE_PERCENTILE = 99.0


def to_rgb(values: np.ndarray, scale: float) -> np.ndarray:
    """Values (..., H, W) → (..., H, W, 3) uint8 with the diverging map over [−scale, scale]."""
    idx = np.clip(np.nan_to_num((values / scale + 1.0) * 127.5), 0, 255).astype(np.int64)
    return LUT[idx]


def bars_rgb(values: np.ndarray, scale: float) -> np.ndarray:
    """(U, C) per-class means → (U, H, 4·C, 3) uint8 bar strips in the class colours, about
    square (zero at the bottom, or in the middle when the layer has negative values)."""
    u, c = values.shape
    height = max(12, 3 * c)
    out = np.full((u, height, 4 * c, 3), 255, np.uint8)
    cols = (class_colors(c) * 255).astype(np.uint8)
    signed = bool((values < 0).any())
    base = height // 2 if signed else height
    span = height // 2 if signed else height
    h = np.clip(np.nan_to_num(values / scale) * span, -span, span).round().astype(int)
    for k in range(c):
        x0 = 4 * k + 1
        for i in range(u):
            a, b = (base - h[i, k], base) if h[i, k] >= 0 else (base, base - h[i, k])
            out[i, a:b, x0 : x0 + 3] = cols[k]
    out[:, max(base - 1, 0), :, :] = np.minimum(out[:, max(base - 1, 0), :, :], 160)
    return out


def unit_rgb(layer: LayerPictures, is_output: bool, class_names: int, units: list[int] | None = None) -> np.ndarray:
    """The units' pictures (all, or those listed) as (U, H, W, 3) uint8, row 0 at the top; a
    layer's colour range is that of all its units, whichever are coloured."""
    every = layer.pictures
    p = every if units is None else every[units]
    if layer.picture == "bars":
        return bars_rgb(p, scale_of(every))
    if layer.picture == "rgb":
        lo = p.reshape(len(p), -1).min(1)[:, None, None, None]
        hi = p.reshape(len(p), -1).max(1)[:, None, None, None]
        return ((p - lo) / np.maximum(hi - lo, 1e-12) * 255).astype(np.uint8)
    if layer.picture == "plane":
        flipped = p[:, ::-1, :]  # row 0 of a map is the bottom of the plane (y0)
        if is_output:  # class probabilities: white → the class colour
            cols = class_colors(max(class_names, len(every)))[: len(every)]
            cols = cols if units is None else cols[units]
            rgb = 1.0 - flipped[..., None] * (1.0 - cols[:, None, None, :])
            return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        return to_rgb(flipped, scale_of(every, PLANE_PERCENTILE))
    return to_rgb(p, scale_of(every))  # weights as a gray image: signed


class EdgesItem(pg.GraphicsObject):
    """The connections between two layers: one path of segment pairs per sign and width
    class, stroked with that class's pen (what a PlotCurveItem with connect="pairs" draws,
    without its per-paint overhead, as one item)."""

    def __init__(self) -> None:
        super().__init__()
        self.pens = []
        for sign in (1, -1):
            base = POS if sign > 0 else NEG
            for k, w in enumerate(WIDTHS):
                alpha = int(90 + 165 * k / (len(WIDTHS) - 1))
                self.pens.append(pg.mkPen((int(base[0]), int(base[1]), int(base[2]), alpha), width=w))
        self.paths: list[QPainterPath | None] = [None] * len(self.pens)
        self.segments = 0  # connections drawn
        self.antialias = bool(pg.getConfigOption("antialias"))
        self._rect = QRectF()
        self._key: tuple = ()
        self.setZValue(-5)

    def set_segments(self, xs: np.ndarray, ys: np.ndarray, cls: np.ndarray) -> bool:
        """Segments (E, 2) x and y of their ends, each in pen class `cls` (E,); False (and
        nothing repainted) when they are what is drawn already."""
        key = (xs.tobytes(), ys.tobytes(), cls.tobytes())
        if key == self._key:
            return False
        self._key = key
        for k in range(len(self.pens)):
            m = cls == k
            self.paths[k] = pg.arrayToQPath(xs[m].ravel(), ys[m].ravel(), connect="pairs") if m.any() else None
        self.segments = len(cls)
        self.prepareGeometryChange()
        if len(cls):
            pad = 0.1  # the widest pen, in view units (a neuron is about 60 px)
            x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
            self._rect = QRectF(x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad)
        else:
            self._rect = QRectF()
        self.update()
        return True

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, p, *_args) -> None:
        opts = getattr(self, "_exportOpts", False)
        p.setRenderHint(p.RenderHint.Antialiasing, opts.get("antialias", True) if opts else self.antialias)
        for pen, path in zip(self.pens, self.paths):
            if path is not None:
                p.setPen(pen)
                p.drawPath(path)


@dataclass
class Slot:
    """One drawn neuron: its picture, its frame, and which unit it shows."""

    image: pg.ImageItem
    frame: QGraphicsRectItem
    label: pg.TextItem  # the unit's name (input features, classes)
    unit: int = -1
    pixels: np.ndarray | None = None  # what the image shows now (replaced only when it differs)


@dataclass
class Column:
    """One drawn layer: its slots, its title and its "+N more" line."""

    slots: list[Slot]
    title: pg.TextItem
    more: pg.TextItem
    units: int
    offset: int = 0
    edges: EdgesItem | None = None  # connections from the previous layer

    def shown(self) -> list[int]:
        return list(range(self.offset, min(self.units, self.offset + len(self.slots))))


class GraphBox(pg.ViewBox):
    """The graph's view: the wheel scrolls the layer under the cursor instead of zooming."""

    def __init__(self, diagram: NetworkDiagram) -> None:
        super().__init__(lockAspect=True, enableMenu=False)
        self.diagram = diagram
        self.setMouseEnabled(False, False)

    def wheelEvent(self, ev, axis=None) -> None:
        p = self.mapSceneToView(ev.scenePos())
        steps = -1 if ev.delta() > 0 else 1
        if self.diagram.scroll_layer_at(p.x(), steps):
            ev.accept()
        else:
            ev.ignore()


class NetworkDiagram(PaintTimedLayout):
    """The graph (left), the output's decision boundary and the enlarged neuron (right)."""

    def __init__(self, max_units: int = 10, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.max_units = int(max_units)
        self.snap: NetworkSnapshot | None = None
        self.points: BoundaryPoints | None = None
        self.columns: list[Column] = []
        self.selected: tuple[int, int] | None = None  # (layer, unit)
        self.hover_text = ""
        self.frames_drawn = 0
        self._shape: tuple = ()
        self._set: dict[tuple, object] = {}  # what each item was last set to (see _changed)

        self.graph = GraphBox(self)
        self.graph.invertY(False)
        self.addItem(self.graph, row=0, col=0, rowspan=2)
        self.boundary = self.addPlot(row=0, col=1)
        style_plot(self.boundary, "Output: the decision boundary", "x1", "x2")
        self.boundary.setAspectLocked(True)
        self.boundary_image = pg.ImageItem()
        self.boundary_image.setZValue(-10)
        self.boundary.addItem(self.boundary_image)
        self.point_items: list[pg.ScatterPlotItem] = []
        self.detail = self.addPlot(row=1, col=1)
        style_plot(self.detail, "Click a neuron to enlarge it", "x1", "x2")
        self.detail.setAspectLocked(True)
        self.detail_image = pg.ImageItem()
        self.detail_image.setZValue(-10)
        self.detail.addItem(self.detail_image)
        self.detail_points: list[pg.ScatterPlotItem] = []
        ci = self.ci
        # small preferred widths, so the 1:1 stretch shares the room (the plots' own preferred
        # widths otherwise left the graph, and each neuron's map, the smaller part)
        for item in (self.graph, self.boundary, self.detail):
            item.setPreferredWidth(50)
        ci.layout.setColumnStretchFactor(0, 1)
        ci.layout.setColumnStretchFactor(1, 1)
        self.scene().sigMouseMoved.connect(self._on_scene_moved)
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)

    # -- data --------------------------------------------------------------------------------
    def set_points(self, points: BoundaryPoints | None) -> None:
        """The training (filled) and validation (white ring) points, drawn on the 2D plots."""
        self.points = points
        self._set.pop(("detail",), None)  # the enlarged neuron's range takes in the new points
        for plot, items in ((self.boundary, self.point_items), (self.detail, self.detail_points)):
            for it in items:
                plot.removeItem(it)
        self.point_items, self.detail_points = [], []
        if points is None:
            return
        for k in range(points.n_classes):
            tr, va = points.x_train[points.y_train == k], points.x_val[points.y_val == k]
            brush = pg.mkBrush(color(k))
            for plot, store, size in ((self.boundary, self.point_items, 5), (self.detail, self.detail_points, 4)):
                a = pg.ScatterPlotItem(tr[:, 0], tr[:, 1], size=size, brush=brush, pen=pg.mkPen(0.15, width=0.5))
                b = pg.ScatterPlotItem(va[:, 0], va[:, 1], size=size + 1, brush=brush, pen=pg.mkPen("w", width=1.4))
                plot.addItem(a)
                plot.addItem(b)
                store += [a, b]

    def set_max_units(self, n: int) -> None:
        self.max_units = max(1, int(n))
        self._shape = ()
        if self.snap is not None:
            self.show_snapshot(self.snap)

    def show_snapshot(self, snap: NetworkSnapshot) -> None:
        """Draw a snapshot: rebuild the items only when the layout changed, else update them."""
        shape = (snap.kind, tuple((layer.units, layer.drawn, layer.picture) for layer in snap.layers))
        if shape != self._shape:
            self._build(snap)
            self._shape = shape
        self.snap = snap
        for i in range(len(self.columns)):
            self._fill_column(i)
        self._draw_output(snap)
        self._draw_detail()
        self.frames_drawn += 1

    # -- building ----------------------------------------------------------------------------
    def _changed(self, key: tuple, value: object) -> bool:
        """Whether `value` differs from what item `key` was last set to (and remember it)."""
        if key in self._set and self._set[key] == value:
            return False
        self._set[key] = value
        return True

    def _build(self, snap: NetworkSnapshot) -> None:
        self.graph.clear()
        self.columns = []
        self._set = {k: v for k, v in self._set.items() if k[0] in ("output", "detail")}
        if self.selected is not None and (
            self.selected[0] >= len(snap.layers) or self.selected[1] >= snap.layers[self.selected[0]].drawn
        ):
            self.selected = None
        n_max = 1
        for i, layer in enumerate(snap.layers):
            n = min(layer.drawn, self.max_units)
            n_max = max(n_max, n)
            edges = None
            if i:
                edges = EdgesItem()
                self.graph.addItem(edges)
            slots = []
            for _ in range(n):
                img = pg.ImageItem()
                frame = QGraphicsRectItem()
                frame.setPen(PLAIN_PEN)
                label = pg.TextItem(anchor=(1.0, 0.5) if i == 0 else (0.0, 0.5), color=(30, 30, 30))
                self.graph.addItem(img)
                self.graph.addItem(frame)
                self.graph.addItem(label)
                slots.append(Slot(img, frame, label))
            title = pg.TextItem(anchor=(0.5, 1.0), color=(30, 30, 30))
            more = pg.TextItem(anchor=(0.5, 0.0), color=(90, 90, 90))
            self.graph.addItem(title)
            self.graph.addItem(more)
            self.columns.append(Column(slots, title, more, layer.drawn, 0, edges))
        top = (n_max - 1) / 2 * PITCH + 1.6
        x1 = (len(snap.layers) - 1) * COL
        self.graph.setRange(QRectF(-2.2, -top, x1 + 4.4, 2 * top), padding=0.02)

    def slot_y(self, j: int, n: int) -> float:
        """The centre of the j-th of n shown neurons (the first at the top)."""
        return ((n - 1) / 2 - j) * PITCH

    def _fill_column(self, i: int) -> None:
        assert self.snap is not None
        snap = self.snap
        layer, col = snap.layers[i], self.columns[i]
        is_output = i == len(snap.layers) - 1
        shown = col.shown()
        # the shown pictures in one pass, flipped and transposed to pyqtgraph's (x, y) order
        rgb = unit_rgb(layer, is_output, len(snap.class_names), shown)
        pics = np.ascontiguousarray(rgb[:, ::-1].transpose(0, 2, 1, 3))
        n = len(col.slots)
        x = i * COL
        for j, slot in enumerate(col.slots):
            if j >= len(shown):
                if self._changed(("slot", i, j), None):
                    slot.image.hide()
                    slot.frame.hide()
                    slot.label.hide()
                    slot.pixels = None
                continue
            u = shown[j]
            slot.unit = u
            pic = pics[j]
            w, h = pic.shape[:2]
            sx, sy = (1.0, min(1.0, h / w)) if w >= h else (min(1.0, w / h), 1.0)
            y = self.slot_y(j, n)
            rect = QRectF(x - sx / 2, y - sy / 2, sx, sy)
            if slot.pixels is None or not np.array_equal(slot.pixels, pic):
                slot.image.setImage(pic, autoLevels=False)  # uint8 RGB: no levels, no rescaling pass
                slot.pixels = pic
            named = (i == 0 or is_output) and u < len(layer.labels)
            text = layer.labels[u] if named else ""
            frame = QRectF(x - 0.5, y - 0.5, 1.0, 1.0) if layer.picture != "bars" else rect
            if self._changed(("slot", i, j), (rect, frame, self._pen(i, u, layer), text, named)):
                slot.image.setRect(rect)
                slot.image.show()
                slot.frame.setRect(frame)
                slot.frame.setPen(self._pen(i, u, layer))
                slot.frame.show()
                slot.label.setText(text)
                slot.label.setPos(x - 0.6 if i == 0 else x + 0.6, y)
                slot.label.setVisible(named)
        dead, sat = int(layer.dead.sum()), int(layer.saturated.sum())
        flags = ", ".join(t for t in (f"{dead} dead" if dead else "", f"{sat} saturated" if sat else "") if t)
        name = layer.name if i else "inputs"
        title = f"{name} ({layer.units})" + (f"\n{flags}" if flags else "")
        if self._changed(("title", i), (title, dead, sat)):
            col.title.setText(title)
            col.title.setColor("#D55E00" if dead else ("#CC79A7" if sat else (30, 30, 30)))
            col.title.setPos(x, self.slot_y(0, n) + 0.6)
        below = layer.drawn - col.offset - len(shown)  # drawn further down: reached by scrolling
        extra = layer.units - layer.drawn  # beyond network.max_units: no picture
        parts = ([f"▲ {col.offset} above"] if col.offset else []) + (
            [f"+{below + extra} more ▼"] if below + extra else []
        )
        hint = "(scroll)" if below or col.offset else ""
        if extra:
            hint = (hint + " " if hint else "") + f"(pictures of the first {layer.drawn})"
        more = " · ".join(parts) + (f"\n{hint}" if hint else "")
        if self._changed(("more", i), more):
            col.more.setText(more)
            col.more.setPos(x, self.slot_y(n - 1, n) - 0.6)
        if i:
            self._fill_edges(i)

    def _pen(self, i: int, u: int, layer: LayerPictures):
        if self.selected == (i, u):
            return SELECTED_PEN
        if layer.dead[u]:
            return DEAD_PEN
        if layer.saturated[u]:
            return SATURATED_PEN
        return PLAIN_PEN

    def _segments(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The shown connections into layer i: x and y of their two ends (E, 2) and weights (E,),
        with the (unit, previous unit) of each."""
        assert self.snap is not None
        prev, col = self.columns[i - 1], self.columns[i]
        a, b = prev.shown(), col.shown()
        w = self.snap.layers[i].weights
        if not a or not b or w.shape[1] == 0:
            return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), np.zeros((0, 2), int)
        na, nb = len(prev.slots), len(col.slots)
        ya = np.array([self.slot_y(j, na) for j in range(len(a))])
        yb = np.array([self.slot_y(j, nb) for j in range(len(b))])
        jj, kk = np.meshgrid(np.arange(len(b)), np.arange(len(a)), indexing="ij")
        ws = w[np.ix_(b, a)] if w.shape[1] > max(a) else np.zeros((len(b), len(a)))
        xs = np.stack([np.full(jj.size, (i - 1) * COL + 0.5), np.full(jj.size, i * COL - 0.5)], 1)
        ys = np.stack([ya[kk.ravel()], yb[jj.ravel()]], 1)
        units = np.stack([np.asarray(b)[jj.ravel()], np.asarray(a)[kk.ravel()]], 1)
        return xs, ys, ws.ravel(), units

    def _fill_edges(self, i: int) -> None:
        xs, ys, ws, _ = self._segments(i)
        edges = self.columns[i].edges
        assert edges is not None
        top = float(np.abs(ws).max()) if ws.size else 1.0
        top = top if top > 0 else 1.0
        cls = np.minimum((np.abs(ws) / top * len(WIDTHS)).astype(int), len(WIDTHS) - 1)
        edges.set_segments(xs, ys, np.where(ws >= 0, cls, cls + len(WIDTHS)))  # positive classes first

    # -- the output and the enlarged neuron ----------------------------------------------------
    def _draw_output(self, snap: NetworkSnapshot) -> None:
        out = snap.layers[-1]
        if snap.kind == "plane":
            probs = np.moveaxis(out.pictures, 0, -1)  # (G, G, C)
            rgb = probs_to_rgb(probs)
            self.boundary_image.setImage(
                np.ascontiguousarray(rgb.transpose(1, 0, 2)), autoLevels=False, levels=(0, 255)
            )
            x0, x1, y0, y1 = snap.extent
            if self._changed(("output", "plane"), tuple(snap.extent)):  # titles and axes: only when they change
                self.boundary_image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
                self.boundary.setTitle("Output: decision boundary (filled: train, ring: validation)")
                self.boundary.setLabel("bottom", "x1")
                self.boundary.setLabel("left", "x2")
            return
        m = out.pictures  # (C outputs, C true classes)
        c = m.shape[0]
        # row r = true class r (bottom up), column k = output k, tinted by the output's colour
        rgb = (np.clip(1.0 - m.T[..., None] * (1.0 - class_colors(c)[None, :, :]), 0, 1) * 255).astype(np.uint8)
        self.boundary_image.setImage(np.ascontiguousarray(rgb.transpose(1, 0, 2)), autoLevels=False, levels=(0, 255))
        names = list(snap.class_names) if len(snap.class_names) == c else [str(k) for k in range(c)]
        if not self._changed(("output", "plane"), (c, tuple(names))):
            return
        self.boundary_image.setRect(QRectF(0, 0, c, c))
        ticks = [[(k + 0.5, names[k]) for k in range(c)]]
        self.boundary.getAxis("bottom").setTicks(ticks)
        self.boundary.getAxis("left").setTicks(ticks)
        self.boundary.setTitle("Output: mean probability of each class per true class")
        self.boundary.setLabel("bottom", "predicted class (output unit)")
        self.boundary.setLabel("left", "true class of the samples")
        self.boundary.setRange(xRange=(0, c), yRange=(0, c), padding=0.02)

    def _draw_detail(self) -> None:
        snap = self.snap
        if snap is None or self.selected is None:
            if self._changed(("detail",), None):  # emptied once, not on every snapshot
                self.detail_image.clear()
                for it in self.detail_points:
                    it.hide()
                self.detail.setTitle("Click a neuron to enlarge it")
                self.detail.setLabel("bottom", "")
                self.detail.setLabel("left", "")
                self.detail.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            return
        i, u = self.selected
        layer = snap.layers[i]
        is_output = i == len(snap.layers) - 1
        pic = unit_rgb(layer, is_output, len(snap.class_names), [u])[0]
        self.detail_image.setImage(
            np.ascontiguousarray(pic[::-1].transpose(1, 0, 2)), autoLevels=False, levels=(0, 255)
        )
        self.detail.setTitle(f"{self.describe_unit(i, u)}")
        plane = layer.picture == "plane"
        h, w = pic.shape[:2]
        if not self._changed(("detail",), (plane, layer.picture, tuple(snap.extent), h, w, len(self.detail_points))):
            return
        if plane:
            x0, x1, y0, y1 = snap.extent
            self.detail_image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        else:
            self.detail_image.setRect(QRectF(0, 0, w, h))
        for it in self.detail_points:
            it.setVisible(plane)
        bars = layer.picture == "bars"
        self.detail.setLabel("bottom", "x1" if plane else ("class" if bars else "pixel"))
        self.detail.setLabel("left", "x2" if plane else ("" if bars else "pixel"))
        self.detail.autoRange(padding=0.02)

    # -- interaction ---------------------------------------------------------------------------
    def unit_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(layer, unit) of the neuron drawn at view point (x, y), or None."""
        i = int(round(x / COL))
        if not 0 <= i < len(self.columns) or abs(x - i * COL) > 0.5:
            return None
        col = self.columns[i]
        shown = col.shown()
        n = len(col.slots)
        for j, u in enumerate(shown):
            if abs(y - self.slot_y(j, n)) <= 0.5:
                return i, u
        return None

    def edge_at(self, x: float, y: float, tol: float = 0.08) -> tuple[int, int, int, float] | None:
        """(layer, unit, previous unit, weight) of the connection nearest (x, y) within tol."""
        i = int(np.ceil(x / COL))
        if not 1 <= i < len(self.columns) + 0 or self.snap is None:
            return None
        xs, ys, ws, units = self._segments(i)
        if not ws.size:
            return None
        p0, p1 = np.stack([xs[:, 0], ys[:, 0]], 1), np.stack([xs[:, 1], ys[:, 1]], 1)
        d = p1 - p0
        t = np.clip(((x - p0[:, 0]) * d[:, 0] + (y - p0[:, 1]) * d[:, 1]) / (d**2).sum(1), 0, 1)
        dist = np.hypot(p0[:, 0] + t * d[:, 0] - x, p0[:, 1] + t * d[:, 1] - y)
        k = int(dist.argmin())
        if dist[k] > tol:
            return None
        return i, int(units[k, 0]), int(units[k, 1]), float(ws[k])

    def unit_name(self, i: int, u: int) -> str:
        assert self.snap is not None
        layer = self.snap.layers[i]
        label = f" {layer.labels[u]}" if u < len(layer.labels) and layer.labels[u] else ""
        return f"{layer.name} · unit {u + 1}{label}"

    def describe_unit(self, i: int, u: int) -> str:
        """What hovering a neuron shows: where it is, its bias, its range, its flags."""
        assert self.snap is not None
        layer = self.snap.layers[i]
        p = layer.pictures[u]
        what = {"plane": "output", "image": "weight", "rgb": "weight", "bars": "class means"}[layer.picture]
        if i == 0 and layer.picture != "bars":
            what = "input" if layer.picture == "plane" else "mean pixel"
        text = f"{self.unit_name(i, u)}: {what} in [{float(p.min()):.3g}, {float(p.max()):.3g}]"
        if i:
            text += f", bias {float(layer.bias[u]):+.3g}"
        if layer.dead[u]:
            text += " — dead (never fires)"
        if layer.saturated[u]:
            text += " — saturated"
        return text

    def hover(self, x: float, y: float) -> str:
        """The text for the point (x, y) of the graph: a neuron's values or a connection's weight."""
        if self.snap is None:
            return ""
        hit = self.unit_at(x, y)
        if hit is not None:
            return self.describe_unit(*hit)
        e = self.edge_at(x, y)
        if e is not None:
            i, u, v, w = e
            return f"weight {self.unit_name(i - 1, v)} → {self.unit_name(i, u)}: {w:+.4g}"
        return ""

    def select(self, i: int, u: int) -> None:
        """Enlarge a neuron's picture in the detail plot (and frame it in the graph)."""
        self.selected = (i, u)
        if self.snap is not None:
            for k in range(len(self.columns)):
                self._fill_column(k)
            self._draw_detail()

    def scroll_layer_at(self, x: float, steps: int) -> bool:
        i = int(round(x / COL))
        if not 0 <= i < len(self.columns):
            return False
        col = self.columns[i]
        top = max(0, col.units - len(col.slots))
        new = int(np.clip(col.offset + steps, 0, top))
        if new == col.offset:
            return top > 0
        col.offset = new
        if self.snap is not None:
            self._fill_column(i)
            if i + 1 < len(self.columns):
                self._fill_edges(i + 1)
        return True

    def _on_scene_moved(self, pos: QPointF) -> None:
        if not self.graph.sceneBoundingRect().contains(pos):
            return
        p = self.graph.mapSceneToView(pos)
        self.hover_text = self.hover(p.x(), p.y())
        self.setToolTip(self.hover_text)

    def _on_scene_clicked(self, ev) -> None:
        pos = ev.scenePos()
        if not self.graph.sceneBoundingRect().contains(pos):
            return
        p = self.graph.mapSceneToView(pos)
        hit = self.unit_at(p.x(), p.y())
        if hit is not None:
            self.select(*hit)
