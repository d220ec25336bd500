"""A log-scale axis that labels decades (plus 2 and 5 when fewer than two decades show, and
finer steps when even those give fewer than three labels),
instead of pyqtgraph's crowded 0.2, 0.3, ... 0.9 labels."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg


class DecadeLogAxis(pg.AxisItem):
    def logTickValues(self, minVal, maxVal, size, stdTicks):
        lo, hi = sorted((minVal, maxVal))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return []
        majors = [float(d) for d in range(math.floor(lo), math.ceil(hi) + 1) if lo <= d <= hi]
        minors = [
            d + math.log10(m)
            for d in range(math.floor(lo) - 1, math.ceil(hi) + 1)
            for m in (2, 5)
            if lo <= d + math.log10(m) <= hi
        ]
        if len(majors) >= 2:
            return [(None, majors), (None, minors)]
        ticks = sorted(majors + minors)
        for mantissas in ((2, 3, 5), (2, 3, 4, 5, 6, 8), (1.5, 2, 3, 4, 5, 6, 7, 8, 9)):
            if len(ticks) >= 3:  # within one decade, finer steps until three labels show
                break
            ticks = sorted(
                d + math.log10(m)
                for d in range(math.floor(lo) - 1, math.ceil(hi) + 1)
                for m in (1, *mantissas)
                if lo <= d + math.log10(m) <= hi
            )
        return [(None, ticks)]

    def logTickStrings(self, values, scale, spacing):
        return [log_tick_label(x) for x in 10 ** np.asarray(values, dtype=float) * np.asarray(scale, dtype=float)]


def log_tick_label(x: float) -> str:
    """A log axis's label for the value x: two significant digits (pyqtgraph's one wrote 0.0015
    as "0.002", beside a real 0.002), written out from 0.0001 to 10000 ("100" beside "10", not
    "1e+02"), in powers of ten beyond ("1e-05", "1e+05")."""
    if 1e-4 <= abs(x) < 1e5:
        return str(np.format_float_positional(x, precision=2, unique=False, fractional=False, trim="-"))
    return f"{x:.2g}"


def log_plot(layout: pg.GraphicsLayoutWidget, **kw) -> pg.PlotItem:
    """A plot with a log-y axis whose labels stay readable (only the first level is labelled)."""
    axis = DecadeLogAxis("left")
    axis.setStyle(maxTextLevel=0)
    p = layout.addPlot(axisItems={"left": axis}, **kw)
    p.setLogMode(y=True)
    return p
