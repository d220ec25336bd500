"""The Search tab's plots: optimization history, learning curves, the lecture's picture (score
over two parameters, log axes, colour = score, best marked, a rectangle to refine), parallel
coordinates and parameter importances. Each draws a SearchSnapshot; none computes anything
heavier than arrays of a few hundred points."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from desktop.plotting import style_plot, whole_number_ticks
from desktop.views.log_axis import log_tick_label
from engine.states import RunState
from engine.tuning.snapshot import SearchSnapshot, TrialRecord
from engine.tuning.space import Param, choice_label

CMAP = pg.colormap.get("viridis")
ROUND_SYMBOLS = ("o", "t", "s", "d", "h", "p")
GREY = (150, 150, 150, 110)
FAILED = (213, 94, 0, 200)


def score_colors(scores: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Colour per score: yellow for the lowest (best) loss, dark violet for the highest."""
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return [GREY] * len(scores)
    lo, hi = float(finite.min()), float(finite.max())
    out = []
    for s in scores:
        if not math.isfinite(s):
            out.append(GREY)
            continue
        u = 1.0 - (s - lo) / (hi - lo) if hi > lo else 1.0
        r, g, b, a = CMAP.map(np.array([u]), mode="byte")[0]
        out.append((int(r), int(g), int(b), 230))
    return out


def _ticks_for(axis: pg.AxisItem, param: Param | None) -> None:
    """Tick labels of a parameter's axis: its choices, or decades (0.001, 0.01, … as the log
    axes of the other plots write them) for a log range, whose positions are log10 of the values."""
    from engine.tuning.analysis import axis_range

    if param is not None and param.scale == "choice":
        axis.setTicks([[(i, str(choice_label(c))) for i, c in enumerate(param.choices)]])
    elif param is not None and param.scale == "log":
        lo, hi = axis_range(param)
        decades = range(math.floor(lo), math.ceil(hi) + 1)
        minors = [d + math.log10(m) for d in decades for m in (2, 5) if lo <= d + math.log10(m) <= hi]
        axis.setTicks([[(float(d), log_tick_label(10.0**d)) for d in decades], [(m, "") for m in minors]])
    else:
        axis.setTicks(None)


class HistoryPlot:
    """Each finished trial's score by trial number, pruned ones grey at their last value,
    and the best so far as a step line."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        style_plot(plot, "Optimization history", "trial", "validation loss")
        whole_number_ticks(plot.getAxis("bottom"))
        self.points = plot.plot([], [], pen=None, symbol="o", symbolSize=7)
        self.pruned = plot.plot([], [], pen=None, symbol="x", symbolSize=7, symbolBrush=GREY, symbolPen=GREY)
        self.best = plot.plot([], [], pen=pg.mkPen("#D55E00", width=2), stepMode=None, name="best so far")
        plot.addLegend(offset=(-10, 10))
        plot.legend.addItem(self.best, "best so far")

    def draw(self, snap: SearchSnapshot) -> None:
        done = sorted(snap.complete, key=lambda t: t.number)
        x = np.array([t.number for t in done], dtype=float)
        y = np.array([t.score for t in done])
        self.points.setData(x, y, symbolBrush=score_colors(y), symbolPen=None)
        pr = [t for t in snap.trials if t.state == RunState.PRUNED and t.curve]
        self.pruned.setData([float(t.number) for t in pr], [t.curve[-1] for t in pr])
        finished = sorted(snap.finished, key=lambda t: t.number)
        bsf = snap.best_so_far()
        self.best.setData(np.array([t.number for t in finished], dtype=float), bsf, connect="finite")


class CurvesPlot:
    """Every trial's validation loss per epoch: complete ones by score colour, pruned grey,
    running ones bold, failed ones orange."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        style_plot(plot, "Learning curves (pruned: grey)", "epoch", "validation loss")
        whole_number_ticks(plot.getAxis("bottom"))
        self.items: dict[int, pg.PlotDataItem] = {}

    def draw(self, snap: SearchSnapshot) -> None:
        scores = np.array([t.score for t in snap.trials])
        colors = score_colors(scores)
        keep = set()
        for t, c in zip(snap.trials, colors):
            if not t.curve:
                continue
            keep.add(t.number)
            item = self.items.get(t.number)
            if item is None:
                item = self.items[t.number] = self.plot.plot([], [])
            if t.state == RunState.PRUNED or t.state == RunState.STOPPED:
                pen = pg.mkPen(GREY, width=1, style=Qt.DashLine)
            elif t.state == RunState.RUNNING:
                pen = pg.mkPen("#0072B2", width=2.5)
            elif t.state in (RunState.ERROR, RunState.DIVERGED):
                pen = pg.mkPen(FAILED, width=1)
            else:
                pen = pg.mkPen(c, width=1.5)
            item.setData(np.arange(1, len(t.curve) + 1, dtype=float), np.array(t.curve), pen=pen)
        for n in [n for n in self.items if n not in keep]:
            self.plot.removeItem(self.items.pop(n))


