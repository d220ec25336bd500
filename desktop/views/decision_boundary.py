"""The decision boundary of 2D data sets, live: the classifier's class probabilities over
the plane as a colour map, with training points (filled) and validation points (white
ring) on top. The grid is computed on the engine thread (engine.boundary)
a few times a second; this view only turns probabilities into colours."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.plotting import color, style_plot
from desktop.views.base import View
from desktop.views.empty_state import TWO_D_DATASETS, EmptyState, apply_and_restart
from engine.boundary.snapshot import BoundaryPoints, BoundarySnapshot, from_record
from engine.events import Event

STRENGTH = 0.6  # how much of the class colour tints the background at full confidence


def class_colors(n: int) -> np.ndarray:
    """(n, 3) floats in [0, 1], the app's palette."""
    out = []
    for k in range(n):
        c = pg.mkColor(color(k))
        out.append([c.redF(), c.greenF(), c.blueF()])
    return np.asarray(out)


def probs_to_rgb(probs: np.ndarray) -> np.ndarray:
    """(G, G, C) probabilities → (G, G, 3) uint8: the expected class colour, faded toward
    white where the classifier is unsure (uniform probabilities give white)."""
    c = probs.shape[-1]
    mix = probs @ class_colors(c)
    conf = (probs.max(-1, keepdims=True) - 1.0 / c) / (1.0 - 1.0 / c)
    rgb = 1.0 - STRENGTH * np.clip(conf, 0, 1) * (1.0 - mix)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


class DecisionBoundaryView(View):
    """Heat map of the classifier over the input plane with the data on top."""

    title = "Decision boundary"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.run_id = ""
        self.extent: tuple[float, float, float, float] | None = None
        self.grids_drawn = 0
        self.last_step = -1
        self._pending_grid: BoundarySnapshot | None = None  # the newest grid not drawn yet
        self.info = QLabel(
            "Start a run on a 2D data set (spiral, moons, circles, xor, blobs) to see its decision boundary."
        )
        self.info.setWordWrap(True)
        self.glw = pg.GraphicsLayoutWidget()
        self.plot = self.glw.addPlot()
        style_plot(self.plot, "Classifier output over the input plane", "x1", "x2")
        self.plot.setClipToView(False)
        self.plot.setAspectLocked(True)
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.image = pg.ImageItem()
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        self.train_items: list[pg.ScatterPlotItem] = []
        self.val_items: list[pg.ScatterPlotItem] = []
        lay = QVBoxLayout(self)
        lay.addWidget(self.info)
        lay.addWidget(self.glw, 1)
        self.empty = EmptyState(self)
        self._show_applies(controller.config)

    # -- events ---------------------------------------------------------------------------
    def handle_events(self, events: list[Event]) -> None:
        latest_grid = None
        for e in events:
            if not isinstance(e, (BoundaryPoints, BoundarySnapshot)):
                continue
            if e.run_id != self.run_id:
                if not isinstance(e, BoundaryPoints):
                    continue
                self.run_id = e.run_id
            if isinstance(e, BoundaryPoints):
                self._set_points(e)
            else:
                latest_grid = e  # only the newest grid of a batch is drawn
        if latest_grid is not None:
            self._pending_grid = latest_grid
            self._dirty = True
        self.redraw_if_due()  # a hidden tab keeps only the newest grid and draws it when shown

    def redraw(self) -> None:
        g, self._pending_grid = self._pending_grid, None
        if g is not None:
            self._set_grid(g)
        self._mark_drawn()

    def _label_axes(self, config) -> None:
        """The plane is the data set's own (x1, x2), as the Data view shows it before
        preprocessing: each grid point goes through the input features and the preprocessing
        on its way into the network (engine.data.features.plane_grid)."""
        from engine.data.kinds import preprocess_kind

        kind = preprocess_kind(config.data)
        note = "" if kind == "none" else f" (the network sees it after {kind})"
        self.plot.setLabel("bottom", f"x1{note}")
        self.plot.setLabel("left", "x2")

    def on_run_started(self, run_id: str, config) -> None:
        self.run_id = run_id
        self._show_applies(config)
        self._label_axes(config)
        if config.data.name in TWO_D_DATASETS or config.data.name in ("csv", "npz"):
            self.info.setText(f"{run_id}: waiting for the first grid…")
        else:
            self.info.setText(f"The decision boundary is drawn for 2D data sets; '{config.data.name}' is not one.")

    def _show_applies(self, config) -> None:
        """Data with more than two inputs has no plane to draw: say so, offer a 2D set."""
        name = config.data.name
        if name in TWO_D_DATASETS or name in ("csv", "npz"):
            self.empty.clear()
            return
        self.empty.show_message(
            f"The decision boundary is drawn over a 2D input plane; '{name}' has more than two inputs.",
            "Switch to spiral (2D) and restart",
            lambda: apply_and_restart(self.controller, {"data.name": "spiral", "model.arch": "mlp"}),
        )

    # -- drawing --------------------------------------------------------------------------
    def _set_points(self, d: BoundaryPoints) -> None:
        for it in self.train_items + self.val_items:
            self.plot.removeItem(it)
        self.legend.clear()
        self.train_items, self.val_items = [], []
        names = d.class_names
        for k in range(d.n_classes):
            tr = d.x_train[d.y_train == k]
            va = d.x_val[d.y_val == k]
            a = pg.ScatterPlotItem(
                tr[:, 0],
                tr[:, 1],
                size=6,
                brush=pg.mkBrush(color(k)),
                pen=pg.mkPen(0.15, width=0.6),
                name=f"class {names[k]}",
            )
            b = pg.ScatterPlotItem(va[:, 0], va[:, 1], size=7, brush=pg.mkBrush(color(k)), pen=pg.mkPen("w", width=1.6))
            self.plot.addItem(a)
            self.plot.addItem(b)
            self.train_items.append(a)
            self.val_items.append(b)
        self.legend.addItem(
            pg.ScatterPlotItem(size=7, brush=pg.mkBrush(200, 200, 200), pen=pg.mkPen("w", width=1.6)),
            "validation (white ring)",
        )
        self.extent = d.extent
        x0, x1, y0, y1 = self.extent
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def _set_grid(self, g: BoundarySnapshot) -> None:
        rgb = probs_to_rgb(g.probs)  # (rows=y, cols=x, 3)
        self.image.setImage(np.ascontiguousarray(rgb.transpose(1, 0, 2)), autoLevels=False, levels=(0, 255))
        x0, x1, y0, y1 = g.extent
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.grids_drawn += 1
        self.last_step = g.step
        self.info.setText(
            f"{self.run_id}: step {g.step}, epoch {g.epoch} — colour: the predicted class, "
            f"faded where the classifier is unsure; filled points: training, white rings: validation."
        )

    # -- sessions -------------------------------------------------------------------------
    def load_session(self, session) -> None:
        if session.runs:
            self._show_applies(session.runs[0].config)
        for rec in session.runs:
            grids = self.read_saved(rec, "decision boundary", lambda r=rec: from_record(r))
            if not grids:
                continue
            from engine.data import load_data

            try:
                data = load_data(rec.config)
            except ValueError as e:  # the data file moved: show the boundary without points
                self.info.setText(f"{rec.name}: {e}")
                data = None
            self.run_id = rec.name
            self._label_axes(rec.config)
            if data is not None:
                self._set_points(BoundaryPoints.of(rec.name, data, grids[-1].extent))
            self._set_grid(grids[-1])
            return
