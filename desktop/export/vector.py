"""Plots as vector pictures: SVG that librsvg, Inkscape and browsers draw alike, and PDF.

Qt's SVG generator writes curves in data coordinates under the plot's data transform and
marks them `vector-effect="non-scaling-stroke"` (pyqtgraph's pens are cosmetic). librsvg
ignores that attribute and scales the stroke with the transform, so a curve becomes a
filled smear. `portable_svg` bakes those transforms into the coordinates (the element is
wrapped in the inverse transform, so its clip path and the group's other children keep
their space), drops every `vector-effect`, names the app's sans font with a generic
fallback (browsers draw an unknown family in serif) and sizes the picture in pixels.

Curves are decimated per pixel column (engine.export.decimate) while the picture is drawn
and restored afterwards, so an SVG of 100 000 steps stays small; CSV and sessions keep
every value.
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QFontInfo,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
    QPicture,
    QTransform,
)
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from engine.export.decimate import minmax_decimate

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_MATRIX = re.compile(r"matrix\(([^)]*)\)")


def _descendants(item) -> Iterator:
    for child in item.childItems():
        yield child
        yield from _descendants(child)


@contextlib.contextmanager
def drawn_as_vectors(item, decimate: bool = True, scale: float = 1.0) -> Iterator[int]:
    """While inside, every curve of `item` holds at most a few points per pixel column of its
    plot (min/max per column) and draws as one polyline, and no item is cached as a pixmap
    (the views cache their axes so; a vector picture would embed those pixmaps). Everything is
    put back afterwards. Yields how many curves were reduced."""
    saved = []
    cached = [
        (c, c.cacheMode()) for c in [item, *_descendants(item)] if c.cacheMode() != QGraphicsItem.CacheMode.NoCache
    ]
    for c, _ in cached:
        c.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    # pyqtgraph's export mode: scatter symbols drawn as paths, not blitted from a pixmap atlas
    exporting = [c for c in [item, *_descendants(item)] if hasattr(c, "setExportMode")]
    for c in exporting:
        c.setExportMode(True, {"antialias": True, "background": None, "painter": None, "resolutionScale": 1.0})
    for c in _descendants(item) if decimate else []:
        if not isinstance(c, pg.PlotCurveItem) or c.xData is None or len(c.xData) < 2:
            continue
        vb = c.getViewBox()
        if vb is None:
            continue
        (x0, x1), _ = vb.viewRange()
        columns = int(vb.boundingRect().width()) or 1
        x, y = np.asarray(c.xData), np.asarray(c.yData)
        xd, yd = minmax_decimate(x, y, x0, x1, columns)
        mode = c.opts.get("segmentedLineMode", "auto")
        saved.append((c, x, y, mode))
        c.opts["segmentedLineMode"] = "off"
        if len(xd) < len(x):
            c.setData(x=xd, y=yd)
    pens = _widen_pens(item, scale) if scale != 1.0 else []
    try:
        yield sum(len(c.xData) < len(x) for c, x, _, _ in saved)
    finally:
        for restore in reversed(pens):
            restore()
        for c, x, y, mode in saved:
            if len(c.xData) != len(x):
                c.setData(x=x, y=y)
            c.opts["segmentedLineMode"] = mode
        for c, mode in cached:
            c.setCacheMode(mode)
        for c in exporting:
            c.setExportMode(False)


def _widen_pens(item, scale: float) -> list:
    """Cosmetic pens are drawn in device pixels, so on a high-DPI image they would come out
    1/scale as thick as on screen: widen the curves', the legend samples' and the axes' pens by
    `scale` for the drawing. Returns the functions that put them back."""
    undo = []

    def wider(pen):
        pen = QPen(pen)
        if pen.isCosmetic():
            pen.setWidthF(max(1.0, pen.widthF()) * scale)
        return pen

    for c in [item, *_descendants(item)]:
        opts = getattr(c, "opts", None)
        if isinstance(c, pg.AxisItem):
            old = c.pen()
            c.setPen(wider(old))
            undo.append(lambda c=c, old=old: c.setPen(old))
        elif isinstance(opts, dict) and isinstance(opts.get("pen"), QPen):
            old = opts["pen"]
            opts["pen"] = wider(old)
            if isinstance(c, pg.PlotCurveItem):
                c.path = None  # pyqtgraph caches the stroked path with the pen
            undo.append(lambda opts=opts, old=old: opts.__setitem__("pen", old))
    return undo


def _render(item, device, width: float, height: float) -> None:
    """Paint `item` and its descendants onto `device`, item by item, each with an explicit clip.

    Not QGraphicsScene.render: Qt's SVG engine keeps the last clip after a painter restore, so
    an item painted after a clipped one (the axes after the title) came out clipped to the
    other's box. Setting every item's clip (the page, or its clipping ancestor's box) avoids it."""
    src = item.sceneBoundingRect()
    base = QTransform.fromTranslate(-src.left(), -src.top())
    page = QRectF(0, 0, width, height)
    painter = QPainter(device)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        scene = item.scene()
        views = scene.views()
        brush = views[0].backgroundBrush() if views else None
        if brush is not None and brush.style() != Qt.BrushStyle.NoBrush:
            painter.fillRect(page, brush)
        order = Qt.SortOrder.AscendingOrder
        for it in scene.items(src, Qt.ItemSelectionMode.IntersectsItemBoundingRect, order):
            if (it is not item and not item.isAncestorOf(it)) or not it.isVisible():
                continue
            if it.flags() & QGraphicsItem.GraphicsItemFlag.ItemHasNoContents:
                continue
            clip = QRectF(page)
            parent = it.parentItem()
            while parent is not None:
                if parent.flags() & QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape:
                    clip = clip.intersected(base.mapRect(parent.sceneBoundingRect()))
                parent = parent.parentItem()
            if clip.isEmpty():
                continue
            painter.save()
            painter.resetTransform()
            painter.setClipRect(clip)
            painter.setTransform(it.deviceTransform(base))
            painter.setOpacity(it.effectiveOpacity())
            option = QStyleOptionGraphicsItem()
            option.exposedRect = it.boundingRect()
            option.rect = it.boundingRect().toAlignedRect()
            it.paint(painter, option, None)
            painter.restore()
    finally:
        painter.end()


def render_image(item, scale: float) -> QImage:
    """The item drawn as on a screen with `scale` device pixels per pixel (fonts, lines and symbols
    all scale, as on a high-DPI screen): round(width·scale)×round(height·scale) pixels."""
    rect = item.sceneBoundingRect()
    w, h = round(rect.width() * scale), round(rect.height() * scale)
    img = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    img.setDevicePixelRatio(scale)
    with drawn_as_vectors(item, decimate=False, scale=scale):
        _render(item, img, w / scale, h / scale)
    img.setDevicePixelRatio(1.0)
    return img


def app_font_family() -> str:
    """The family the app's text is drawn in (as resolved by the font system, e.g. DejaVu Sans)."""
    return QFontInfo(QGuiApplication.font()).family() or "DejaVu Sans"


def svg_bytes(item) -> bytes:
    """The item (a PlotItem or a layout) as a portable SVG, its curves decimated per pixel column."""
    rect = item.sceneBoundingRect()
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator(QSvgGenerator.SvgVersion.Svg11)  # 1.1: clip paths instead of rasterized clipped items
    gen.setOutputDevice(buf)
    # pyqtgraph's axes replay a QPicture recorded at the screen's resolution; the same here keeps their scale
    gen.setResolution(QPicture().logicalDpiX())
    gen.setSize(rect.size().toSize())
    gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    gen.setTitle(_title_of(item))
    gen.setDescription("Exported from Descent")
    with drawn_as_vectors(item):
        _render(item, gen, rect.width(), rect.height())
    buf.close()
    return portable_svg(bytes(ba.data()), app_font_family(), rect.width(), rect.height())


def pdf_bytes(item) -> bytes:
    """The item as a one-page vector PDF the size of the plot (Qt's PDF writer), curves decimated."""
    rect = item.sceneBoundingRect()
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    pdf = QPdfWriter(buf)
    pdf.setResolution(QPicture().logicalDpiX())
    points = QSizeF(rect.width() * 72.0 / pdf.resolution(), rect.height() * 72.0 / pdf.resolution())
    pdf.setPageLayout(
        QPageLayout(QPageSize(points, QPageSize.Unit.Point), QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0))
    )
    pdf.setTitle(_title_of(item))
    pdf.setCreator("Descent")
    with drawn_as_vectors(item):
        _render(item, pdf, rect.width(), rect.height())
    buf.close()
    return bytes(ba.data())


