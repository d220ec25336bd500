"""Small plotting helpers shared by the views: growing arrays, colours, EMA, styling."""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPen

from desktop.export.plot_menu import add_plot_context_menu
from engine.palette import PALETTE as ENGINE_PALETTE

# One colour per run/optimizer, used consistently everywhere (the Playground's racers too):
# engine/palette.py, colour-blind safe.
PALETTE = list(ENGINE_PALETTE)
# After the tenth run the colours repeat with another line style, so no two runs look alike.
LINE_STYLES = [Qt.SolidLine, Qt.DashLine, Qt.DotLine, Qt.DashDotLine]


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def line_style(i: int) -> Qt.PenStyle:
    """The line style of run `i`: solid for the first ten, then dashed, dotted..."""
    return LINE_STYLES[(i // len(PALETTE)) % len(LINE_STYLES)]


def run_pen(i: int, width: float = 2.0) -> QPen:
    """The pen of run `i` (colour, then line style once the colours are used up)."""
    return pg.mkPen(color(i), width=width, style=line_style(i))


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


def minmax_decimate(x: np.ndarray, y: np.ndarray, max_points: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """At most ~max_points points that draw like (x, y): each bin of consecutive points
    becomes its min and max (spikes stay visible). For display only; saved series never
    are decimated. NaNs are ignored within a bin (a bin of only NaNs stays NaN)."""
    n = len(x)
    if n <= max_points or max_points < 4:
        return x, y
    bins = max_points // 2
    size = n // bins
    m = bins * size
    yb = y[:m].reshape(bins, size)
    lo = np.fmin.reduce(yb, axis=1)
    hi = np.fmax.reduce(yb, axis=1)
    xb = x[:m].reshape(bins, size)
    xs = np.column_stack([xb[:, 0], xb[:, -1]]).ravel()
    ys = np.column_stack([lo, hi]).ravel()
    if m < n:
        xs, ys = np.concatenate([xs, x[m:]]), np.concatenate([ys, y[m:]])
    return xs, ys


class PaintTimedLayout(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that adds up the GUI thread's CPU time of its paints (what a
    view with a drawing budget counts as part of its redraws' cost, desktop/views/base.py)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.paint_s = 0.0

    def paintEvent(self, ev) -> None:
        t = time.thread_time()
        super().paintEvent(ev)
        self.paint_s += time.thread_time() - t


def style_plot(plot: pg.PlotItem, title: str, xlabel: str, ylabel: str) -> None:
    plot.setTitle(title, size="10pt")
    plot.setLabel("bottom", xlabel)
    plot.setLabel("left", ylabel)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    cache_axes(plot)
    add_plot_context_menu(plot)  # right click: save as PNG/SVG, curves as CSV


def whole_number_ticks(axis: pg.AxisItem) -> None:
    """Ticks at whole numbers only, for counts (trials, epochs): no "0.5" between two trials
    when a short range would get pyqtgraph's half steps."""
    spacing = axis.tickSpacing

    def counts(lo: float, hi: float, size: float) -> list[tuple[float, float]]:
        return [(s, o) for s, o in spacing(lo, hi, size) if s >= 1] or [(1.0, 0.0)]

    axis.tickSpacing = counts


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


def tick_strings(values: list[float], spacing: float) -> list[str]:
    """Tick labels that show the real values: plain numbers in the readable range, else one
    scientific format for the whole axis ("1.5e+27"), never a scale factor on the label."""
    vals = [float(v) for v in values]
    finite = [abs(v) for v in vals if math.isfinite(v) and v != 0]
    if not finite:
        return [f"{v:g}" for v in vals]
    big, small = max(finite), min(finite)
    if big < 1e7 and spacing >= 1 and all(v == int(v) for v in vals if math.isfinite(v)):
        return [f"{int(v)}" for v in vals]  # counts (steps, epochs): plain integers
    if big >= 1e5 or big < 1e-3 or (spacing > 0 and spacing < 1e-4 and small < 1e-3):
        # digits enough to tell neighbouring ticks apart, relative to the largest exponent
        exp = math.floor(math.log10(big))
        digits = max(0, min(6, exp - math.floor(math.log10(spacing)))) if spacing > 0 else 2
        return [f"{v:.{digits}e}" if v != 0 else "0" for v in vals]
    places = max(0, math.ceil(-math.log10(spacing))) if spacing > 0 else 2
    return [f"{v:.{min(places, 8)}f}" if v != 0 else "0" for v in vals]


def _linear_tick_strings(axis: pg.AxisItem, values, scale, spacing):
    if axis.logMode:
        return axis.logTickStrings(values, scale, spacing)  # DecadeLogAxis's (installed on the class)
    return tick_strings([v * scale for v in values], spacing * scale)


def _no_si_prefix(axis: pg.AxisItem) -> None:
    """pyqtgraph calls this at every range change of an axis: the ticks are redrawn, and the
    label text (re-laid as HTML) only when a scale had been set (never, with this)."""
    if axis.autoSIPrefixScale != 1.0 or axis.labelUnitPrefix != "":
        axis.autoSIPrefixScale = 1.0
        axis.labelUnitPrefix = ""
        axis._updateLabel()  # noqa: SLF001 - pyqtgraph's own refresh of the label text
    else:
        axis.picture = None
        axis.update()


def _room_for_tick_labels(axis: pg.AxisItem, x: int) -> None:
    """pyqtgraph's own bookkeeping of the widest tick label (`x` px), then, for a vertical axis
    given a fixed width (views fix them so that changing tick labels do not re-lay the plots),
    the width grown to hold the label, the ticks and that text side by side (pyqtgraph's own
    measure), so that a wider label ("1e+03" on a log axis) never runs into the axis title.
    It grows only: a re-lay out when the labels first get wider, none when they narrow again."""
    _UPDATE_MAX_TEXT_SIZE(axis, x)
    if axis.orientation not in ("left", "right") or axis.fixedWidth is None or not axis.style["showValues"]:
        return
    need = x + axis.style["tickTextOffset"][0] + max(0, axis.style["tickLength"])
    if axis.label.isVisible():
        need += axis.label.boundingRect().height() * 0.8
    if need > axis.fixedWidth:
        axis.fixedWidth = math.ceil(need)
        axis._updateWidth()  # noqa: SLF001 - pyqtgraph's own re-sizing of the axis


_UPDATE_MAX_TEXT_SIZE = pg.AxisItem._updateMaxTextSize  # noqa: SLF001 - wrapped by _room_for_tick_labels
_ADD_LEGEND = pg.PlotItem.addLegend
LEGEND_BRUSH = (255, 255, 255, 215)
"""A legend's card: nearly opaque white, so that its labels stay readable over the curves it sits on."""


def _legend_on_a_card(plot: pg.PlotItem, *args, **kwargs) -> pg.LegendItem:
    kwargs.setdefault("brush", pg.mkBrush(*LEGEND_BRUSH))
    return _ADD_LEGEND(plot, *args, **kwargs)


def install_readable_axes() -> None:
    """Every pyqtgraph axis of the app shows real values: no SI-prefix scaling of the label
    ("lr (x0.001)"), tick labels in one plain or scientific format per axis, and log axes
    labelled at decades (plus 2 and 5 when fewer than two show); an axis of fixed width makes
    room for its widest tick label; legends sit on a white card. Done on the
    class, once, so plots built anywhere (views, exports, reports) get it."""
    if getattr(pg.AxisItem, "_descent_readable", False):
        return
    from desktop.views.log_axis import DecadeLogAxis

    pg.AxisItem.updateAutoSIPrefix = _no_si_prefix
    pg.AxisItem.tickStrings = _linear_tick_strings
    pg.AxisItem.logTickValues = DecadeLogAxis.logTickValues  # decades (+2, 5), not 0.2…0.9
    pg.AxisItem.logTickStrings = DecadeLogAxis.logTickStrings  # two significant digits
    pg.AxisItem._updateMaxTextSize = _room_for_tick_labels  # noqa: SLF001 - fixed widths grow to fit their labels
    pg.PlotItem.addLegend = _legend_on_a_card  # legends on a white card: readable over the curves
    pg.AxisItem._descent_readable = True  # noqa: SLF001 - marks the class as set up (idempotent)


def configure_pyqtgraph() -> None:
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    install_readable_axes()
    from desktop.lazy_menus import install_lazy_view_menus

    install_lazy_view_menus()  # plots' right-click menus are built on first use
