"""The tuning lab's plots for `descent export` and the report page: a session's search
(optimization history, learning curves of the trials, the score over the first two
parameters, parallel coordinates, parameter importances) and its learning-rate range test
(raw and smoothed loss against the lr, both suggestions marked, the chosen one starred).

The search plots are the Search tab's own (desktop/views/search_plots.py), drawn off screen;
the files are named search_*.png/svg/pdf and lr_find.png/svg/pdf.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop.export.items import export_item, png_bytes, render_png
from desktop.plotting import style_plot
from desktop.views.search_plots import CurvesPlot, HistoryPlot, ImportancePlot, ParallelPlot, PicturePlot
from engine.export.files import ensure_folder
from engine.session.record import Session
from engine.tuning.analysis import importances, search_params
from engine.tuning.lr_range_snapshot import MIN_OVER_10, STEEPEST, LrRangeResult, stored_result
from engine.tuning.storage import search_of

RAW = "#999999"
SMOOTH = "#0072B2"
MARKS = {STEEPEST: ("#D55E00", "steepest descent"), MIN_OVER_10: ("#009E73", "min / 10")}


def _widget(width: int, height: int) -> tuple[pg.GraphicsLayoutWidget, pg.PlotItem]:
    w = pg.GraphicsLayoutWidget()
    w.setBackground("w")
    w.resize(width, height)
    return w, w.addPlot()


def _shown(w: pg.GraphicsLayoutWidget) -> pg.GraphicsLayoutWidget:
    w.setAttribute(Qt.WA_DontShowOnScreen, True)  # laid out at its size, never on screen
    w.show()
    return w


def render_search_plots(
    session: Session, width: int = 900, height: int = 560
) -> list[tuple[str, str, pg.GraphicsLayoutWidget]]:
    """(key, title, widget) for each plot the session's search and range test can show."""
    out: list[tuple[str, str, pg.GraphicsLayoutWidget]] = []
    snap = search_of(session)
    if snap is not None and snap.trials:
        params = search_params(snap)
        w, p = _widget(width, height)
        HistoryPlot(p).draw(snap)
        out.append(("search_history", "Search: optimization history (best so far in red)", _shown(w)))
        w, p = _widget(width, height)
        CurvesPlot(p).draw(snap)
        out.append(("search_curves", "Search: learning curves of all trials (pruned grey)", _shown(w)))
        keys = list(params)
        if keys:
            w, p = _widget(width, height)
            picture = PicturePlot(p)
            picture.set_axes(params[keys[0]], params[keys[1]] if len(keys) >= 2 else None)
            picture.roi.hide()  # the refine rectangle is the tab's tool, not part of the result
            picture.draw(snap)
            over = f"{keys[0]} and {keys[1]}" if len(keys) >= 2 else keys[0]
            title = f"Search: validation loss over {over} (yellow = lowest; ★ best)"
            out.append(("search_scatter", title, _shown(w)))
        if keys and snap.complete:
            w, p = _widget(width, height)
            ParallelPlot(p).draw(snap, params)
            out.append(("search_parallel", "Search: parallel coordinates (one line per complete trial)", _shown(w)))
        try:
            values = importances(snap)
        except (ValueError, RuntimeError):  # too few trials or one parameter: Optuna refuses
            values = {}
        if values:
            w, p = _widget(width, height)
            ImportancePlot(p).draw(values)
            out.append(("search_importance", "Search: parameter importance (fANOVA)", _shown(w)))
    result = stored_result(session)
    if result is not None:
        out.append(("lr_find", _lr_title(result), _shown(lr_find_widget(result, width, height))))
    if out:
        QApplication.processEvents()
    return out


def _lr_title(r: LrRangeResult) -> str:
    return f"LR range test: {r.config.optim.name} on {r.config.data.name}, suggested lr {r.suggested_lr:.3g}"


def lr_find_widget(r: LrRangeResult, width: int, height: int) -> pg.GraphicsLayoutWidget:
    """The range test's curve on a log lr axis, with both suggestions as dashed lines."""
    w, p = _widget(width, height)
    style_plot(p, _lr_title(r), "learning rate (log scale)", "training loss")
    p.setLogMode(x=True, y=False)
    p.addLegend(offset=(10, -10), labelTextSize="9pt")
    p.plot(r.lrs, r.losses, pen=pg.mkPen(RAW, width=1), name="loss (minibatch)")
    p.plot(r.lrs, r.smoothed, pen=pg.mkPen(SMOOTH, width=2.5), name="smoothed loss")
    top = float(np.nanmax(r.smoothed))
    lo = float(np.nanmin(r.smoothed))
    p.setYRange(min(lo, float(np.nanmin(r.losses))) * 0.95, top * 1.05 if top > 0 else 1.0)
    for key, lr in ((STEEPEST, r.steepest_lr), (MIN_OVER_10, r.min_over_10_lr)):
        if lr is None or not math.isfinite(lr):
            continue
        col, what = MARKS[key]
        star = "★ " if key == r.suggestion else ""
        line = pg.InfiniteLine(
            pos=math.log10(lr),
            angle=90,
            pen=pg.mkPen(col, width=1.5, style=Qt.DashLine),
            label=f"{star}{what}: {lr:.3g}",
            labelOpts={
                "position": 0.9 if key == STEEPEST else 0.75,
                "color": col,
                "fill": pg.mkBrush(255, 255, 255, 220),
                "anchors": [(0, 0.5), (0, 0.5)],
            },
        )
        p.addItem(line)
        y = float(np.interp(math.log10(lr), np.log10(r.lrs), r.smoothed))
        p.addItem(pg.ScatterPlotItem([math.log10(lr)], [y], size=11, pen=pg.mkPen("w"), brush=pg.mkBrush(col)))
    return w


def export_search_images(
    session: Session,
    folder: str | os.PathLike,
    formats: set[str],
    width: int = 900,
    height: int = 560,
    scale: float = 2.0,
) -> tuple[list[Path], list[tuple[str, bytes]]]:
    """Write the search and range-test plots as PNG/SVG/PDF; the files, and (caption, PNG) for the report."""
    files: list[Path] = []
    report: list[tuple[str, bytes]] = []
    plots = render_search_plots(session, width, height)
    if plots:
        folder = ensure_folder(folder)
    for key, title, w in plots:
        try:
            if "html" in formats:
                report.append((title, png_bytes(render_png(w.ci, 1.0))))
            if "png" in formats:
                files.append(export_item(w.ci, folder / f"{key}.png", scale=scale))
            for fmt in ("svg", "pdf"):
                if fmt in formats:
                    files.append(export_item(w.ci, folder / f"{key}.{fmt}"))
        finally:
            w.close()
            w.deleteLater()
    return files, report