def _title_of(item) -> str:
    from engine.export.files import plain_text

    label = getattr(item, "titleLabel", None)
    text = plain_text(label.text) if label is not None and label.text else ""
    return text or "Descent plot"


# ---- post-processing of Qt's SVG (plain XML, no Qt) ----


def _parse_matrix(transform: str | None) -> tuple[float, ...] | None:
    m = _MATRIX.fullmatch((transform or "").strip())
    if not m:
        return None
    vals = tuple(float(v) for v in _NUM.findall(m.group(1)))
    return vals if len(vals) == 6 else None


def _fmt(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _apply(m: tuple[float, ...], x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _bake_pairs(text: str, m: tuple[float, ...]) -> str | None:
    """Every x,y pair in a path's `d` (absolute M/L/C/Q/Z only, as Qt writes) or a `points` list
    mapped through m; None if the data uses anything else."""
    out: list[str] = []
    pending: float | None = None
    for tok in re.findall(r"[A-Za-z]|" + _NUM.pattern, text):
        if tok.isalpha():
            if tok not in "MLCQZz" or pending is not None:
                return None
            out.append(tok)
            continue
        if pending is None:
            pending = float(tok)
        else:
            x, y = _apply(m, pending, float(tok))
            out.append(f"{_fmt(x)},{_fmt(y)}")
            pending = None
    return None if pending is not None else " ".join(out)


def _inverse(m: tuple[float, ...]) -> tuple[float, ...] | None:
    a, b, c, d, e, f = m
    det = a * d - b * c
    if det == 0 or not np.isfinite(det):
        return None
    return (d / det, -b / det, -c / det, a / det, (c * f - d * e) / det, (b * e - a * f) / det)


def _bake(el: ET.Element, m: tuple[float, ...]) -> bool:
    """Map one shape's coordinates through m in place (a rect becomes a path); False if it cannot."""
    tag = el.tag.split("}")[-1]
    if tag == "path":
        d = _bake_pairs(el.get("d", ""), m)
        if d is None:
            return False
        el.set("d", d)
        return True
    if tag in ("polyline", "polygon"):
        pts = _bake_pairs(el.get("points", ""), m)
        if pts is None:
            return False
        el.set("points", pts)
        return True
    if tag == "rect":
        x, y = float(el.get("x", 0)), float(el.get("y", 0))
        w, h = float(el.get("width", 0)), float(el.get("height", 0))
        corners = [_apply(m, px, py) for px, py in ((x, y), (x + w, y), (x + w, y + h), (x, y + h))]
        el.tag = f"{{{SVG_NS}}}path"
        for k in ("x", "y", "width", "height"):
            el.attrib.pop(k, None)
        el.set("d", "M" + " L".join(f"{_fmt(px)},{_fmt(py)}" for px, py in corners) + " Z")
        return True
    if tag == "line":
        x1, y1 = _apply(m, float(el.get("x1", 0)), float(el.get("y1", 0)))
        x2, y2 = _apply(m, float(el.get("x2", 0)), float(el.get("y2", 0)))
        el.set("x1", _fmt(x1))
        el.set("y1", _fmt(y1))
        el.set("x2", _fmt(x2))
        el.set("y2", _fmt(y2))
        return True
    return False


def portable_svg(data: bytes, font_family: str, width: float, height: float) -> bytes:
    """Qt's SVG made portable (see the module docstring)."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(data)
    root.set("width", _fmt(width))
    root.set("height", _fmt(height))
    family = f"{font_family}, sans-serif" if font_family else "sans-serif"
    parents = {child: parent for parent in root.iter() for child in parent}
    for g in root.iter(f"{{{SVG_NS}}}g"):
        # a label's own clip box is measured with Qt's font metrics; another renderer's glyphs
        # may be a little wider, and the last letter would be cut
        texts = [e for e in g.iter() if e.tag == f"{{{SVG_NS}}}text"]
        shapes = [e for e in g.iter() if e.tag.split("}")[-1] in ("path", "polyline", "polygon", "rect", "image")]
        if "clip-path" in g.attrib and texts and not shapes:
            del g.attrib["clip-path"]
    for el in list(root.iter()):
        if "font-family" in el.attrib:
            el.set("font-family", family)
        if el.attrib.pop("vector-effect", None) != "non-scaling-stroke":
            continue
        parent = parents.get(el)
        m = _parse_matrix(parent.get("transform")) if parent is not None else None
        if parent is None or m is None or m[:4] == (1.0, 0.0, 0.0, 1.0):
            continue  # no scaling: the stroke is the same either way
        inv = _inverse(m)
        if inv is None or parent.tag.split("}")[-1] == "clipPath" or not _bake(el, m):
            continue
        # the baked shape is in pixels: undo the parent's transform around it
        wrap = ET.Element(f"{{{SVG_NS}}}g", {"transform": "matrix(" + ",".join(repr(v) for v in inv) + ")"})
        index = list(parent).index(el)
        parent.remove(el)
        wrap.append(el)
        parent.insert(index, wrap)
    for el in root.iter(f"{{{SVG_NS}}}image"):
        _keep_pixels_sharp(el)
    text = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + text).encode("utf-8")


SHARP_PIXELS = 512  # a small embedded image is enlarged (nearest neighbour) to about this many pixels a side


def _keep_pixels_sharp(el: ET.Element) -> None:
    """A heat map's cells stay square blocks in every renderer, as in the PNG: Qt marks the image
    `image-rendering="optimizeSpeed"`, which Inkscape and PDF viewers honour, browsers only as
    `pixelated`, and librsvg not at all (it smooths a 25×25 grid into a blur). So the bitmap of
    a small image is enlarged by a whole factor with nearest-neighbour sampling (flat blocks
    compress to almost nothing in PNG) and marked `pixelated` for browsers."""
    import base64

    href_key = f"{{{XLINK_NS}}}href"
    href = el.get(href_key) or el.get("href") or ""
    head, _, payload = href.partition(",")
    if not head.startswith("data:image/") or ";base64" not in head:
        return
    el.set("style", (el.get("style", "") + ";image-rendering:pixelated").lstrip(";"))
    img = QImage.fromData(base64.b64decode(payload))
    if img.isNull() or max(img.width(), img.height()) * 2 > SHARP_PIXELS:
        return
    k = max(2, SHARP_PIXELS // max(img.width(), img.height()))
    big = img.scaled(
        img.width() * k,
        img.height() * k,
        Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.FastTransformation,
    )
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    big.save(buf, "PNG")
    buf.close()
    el.set(
        href_key if el.get(href_key) is not None else "href",
        "data:image/png;base64," + base64.b64encode(bytes(ba.data())).decode(),
    )
