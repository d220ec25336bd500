"""Export from the GUI: the File ▸ Export menu and the export of a whole tab.

File ▸ Export: every plot of the current tab (PNG/SVG; 3D views as PNG screenshots), all
series as CSV, and the HTML comparison report. The right-click entries of each plot are in
desktop/export/plot_menu.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from desktop.export.items import export_item, png_bytes
from desktop.export.plot_menu import add_legend_toggle, add_plot_context_menu, plot_title
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


def export_tab(widget: QWidget, folder: str | Path, fmt: str, width: int | None = None) -> list[Path]:
    """Every plot of a tab into a folder (.png or .svg; 3D views always .png); raises ExportError."""
    folder = ensure_folder(folder)
    out: list[Path] = []
    taken: set[str] = set()
    for i, plot in enumerate(plot_items(widget)):
        stem = safe_stem(plot_title(plot, f"plot{i + 1}"), taken)
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
        d = folder(f"Export this tab's plots as {fmt.upper()}")
        if not d:
            return
        try:
            files = export_tab(current_tab(), d, fmt)
        except ExportError as e:
            QMessageBox.warning(parent, "Export", str(e))
            return
        status(f"exported {len(files)} plot(s) to {d}", 8000)

    def session_export(kind: str) -> None:
        d = folder("Export series as CSV" if kind == "csv" else "Export the comparison report")
        if d:
            export_session_now(snapshot, d, {kind}, parent, status)

    menu.addAction("This tab's plots as PNG…").triggered.connect(lambda: tab_images("png"))
    menu.addAction("This tab's plots as SVG…").triggered.connect(lambda: tab_images("svg"))
    menu.addAction("All series as CSV…").triggered.connect(lambda: session_export("csv"))
    menu.addAction("Comparison report (HTML)…").triggered.connect(lambda: session_export("html"))
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
) -> list[Path]:
    """CSV and/or the HTML report of the session as it stands (the run, the comparison)."""
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
                    Path(folder) / "report.html",
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
