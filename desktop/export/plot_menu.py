"""The export entries of a plot's own right-click menu: "Save plot as PNG…/SVG…" and
"Save curves as CSV…".

`add_plot_context_menu(plot)` adds them to that plot's ViewBox menu, once; desktop/plotting's
`style_plot` calls it for every plot it styles, so a plot gets them when it is created,
whenever that is. Nothing here changes pyqtgraph's classes.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from desktop.export.items import export_item
from engine.export import ExportError, write_text_atomic
from engine.export.files import safe_stem

PNG_ACTION = "export:plot-png"  # the entries' object names: how a menu is recognised as done


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


def plot_title(plot: pg.PlotItem, default: str = "plot") -> str:
    """The plot's title as a file name stem."""
    t = plot.titleLabel.text if plot.titleLabel is not None else ""
    return safe_stem(t or default)


def window_of(plot: pg.PlotItem) -> QWidget | None:
    """The window showing the plot (the dialogs' parent), or None."""
    scene = plot.scene()
    views = scene.views() if scene is not None else []
    return views[0].window() if views else None


def save_plot(plot, path: str, width: int | None, parent: QWidget | None) -> bool:
    try:
        export_item(plot, path, width)
    except ExportError as e:
        if parent is not None:
            QMessageBox.warning(parent, "Export", str(e))
        return False
    return True


def has_export_entries(plot: pg.PlotItem) -> bool:
    menu = plot.getViewBox().menu
    return menu is not None and any(a.objectName() == PNG_ACTION for a in menu.actions())


def add_plot_context_menu(plot: pg.PlotItem) -> None:
    """Add 'Save plot as PNG/SVG…' and 'Save curves as CSV…' to the plot's right-click menu (once)."""
    menu = plot.getViewBox().menu
    if menu is None or has_export_entries(plot):
        return
    menu.addSeparator()

    def ask(fmt: str) -> None:
        parent = window_of(plot)
        path, _ = QFileDialog.getSaveFileName(
            parent, f"Save plot as {fmt.upper()}", f"{plot_title(plot)}.{fmt}", f"{fmt.upper()} (*.{fmt})"
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
        parent = window_of(plot)
        path, _ = QFileDialog.getSaveFileName(parent, "Save curves as CSV", f"{plot_title(plot)}.csv", "CSV (*.csv)")
        if path:
            try:
                write_text_atomic(path, plot_csv(plot))
            except ExportError as e:
                QMessageBox.warning(parent, "Export", str(e))

    add_legend_toggle(plot)
    png = menu.addAction("Save plot as PNG…")
    png.setObjectName(PNG_ACTION)
    png.triggered.connect(lambda: ask("png"))
    menu.addAction("Save plot as SVG…").triggered.connect(lambda: ask("svg"))
    menu.addAction("Save curves as CSV…").triggered.connect(ask_csv)


LEGEND_ACTION = "plot:show-legend"


def add_legend_toggle(plot: pg.PlotItem) -> None:
    """A plot with a legend: 'Show legend' in its right-click menu (a legend can hide a curve;
    it can also be dragged), and a translucent background so what is under it shows."""
    legend = plot.legend
    menu = plot.getViewBox().menu
    if legend is None or menu is None or any(a.objectName() == LEGEND_ACTION for a in menu.actions()):
        return
    legend.setBrush(pg.mkBrush(255, 255, 255, 190))
    act = menu.addAction("Show legend")
    act.setObjectName(LEGEND_ACTION)
    act.setCheckable(True)
    act.setChecked(True)
    act.toggled.connect(legend.setVisible)