class PicturePlot:
    """The lecture's picture: score over two chosen parameters (log axes for log ranges),
    colour = score, the best trial marked with a red star, each round its own marker;
    a rectangle (drag it, resize it by its corner) chooses the region of the next round."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        style_plot(plot, "Score over two parameters (yellow = best)", "", "")
        self.scatter = pg.ScatterPlotItem(size=10, pen=pg.mkPen(40, 40, 40, 160))
        self.best = pg.ScatterPlotItem(size=22, symbol="star", brush=None, pen=pg.mkPen("#D55E00", width=2.5))
        self.selected = pg.ScatterPlotItem(size=18, symbol="o", brush=None, pen=pg.mkPen("#0072B2", width=2.5))
        for item in (self.scatter, self.best, self.selected):
            plot.addItem(item)
        self.roi = pg.RectROI([0, 0], [1, 1], pen=pg.mkPen("#CC79A7", width=2, style=Qt.DashLine))
        self.roi.setZValue(10)
        plot.addItem(self.roi)
        self.roi.hide()
        self.px: Param | None = None
        self.py: Param | None = None

    def set_axes(self, px: Param | None, py: Param | None) -> None:
        """Choose the parameters on x and y (y None: the score itself, for a one-parameter
        search); the rectangle is reset to the middle half."""
        from engine.tuning.analysis import axis_range

        self.px, self.py = px, py
        over = "one parameter" if px is not None and py is None else "two parameters"
        self.plot.setTitle(f"Score over {over} (yellow = best)", size="10pt")
        self.plot.setLabel("bottom", px.key + (" (log)" if px and px.scale == "log" else "") if px else "")
        left = py.key + (" (log)" if py.scale == "log" else "") if py else ("validation loss" if px else "")
        self.plot.setLabel("left", left)
        _ticks_for(self.plot.getAxis("bottom"), px)
        _ticks_for(self.plot.getAxis("left"), py)
        if px is None:
            self.roi.hide()
            return
        if py is None:  # score on y: the rectangle chooses an x range over the data's scores
            x0, x1 = axis_range(px)
            self.roi.setPos([x0 + 0.25 * (x1 - x0), 0.0])
            self.roi.setSize([0.5 * (x1 - x0), 1.0])
            self.roi.show()
            self.plot.enableAutoRange(y=True)
            self.plot.setXRange(x0, x1, padding=0.05)
            return
        (x0, x1), (y0, y1) = axis_range(px), axis_range(py)
        self.roi.setPos([x0 + 0.25 * (x1 - x0), y0 + 0.25 * (y1 - y0)])
        self.roi.setSize([0.5 * (x1 - x0), 0.5 * (y1 - y0)])
        self.roi.show()
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.05)

    def draw(self, snap: SearchSnapshot, selected: int | None = None) -> None:
        from engine.tuning.analysis import axis_values

        if self.px is None:
            self.scatter.setData([], [])
            self.best.setData([], [])
            self.selected.setData([], [])
            return
        py = self.py
        ts = [t for t in snap.trials if self.px.key in t.params and (py is None or py.key in t.params)]
        if py is None:  # score over one parameter: finished trials only
            ts = [t for t in ts if math.isfinite(t.score)]
        xs = axis_values(self.px, [t.params[self.px.key] for t in ts])
        ys = (
            axis_values(py, [t.params[py.key] for t in ts])
            if py is not None
            else np.array([t.score for t in ts], dtype=np.float64)
        )
        if py is None and len(ys):  # the rectangle spans the scores; its x range is the user's
            lo, hi = float(ys.min()), float(ys.max())
            pad = 0.05 * (hi - lo) + 1e-9
            self.roi.setPos([self.roi.pos()[0], lo - pad], update=False)
            self.roi.setSize([self.roi.size()[0], hi - lo + 2 * pad])
        colors = score_colors(np.array([t.score for t in ts]))
        rounds = sorted({t.round for t in ts})
        spots = [
            {
                "pos": (x, y),
                "brush": pg.mkBrush(c),
                "symbol": ROUND_SYMBOLS[rounds.index(t.round) % len(ROUND_SYMBOLS)],
                "data": t.number,
            }
            for t, x, y, c in zip(ts, xs, ys, colors)
            if math.isfinite(x) and math.isfinite(y)
        ]
        self.scatter.setData(spots)
        best = snap.best(1)
        mark = [(x, y) for t, x, y in zip(ts, xs, ys) if best and t.number == best[0].number]
        self.best.setData(pos=mark)
        sel = [(x, y) for t, x, y in zip(ts, xs, ys) if t.number == selected]
        self.selected.setData(pos=sel)

    def rectangle(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The rectangle's (x range, y range) in parameter values (log axes back from log10)."""
        if self.px is None or not self.roi.isVisible():
            return None
        (x, y), (w, h) = self.roi.pos(), self.roi.size()

        def back(p: Param, a: float, b: float) -> tuple[float, float]:
            return (10**a, 10**b) if p.scale == "log" else (a, b)

        if self.py is None:  # score on y: only the x range narrows the space
            return back(self.px, x, x + w), (y, y + h)
        return back(self.px, x, x + w), back(self.py, y, y + h)


