"""Small plotting helpers shared by the views: growing arrays, colours, EMA, styling."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from desktop.export.plot_menu import add_plot_context_menu

# One colour per run/optimizer, used consistently everywhere (colour-blind friendly, Okabe-Ito + extras).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#8C564B", "#7F7F7F"]


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


class GrowingArray:
    """A float array that grows by doubling; `view()` is what a plot item gets."""

    def __init__(self, capacity: int = 1024) -> None:
        self._a = np.empty(capacity, dtype=np.float64)
        self.n = 0

    def extend(self, values) -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        need = self.n + len(v)
        if need > len(self._a):
            new = np.empty(max(need, 2 * len(self._a)), dtype=np.float64)
            new[: self.n] = self._a[: self.n]
            self._a = new
        self._a[self.n : need] = v
        self.n = need

    def append(self, value: float) -> None:
        self.extend([value])

    def view(self) -> np.ndarray:
        return self._a[: self.n]

    def clear(self) -> None:
        self.n = 0

    def __len__(self) -> int:
        return self.n


class IncrementalEMA:
    """EMA computed incrementally as points arrive (O(new points) per update)."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.out = GrowingArray()
        self._acc = 0.0
        self._w = 0.0

    def reset(self, alpha: float | None = None) -> None:
        if alpha is not None:
            self.alpha = alpha
        self.out.clear()
        self._acc = self._w = 0.0

    def extend(self, values: np.ndarray) -> None:
        a = self.alpha
        res = np.empty(len(values))
        acc, w = self._acc, self._w
        for i, x in enumerate(values):
            if np.isfinite(x):
                acc = a * acc + (1 - a) * x
                w = a * w + (1 - a)
            res[i] = acc / w if w > 0 else np.nan
        self._acc, self._w = acc, w
        self.out.extend(res)


def style_plot(plot: pg.PlotItem, title: str, xlabel: str, ylabel: str) -> None:
    plot.setTitle(title, size="10pt")
    plot.setLabel("bottom", xlabel)
    plot.setLabel("left", ylabel)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    cache_axes(plot)
    add_plot_context_menu(plot)  # right click: save as PNG/SVG, curves as CSV


def cache_axes(plot: pg.PlotItem) -> None:
    """Paint each axis (its ticks, labels and grid lines) from a pixmap that is redrawn only
    when the axis changes. pyqtgraph replays the axis' QPicture on every repaint of the
    plot, a cost a live plot would pay for every axis several times a second."""
    from PySide6.QtWidgets import QGraphicsItem

    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        if axis is not None:
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 4, 5, 6, 8 × 10^k that is ≥ x (x > 0): axis ends that
    change only every 25-50% of growth, so a growing series rarely re-lays its axis."""
    if not np.isfinite(x) or x <= 0:
        return 1.0
    k = np.floor(np.log10(x))
    for m in (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        v = m * 10.0**k
        if v >= x * (1 - 1e-12):
            return float(v)
    return float(10.0 ** (k + 1))


def configure_pyqtgraph() -> None:
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
