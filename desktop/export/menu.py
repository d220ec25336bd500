"""Export from the GUI: a context menu on every plot and the File ▸ Export menu.

Context menu (right click on a plot): save that plot as PNG (chosen width) or SVG, or its
curves as CSV. File ▸ Export: every plot of the current tab (PNG/SVG; 3D views as PNG
screenshots), all series as CSV, and the HTML comparison report.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from desktop.export.plots import export_item, png_bytes
from engine.export import ExportError, html_report, write_csvs, write_text_atomic
from engine.export.files import ensure_folder, safe_stem, write_bytes_atomic
from engine.session import Session

if TYPE_CHECKING:
    from desktop.main_window import MainWindow


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


def plot_csv(plot: pg.PlotItem) -> str:
    """The plot's curves as CSV: x and y columns per named curve."""
    cols: list[tuple[str, np.ndarray]] = []
    for i, item in enumerate(plot.listDataItems()):
        x, y = item.getData()
        if x is None or y is None:
            continue
        name = item.name() or f"curve{i + 1}"
        cols += [(f"{name} x", np.asarray(x, float)), (f"{name} y", np.asarray(y, float))]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c for c, _ in cols])
    n = max((len(a) for _, a in cols), default=0)
    for i in range(n):
        w.writerow(["" if i >= len(a) or not np.isfinite(a[i]) else repr(float(a[i])) for _, a in cols])
    return buf.getvalue()


def _plot_title(plot: pg.PlotItem, default: str = "plot") -> str:
    t = plot.titleLabel.text if plot.titleLabel is not None else ""
    return safe_stem(t or default)


def add_plot_context_menu(plot: pg.PlotItem, parent: QWidget) -> None:
    """Add 'Save plot as PNG/SVG…' and 'Save curves as CSV…' to the plot's right-click menu (once)."""
    vb = plot.getViewBox()
    menu = vb.menu
    if menu is None or getattr(vb, "_descent_export", False):
        return
    vb._descent_export = True
    menu.addSeparator()

    def ask(fmt: str) -> None:
        name = _plot_title(plot)
        path, _ = QFileDialog.getSaveFileName(
            parent, f"Save plot as {fmt.upper()}", f"{name}.{fmt}", f"{fmt.upper()} (*.{fmt})"
        )
        if not path:
            return
        width = None
        if fmt == "png":
            w = int(plot.sceneBoundingRect().width()) or 800
            width, ok = QInputDialog.getInt(parent, "PNG size", "Width in pixels:", max(w, 800), 16, 8192)
            if not ok:
                return
        save_plot(plot, path, width, parent)

    def ask_csv() -> None:
        path, _ = QFileDialog.getSaveFileName(parent, "Save curves as CSV", f"{_plot_title(plot)}.csv", "CSV (*.csv)")
        if path:
            try:
                write_text_atomic(path, plot_csv(plot))
            except ExportError as e:
                QMessageBox.warning(parent, "Export", str(e))

    menu.addAction("Save plot as PNG…").triggered.connect(lambda: ask("png"))
    menu.addAction("Save plot as SVG…").triggered.connect(lambda: ask("svg"))
    menu.addAction("Save curves as CSV…").triggered.connect(ask_csv)


def save_plot(plot, path: str, width: int | None, parent: QWidget | None) -> bool:
    try:
        export_item(plot, path, width)
    except ExportError as e:
        if parent is not None:
            QMessageBox.warning(parent, "Export", str(e))
        return False
    return True


def export_tab(widget: QWidget, folder: str | Path, fmt: str, width: int | None = None) -> list[Path]:
    """Every plot of a tab into a folder (.png or .svg; 3D views always .png); raises ExportError."""
    folder = ensure_folder(folder)
    out: list[Path] = []
    taken: set[str] = set()
    for i, plot in enumerate(plot_items(widget)):
        stem = safe_stem(_plot_title(plot, f"plot{i + 1}"), taken)
        out.append(export_item(plot, folder / f"{stem}.{fmt}", width if fmt == "png" else None))
    for i, gl in enumerate(gl_views(widget)):
        img = gl.grabFramebuffer()
        if img.isNull() or img.width() == 0:  # no framebuffer object (e.g. Mesa under Xvfb): grab the widget
            img = gl.grab().toImage()
        if img.isNull() or img.width() == 0:
            raise ExportError(f"3D view {i + 1} could not be drawn (is it visible?)")
        out.append(write_bytes_atomic(folder / f"{safe_stem(f'3d_view_{i + 1}', taken)}.png", png_bytes(img)))
    if not out:
        raise ExportError("this tab has no plots to export")
    return out