class ParallelPlot:
    """Parallel coordinates: one line per complete trial across every parameter's axis (its
    range scaled to 0..1, log for log ranges) and the score's, coloured by score."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        style_plot(plot, "Parallel coordinates (each line a trial)", "", "position in range")
        self.items: list[pg.PlotDataItem] = []

    def draw(self, snap: SearchSnapshot, params: dict[str, Param]) -> None:
        from engine.tuning.analysis import axis_range, axis_values

        for it in self.items:
            self.plot.removeItem(it)
        self.items = []
        keys = list(params)
        done = snap.complete
        self.plot.getAxis("bottom").setTicks([[(i, k.split(".")[-1]) for i, k in enumerate([*keys, "val loss"])]])
        if not done:
            return
        scores = np.array([t.score for t in done])
        lo, hi = float(scores.min()), float(scores.max())
        cols = []
        for k in keys:
            a, b = axis_range(params[k])
            v = axis_values(params[k], [t.params.get(k) for t in done])
            cols.append((v - a) / (b - a) if b > a else v * 0 + 0.5)
        cols.append((scores - lo) / (hi - lo) if hi > lo else scores * 0 + 0.5)
        table = np.stack(cols, axis=1)
        order = np.argsort(-scores)  # the best drawn last, on top
        colors = score_colors(scores)
        for i in order:
            self.items.append(
                self.plot.plot(np.arange(table.shape[1], dtype=float), table[i], pen=pg.mkPen(colors[i], width=1.5))
            )
        self.plot.setRange(xRange=(-0.2, len(keys) + 0.2), yRange=(-0.05, 1.05), padding=0)


class ImportancePlot:
    """Optuna's fANOVA importance of each parameter, as horizontal bars."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        style_plot(plot, "Parameter importance (fANOVA)", "importance (fraction)", "")
        plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.bars: pg.BarGraphItem | None = None
        self.note = pg.TextItem("", color="#666666", anchor=(0.5, 0.5))
        plot.addItem(self.note)

    def draw(self, values: dict[str, float], note: str = "") -> None:
        if self.bars is not None:
            self.plot.removeItem(self.bars)
            self.bars = None
        keys = list(values)[::-1]
        if not keys:
            self.note.setText(note or "needs 4 complete trials and 2 parameters")
            self.note.setPos(0.5, 0.5)
            self.plot.getAxis("left").setTicks([[]])
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1))
            return
        self.note.setText("")
        w = [values[k] for k in keys]
        self.bars = pg.BarGraphItem(x0=0, y=np.arange(len(keys)), width=w, height=0.6, brush="#56B4E9")
        self.plot.addItem(self.bars)
        left = self.plot.getAxis("left")
        left.setTicks([[(i, k) for i, k in enumerate(keys)]])
        left.update()  # its cached picture (cache_axes) is redrawn with the names
        self.plot.setRange(xRange=(0, max(w) * 1.1 or 1), yRange=(-0.6, len(keys) - 0.4), padding=0)


def trial_text(t: TrialRecord) -> str:
    """A trial's parameters on one line."""
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={choice_label(v)}" for k, v in t.params.items())
