"""A log-scale axis that labels decades (plus 2 and 5 when fewer than two decades show),
instead of pyqtgraph's crowded 0.2, 0.3, ... 0.9 labels."""

from __future__ import annotations

import math

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
        return [(None, sorted(majors + minors))]


def log_plot(layout: pg.GraphicsLayoutWidget, **kw) -> pg.PlotItem:
    """A plot with a log-y axis whose labels stay readable (only the first level is labelled)."""
    axis = DecadeLogAxis("left")
    axis.setStyle(maxTextLevel=0)
    p = layout.addPlot(axisItems={"left": axis}, **kw)
    p.setLogMode(y=True)
    return p
