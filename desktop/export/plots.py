"""Plot exports: any pyqtgraph plot to PNG (chosen size) or SVG, and the comparison's key plots.

Headless use (the `descent export` command) runs on Qt's offscreen platform, which draws
2D plots fine; 3D views need a real (or Xvfb) display and are grabbed with QWidget.grab.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop.export.items import export_item, png_bytes
from desktop.plotting import color, run_pen, style_plot
from engine.compare.layout import comparison_session, run_colors
from engine.export.files import ensure_folder, write_bytes_atomic
from engine.session.record import Session

# key, title, series, x axis ("step" or "epoch"), y label, log-y
COMPARISON_PLOTS: list[tuple[str, str, str, str, str, bool]] = [
    ("loss", "Minibatch loss (EMA 0.9)", "step/loss", "step", "loss", True),
    ("val_loss", "Validation loss", "epoch/val_loss", "epoch", "loss", True),
    ("val_acc", "Validation accuracy", "epoch/val_acc", "epoch", "accuracy", False),
    ("train_loss", "Training loss (epoch mean)", "epoch/train_loss", "epoch", "loss", True),
    ("lr", "Learning rate", "step/lr", "step", "lr", False),
    ("grad_norm", "Gradient norm", "step/grad_norm", "step", "L2 norm", True),
]


def ema(values: np.ndarray, alpha: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average (NaN/Inf skipped), as the live view draws it."""
    out = np.empty(len(values))
    acc = w = 0.0
    for i, x in enumerate(np.asarray(values, dtype=np.float64)):
        if np.isfinite(x):
            acc = alpha * acc + (1 - alpha) * x
            w = alpha * w + (1 - alpha)
        out[i] = acc / w if w > 0 else np.nan
    return out


def _curve_data(session: Session, series: str, smooth: bool) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
    colors = run_colors(session)
    out = []
    for r in comparison_session(session).runs:  # only the comparison's runs
        y = r.series.get(series)
        if y is None or len(y) == 0:
            continue
        y = np.asarray(y, dtype=np.float64)
        if smooth:
            y = ema(y)
        x = np.arange(1, len(y) + 1, dtype=np.float64)
        out.append((r.name, colors[r.name], x, y))
    return out


def render_comparison_plots(
    session: Session, width: int = 900, height: int = 560, keys: list[str] | None = None
) -> list[tuple[str, str, pg.GraphicsLayoutWidget]]:
    """One plot widget per metric present, every run overlaid in its colour: (key, title, widget).
    The widgets are not shown; keep a QApplication alive while using them."""
    out = []
    for key, title, series, xlabel, ylabel, logy in COMPARISON_PLOTS:
        if keys is not None and key not in keys:
            continue
        data = _curve_data(session, series, smooth=(key == "loss"))
        if not data:
            continue
        w = pg.GraphicsLayoutWidget()
        w.setBackground("w")
        w.resize(width, height)
        p = w.addPlot()
        style_plot(p, title, xlabel, ylabel)
        p.setClipToView(False)
        p.addLegend(offset=(-10, -10) if key == "val_acc" else (-10, 10), labelTextSize="9pt")
        positive = all(np.nanmin(y) > 0 for *_, y in data if np.isfinite(y).any())
        for name, ci, x, y in data:
            p.plot(
                x,
                y,
                pen=run_pen(ci),
                name=name,
                symbol="o" if xlabel == "epoch" and len(x) <= 60 else None,
                symbolSize=5,
                symbolBrush=color(ci),
            )
        if logy and positive:
            p.setLogMode(y=True)
        if key == "val_acc":
            p.setYRange(0, 1.02, padding=0)
        # Lay the plot out at the requested size without putting a window on screen.
        w.setAttribute(Qt.WA_DontShowOnScreen, True)
        w.show()
        out.append((key, title, w))
    if keys is None or "surface" in keys:
        surface = _surface_widget(session, width, height)
        if surface is not None:
            out.append(surface)
    if out:
        QApplication.processEvents()
    return out


def _surface_widget(session: Session, width: int, height: int):
    """The shared loss surface with every run's path, when the session holds one."""
    from PySide6.QtCore import QRectF

    from engine.compare.surface import SharedSurface

    s = SharedSurface.from_session(session)
    if s is None:
        return None
    colors = run_colors(session)
    w = pg.GraphicsLayoutWidget()
    w.setBackground("w")
    w.resize(width, height)
    p = w.addPlot()
    title = "Shared loss surface (log10 loss) with every run's path"
    style_plot(p, title, "PC 1", "PC 2")
    p.setClipToView(False)
    p.addLegend(offset=(-10, 10), labelTextSize="9pt")
    img = pg.ImageItem()
    img.setColorMap(pg.colormap.get("viridis"))
    z = np.log10(np.clip(np.where(np.isfinite(s.loss), s.loss, np.nanmax(s.loss)), 1e-12, None))
    img.setImage(z, autoLevels=True)
    img.setRect(
        QRectF(
            float(s.alphas[0]), float(s.betas[0]), float(s.alphas[-1] - s.alphas[0]), float(s.betas[-1] - s.betas[0])
        )
    )
    p.addItem(img)
    for i, (name, xy) in enumerate(s.paths.items()):
        c = color(colors.get(name, i))
        p.plot(xy[:, 0], xy[:, 1], pen=pg.mkPen(c, width=3), name=name)
        p.plot([xy[-1, 0]], [xy[-1, 1]], pen=None, symbol="o", symbolSize=10, symbolBrush=c)
    w.setAttribute(Qt.WA_DontShowOnScreen, True)
    w.show()
    return ("surface", title, w)


def export_comparison_images(
    session: Session, folder: str | os.PathLike, formats: set[str], width: int = 900, height: int = 560
) -> tuple[list[Path], list[tuple[str, bytes]]]:
    """Write the key plots as PNG and/or SVG; returns the files and (caption, PNG bytes) for a report."""
    folder = ensure_folder(folder)
    files: list[Path] = []
    report: list[tuple[str, bytes]] = []
    for key, title, w in render_comparison_plots(session, width, height):
        target = w.ci
        if "png" in formats or "html" in formats:
            exp = pg.exporters.ImageExporter(target)
            exp.parameters()["width"] = int(width)
            data = png_bytes(exp.export(toBytes=True))
            report.append((title, data))
            if "png" in formats:
                files.append(write_bytes_atomic(folder / f"{key}.png", data))
        if "svg" in formats:
            files.append(export_item(target, folder / f"{key}.svg"))
        w.close()
        w.deleteLater()
    return files, report
