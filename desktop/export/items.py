"""Plot items to image files: PNG (chosen width) and SVG, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import QBuffer, QByteArray, QIODevice

from engine.export.files import ExportError, ensure_folder, write_bytes_atomic


def export_item(item, path: str | os.PathLike, width: int | None = None) -> Path:
    """Save a plot (PlotItem, GraphicsLayout or a GraphicsLayoutWidget's central item) as .png or .svg.
    PNG `width` in pixels (height keeps the plot's aspect); raises ExportError with a one-line message."""
    path = Path(path)
    target = item.ci if isinstance(item, pg.GraphicsLayoutWidget) else item
    ensure_folder(path.parent)
    ext = path.suffix.lower()
    if ext == ".svg":
        return write_bytes_atomic(path, svg_bytes(target))
    if ext != ".png":
        raise ExportError(f"{path}: unknown image format '{ext}' (use .png or .svg)")
    exp = pg.exporters.ImageExporter(target)
    if width:
        exp.parameters()["width"] = int(width)
    img = exp.export(toBytes=True)
    if img is None or img.isNull():
        raise ExportError(f"{path}: the plot could not be drawn (empty image)")
    return write_bytes_atomic(path, png_bytes(img))


def svg_bytes(item) -> bytes:
    """The item as SVG. pyqtgraph's SVGExporter first; with Qt ≥ 6.7 its path parser fails
    (pyqtgraph issue #3485), then Qt's own QSvgGenerator draws the same scene region."""
    try:
        data = pg.exporters.SVGExporter(item).export(toBytes=True)
        return bytes(data)
    except (ValueError, IndexError):
        pass
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    rect = item.sceneBoundingRect()
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    gen.setSize(rect.size().toSize())
    gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    gen.setTitle("Descent plot")
    painter = QPainter(gen)
    try:
        item.scene().render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    finally:
        painter.end()
    buf.close()
    return bytes(ba.data())


def png_bytes(img) -> bytes:
    """A QImage encoded as PNG."""
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.WriteOnly)
    img.save(buf, "PNG")
    buf.close()
    return bytes(ba.data())
