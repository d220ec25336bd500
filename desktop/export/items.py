"""Plot items to image files: PNG (chosen size and scale), SVG and PDF, written atomically."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSizeF

from desktop.export.vector import pdf_bytes, render_image, svg_bytes
from engine.export.files import ExportError, ensure_folder, write_bytes_atomic

IMAGE_FORMATS = (".png", ".svg", ".pdf")
MIN_PNG_WIDTH = 1600  # a slide-ready PNG is at least this wide unless a size is asked for


MIN_LOGICAL_WIDTH = 320  # a plot narrower than this on screen is laid out this wide for export


def default_scale(width: float) -> int:
    """The PNG scale for a plot `width` logical pixels wide: 2× the screen, or more to reach MIN_PNG_WIDTH."""
    return max(2, -(-MIN_PNG_WIDTH // max(1, int(width))))


def export_item(
    item,
    path: str | os.PathLike,
    width: int | None = None,
    height: int | None = None,
    scale: float | None = None,
) -> Path:
    """Save a plot (PlotItem, GraphicsLayout or a GraphicsLayoutWidget) as .png, .svg or .pdf.
    PNG: the plot laid out at `width`×`height` logical pixels (default: as shown) and drawn at
    `scale` (default: 2×, or more so the picture is at least MIN_PNG_WIDTH wide); the file is
    round(width·scale)×round(height·scale). Raises ExportError with a one-line message."""
    path = Path(path)
    target = item.ci if isinstance(item, pg.GraphicsLayoutWidget) else item
    ext = path.suffix.lower()
    if ext not in IMAGE_FORMATS:
        raise ExportError(f"{path}: unknown image format '{ext or '(none)'}' (use .png, .svg or .pdf)")
    ensure_folder(path.parent)
    if width is None and target.sceneBoundingRect().width() < MIN_LOGICAL_WIDTH:
        width = MIN_LOGICAL_WIDTH  # a plot squeezed on screen (a narrow side pane) is exported readable
    with laid_out_at(target, width, height):
        if ext == ".svg":
            data = svg_bytes(target)
        elif ext == ".pdf":
            data = pdf_bytes(target)
        else:
            data = png_bytes(render_png(target, scale))
    return write_bytes_atomic(path, data)


@contextlib.contextmanager
def laid_out_at(item, width: int | None, height: int | None) -> Iterator[None]:
    """Temporarily give a plot item another logical size (its old geometry is put back afterwards)."""
    rect = item.sceneBoundingRect()
    size = QSizeF(width or rect.width(), height or rect.height())
    old = item.geometry() if hasattr(item, "geometry") else None
    changed = old is not None and (abs(size.width() - rect.width()) > 0.5 or abs(size.height() - rect.height()) > 0.5)

    def relayout() -> None:
        lay = item.layout() if callable(getattr(item, "layout", None)) else None
        if lay is not None:
            lay.activate()

    if changed:
        item.setGeometry(QRectF(old.topLeft(), size))
        relayout()
    try:
        yield
    finally:
        if changed:
            item.setGeometry(old)
            relayout()


def render_png(target, scale: float | None = None):
    """The item drawn at `scale` (default: default_scale of its width) as a QImage of exactly
    round(width·scale)×round(height·scale) pixels."""
    rect = target.sceneBoundingRect()
    scale = float(scale or default_scale(rect.width()))
    if not 0.1 <= scale <= 16:
        raise ExportError(f"scale {scale:g}: between 0.1 and 16")
    w, h = round(rect.width() * scale), round(rect.height() * scale)
    if w < 1 or h < 1 or w * h > 16384 * 16384:
        raise ExportError(f"{w}×{h} pixels: not a size a PNG can be drawn at")
    img = render_image(target, scale)
    if img.isNull() or (img.width(), img.height()) != (w, h):
        raise ExportError("the plot could not be drawn (empty image)")
    return img


def png_bytes(img) -> bytes:
    """A QImage encoded as PNG."""
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.WriteOnly)
    img.save(buf, "PNG")
    buf.close()
    return bytes(ba.data())