def install_export_menu(window: MainWindow) -> None:
    """File ▸ Export, and the export entries on every plot's context menu."""
    menu = window.file_menu.addMenu("Export")
    menu.setObjectName("menu:export")
    window.export_menu = menu

    def folder(title: str) -> str:
        return QFileDialog.getExistingDirectory(window, title, str(window._last_dir()))

    def tab_images(fmt: str) -> None:
        d = folder(f"Export this tab's plots as {fmt.upper()}")
        if not d:
            return
        try:
            files = export_tab(window.tabs.currentWidget(), d, fmt)
        except ExportError as e:
            QMessageBox.warning(window, "Export", str(e))
            return
        window.statusBar().showMessage(f"exported {len(files)} plot(s) to {d}", 8000)

    def session_export(kind: str) -> None:
        d = folder("Export series as CSV" if kind == "csv" else "Export the comparison report")
        if d:
            export_session_now(window, d, {kind})

    menu.addAction("This tab's plots as PNG…").triggered.connect(lambda: tab_images("png"))
    menu.addAction("This tab's plots as SVG…").triggered.connect(lambda: tab_images("svg"))
    menu.addAction("All series as CSV…").triggered.connect(lambda: session_export("csv"))
    menu.addAction("Comparison report (HTML)…").triggered.connect(lambda: session_export("html"))
    for v in window.views:
        for plot in plot_items(v):
            add_plot_context_menu(plot, window)
    install_lazy_plot_menus()


def install_lazy_plot_menus() -> None:
    """Plots created after the window opened (a comparison's per-run histograms, a view's
    plots built on demand) get the export entries when their menu is first opened."""
    if getattr(pg.ViewBox, "_descent_lazy_export", False):
        return
    original = pg.ViewBox.getMenu

    def get_menu(vb, ev):
        plot = vb.parentItem()
        if isinstance(plot, pg.PlotItem) and not getattr(vb, "_descent_export", False):
            views = vb.scene().views() if vb.scene() is not None else []
            add_plot_context_menu(plot, views[0].window() if views else None)
        return original(vb, ev)

    pg.ViewBox.getMenu = get_menu
    pg.ViewBox._descent_lazy_export = True


def current_session(window: MainWindow) -> Session:
    """What File ▸ Save would write now: the current run plus what the views hold (the comparison)."""
    session = Session()
    for v in window.views:
        v.save_into(session)
    record = window.controller.current_record()
    if record is not None:
        session.runs.insert(0, record)
    elif window.controller.session is not None and not session.runs:
        session.runs = list(window.controller.session.runs)
    return session


def export_session_now(window: MainWindow, folder: str, kinds: set[str]) -> list[Path]:
    """CSV and/or the HTML report of what the window holds now (the run, the comparison)."""
    from desktop.export.plots import export_comparison_images
    from desktop.plotting import color
    from engine.compare.layout import run_colors

    try:
        session = current_session(window)
        if not session.runs:
            raise ExportError("nothing to export yet: start a run or a comparison first")
        files: list[Path] = []
        if "csv" in kinds:
            files += write_csvs(session, folder)
        if "html" in kinds:
            _, images = export_comparison_images(session, folder, {"html"})
            cols = run_colors(session)
            files.append(
                write_text_atomic(
                    Path(folder) / "report.html",
                    html_report(session, images, [color(cols[r.name]) for r in session.runs]),
                )
            )
    except Exception as e:  # noqa: BLE001 - SessionError/ExportError: show, keep the work
        QMessageBox.warning(window, "Export", str(e))
        return []
    window.statusBar().showMessage(f"exported {len(files)} file(s) to {folder}", 8000)
    return files
