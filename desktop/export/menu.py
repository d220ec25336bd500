"""Export from the GUI: the File ▸ Export menu and the export of a whole tab.

File ▸ Export: every plot of the current tab (PNG at a chosen size and scale, SVG or PDF; 3D
views as PNG), all series as CSV, and the HTML comparison report into a file the user names.
The right-click entries of each plot are in desktop/export/plot_menu.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu, QMessageBox, QWidget

from desktop.export.axes3d import drawn_thicker, framed_for_axes, paint_axes
from desktop.export.items import default_scale, export_item, png_bytes
from desktop.export.plot_menu import add_legend_toggle, add_plot_context_menu, plot_title
from desktop.export.size_dialog import PngSizeDialog
from engine.export import ExportError, html_report, write_csvs, write_text_atomic
from engine.export.files import ensure_folder, safe_stem, write_bytes_atomic
from engine.session import Session


def plot_items(widget: QWidget) -> list[pg.PlotItem]:
    """Every visible-or-not PlotItem inside a widget (PlotWidgets and GraphicsLayoutWidgets)."""
    out: list[pg.PlotItem] = []
    for gv in [widget, *widget.findChildren(pg.GraphicsView)]:
        if not isinstance(gv, pg.GraphicsView):
            continue
        for it in gv.scene().items():
            if isinstance(it, pg.PlotItem) and it not in out:
                out.append(it)
    return out


def gl_views(widget: QWidget) -> list[QWidget]:
    """The 3D views inside a tab: pyqtgraph's GLViewWidget and Descent's OffscreenGLView
    (both have grabFramebuffer())."""
    try:
        from pyqtgraph.opengl import GLViewWidget

        from desktop.gl_offscreen import OffscreenGLView
    except Exception:  # noqa: BLE001 - no OpenGL: no 3D views to export
        return []
    return list(widget.findChildren(GLViewWidget)) + list(widget.findChildren(OffscreenGLView))


def export_tab(widget: QWidget, folder: str | Path, fmt: str, scale: float | None = None) -> list[Path]:
    """Every plot of a tab into a folder (.png, .svg or .pdf; 3D views always .png), named by
    their plain titles; PNGs drawn at `scale` (default: 2×, or enough for 1600 pixels wide).
    Raises ExportError."""
    if fmt not in ("png", "svg", "pdf"):
        raise ExportError(f"unknown image format '{fmt}' (use png, svg or pdf)")
    folder = ensure_folder(folder)
    out: list[Path] = []
    taken: set[str] = set()
    for i, plot in enumerate(plot_items(widget)):
        stem = safe_stem(plot_title(plot, f"plot{i + 1}"), taken)
        out.append(export_item(plot, folder / f"{stem}.{fmt}", scale=scale if fmt == "png" else None))
    for i, gl in enumerate(gl_views(widget)):
        img = gl_image(gl, scale)
        if img.isNull() or img.width() == 0:
            raise ExportError(f"3D view {i + 1} could not be drawn (is it visible?)")
        out.append(write_bytes_atomic(folder / f"{safe_stem(f'3d_view_{i + 1}', taken)}.png", png_bytes(img)))
    if not out:
        raise ExportError("this tab has no plots to export")
    return out


def gl_image(gl: QWidget, scale: float | None = None):
    """A 3D view's picture at `scale` times its size on screen (drawn again at that size when it
    can be, else the frame on screen scaled smoothly), with the surface's axes (ticks, labels,
    titles) and its colour bar on the right when the view has one (`colour_scale()`)."""
    scale = float(scale or default_scale(gl.width()))
    w, h = max(1, round(gl.width() * scale)), max(1, round(gl.height() * scale))
    bar = gl.colour_scale() if callable(getattr(gl, "colour_scale", None)) else None
    bar_w = round(min(w / 4, 95 * scale)) if bar is not None else 0
    with framed_for_axes(gl, w - bar_w, h, scale) as axes, drawn_thicker(gl, scale):
        img, drawn_at = _gl_frame(gl, w - bar_w, h)
        if img.isNull() or img.width() == 0:
            return img
        img = paint_axes(img, gl, axes, drawn_at, scale)
    if bar is None:
        return img
    return _with_colour_bar(img, bar, bar_w, scale)


def _gl_frame(gl: QWidget, w: int, h: int):
    """(the scene as a w×h image, the size it was rendered at before any stretching)."""
    img = gl.grabFramebuffer()
    if img.isNull() or img.width() == 0:  # no framebuffer object (e.g. Mesa under Xvfb): grab the widget
        img = gl.grab().toImage()
    if img.isNull() or img.width() == 0:
        return img, (1, 1)
    try:
        import sys

        import numpy as np
        import pyqtgraph as pg

        # GLViewMixin: the scene drawn again at the requested size, h×w×4 bytes in B, G, R, A order
        # (QImage's RGB32 in memory on a little-endian machine; the alpha byte is ignored)
        arr = np.ascontiguousarray(gl.renderToArray((w, h)))
        if sys.byteorder == "big":
            arr = np.ascontiguousarray(arr[..., ::-1])
        big = pg.functions.ndarray_to_qimage(arr, pg.QtGui.QImage.Format.Format_RGB32)
        if not big.isNull() and (big.width(), big.height()) == (w, h):
            return big.copy(), (w, h)
    except Exception:  # noqa: BLE001 - no framebuffer for that size here: scale the frame instead
        pass
    shown = (gl.width(), gl.height())
    return img.scaled(w, h, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation), shown


def _with_colour_bar(frame, bar, bar_w: int, scale: float):
    """The frame with a vertical colour bar (the colour map from low to high, five labelled ticks
    and what the values are) painted in a white strip `bar_w` pixels wide on its right."""
    import numpy as np
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QFont, QImage, QPainter

    cmap, lo, hi, label = bar
    w, h = frame.width() + bar_w, frame.height()
    out = QImage(w, h, QImage.Format.Format_ARGB32)
    out.fill(QColor("white"))
    p = QPainter(out)
    try:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.drawImage(0, 0, frame)
        font = QFont(p.font())
        font.setPixelSize(max(8, round(11 * scale)))
        p.setFont(font)
        top, bottom = 0.12 * h, 0.88 * h
        x0, bw = frame.width() + 0.12 * bar_w, 0.16 * bar_w
        lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=False)
        rows = int(bottom - top)
        for r in range(rows):
            c = lut[min(255, int((1 - r / max(1, rows - 1)) * 255))]
            p.fillRect(QRectF(x0, top + r, bw, 1.5), QColor(int(c[0]), int(c[1]), int(c[2])))
        p.setPen(QColor("black"))
        p.drawRect(QRectF(x0, top, bw, bottom - top))
        for t in np.linspace(0.0, 1.0, 5):
            y = bottom - t * (bottom - top)
            p.drawLine(round(x0 + bw), round(y), round(x0 + bw + 4 * scale), round(y))
            p.drawText(QRectF(x0 + bw + 6 * scale, y - 8 * scale, bar_w, 16 * scale), f"{lo + t * (hi - lo):.3g}")
        p.drawText(QRectF(frame.width(), 0.02 * h, bar_w, 0.08 * h), Qt.AlignmentFlag.AlignCenter, label)
    finally:
        p.end()
    return out


def install_export_menu(
    file_menu: QMenu,
    parent: QWidget,
    snapshot: Callable[[], Session],
    current_tab: Callable[[], QWidget],
    start_dir: Callable[[], Path],
    status: Callable[[str, int], None],
) -> QMenu:
    """File ▸ Export: the current tab's plots, all series as CSV, the comparison report.
    `snapshot` is the session as it stands (AppController.snapshot), `current_tab` the shown
    tab, `start_dir` where the folder dialogs open, `status` shows a message for some ms."""
    menu = file_menu.addMenu("Export")
    menu.setObjectName("menu:export")

    def folder(title: str) -> str:
        return QFileDialog.getExistingDirectory(parent, title, str(start_dir()))

    def tab_images(fmt: str) -> None:
        scale = None
        if fmt == "png":
            tab = current_tab()
            dialog = PngSizeDialog(tab.width(), tab.height(), parent)
            dialog.setWindowTitle("PNG scale")
            dialog.width_box.setEnabled(False)  # a tab's plots keep their layout; only the scale applies
            dialog.height_box.setEnabled(False)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            scale = dialog.values()[2]
        d = folder(f"Export this tab's plots as {fmt.upper()}")
        if not d:
            return
        try:
            files = export_tab(current_tab(), d, fmt, scale)
        except ExportError as e:
            QMessageBox.warning(parent, "Export", str(e))
            return
        status(f"exported {len(files)} plot(s) to {d}", 8000)

    def csv_export() -> None:
        d = folder("Export series as CSV")
        if d:
            export_session_now(snapshot, d, {"csv"}, parent, status)

    def report_export() -> None:
        path, _ = QFileDialog.getSaveFileName(
            parent, "Save the comparison report", str(start_dir() / "report.html"), "HTML (*.html *.htm)"
        )
        if path:
            if not path.lower().endswith((".html", ".htm")):
                path += ".html"
            export_session_now(snapshot, str(Path(path).parent), {"html"}, parent, status, report_name=Path(path).name)

    menu.addAction("This tab's plots as PNG…").triggered.connect(lambda: tab_images("png"))
    menu.addAction("This tab's plots as SVG…").triggered.connect(lambda: tab_images("svg"))
    menu.addAction("This tab's plots as PDF…").triggered.connect(lambda: tab_images("pdf"))

    def animation_export() -> None:
        from desktop.export.animation_dialog import AnimationDialog, AnimationExport

        session = snapshot()
        dialog = AnimationDialog(session, parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        kinds, formats, spec = dialog.chosen()
        d = folder("Export the animations into")
        if d:
            menu.animation = AnimationExport(session, d, kinds, formats, spec, parent, status)  # kept while it runs
            menu.animation.start()

    menu.addAction("Animation (GIF/MP4)…").triggered.connect(animation_export)
    menu.addAction("All series as CSV…").triggered.connect(csv_export)
    menu.addAction("Comparison report (HTML)…").triggered.connect(report_export)
    return menu


def add_export_entries(widget: QWidget) -> None:
    """The plot context-menu entries for every plot already inside `widget` (plots styled
    with desktop.plotting.style_plot have them from their creation)."""
    for plot in plot_items(widget):
        add_plot_context_menu(plot)
        add_legend_toggle(plot)  # legends added after the plot was styled


def export_session_now(
    snapshot: Callable[[], Session],
    folder: str,
    kinds: set[str],
    parent: QWidget | None = None,
    status: Callable[[str, int], None] | None = None,
    report_name: str = "report.html",
) -> list[Path]:
    """CSV and/or the HTML report (`report_name` inside `folder`) of the session as it stands."""
    from desktop.export.plots import export_comparison_images
    from desktop.plotting import color
    from engine.compare.layout import comparison_session, run_colors

    try:
        session = snapshot()
        if not session.runs:
            raise ExportError("nothing to export yet: start a run or a comparison first")
        files: list[Path] = []
        if "csv" in kinds:
            files += write_csvs(session, folder)
        if "html" in kinds:
            _, images = export_comparison_images(session, folder, {"html"})
            cols = run_colors(session)
            compared = comparison_session(session)  # the report shows the comparison's runs only
            files.append(
                write_text_atomic(
                    ensure_folder(folder) / report_name,
                    html_report(compared, images, [color(cols[r.name]) for r in compared.runs]),
                )
            )
    except Exception as e:  # noqa: BLE001 - SessionError/ExportError: show, keep the work
        if parent is not None:
            QMessageBox.warning(parent, "Export", str(e))
        return []
    if status is not None:
        status(f"exported {len(files)} file(s) to {folder}", 8000)
    return files
