"""Batch norm, train vs inference (lecture §3): per layer, the current minibatch's mean and
variance of one unit (dots) beside the running estimates used at inference (line); how far
batch statistics stray from the running ones against the √(2/π)/√B expected for batch
size B; and validation accuracy with running estimates vs with each batch's own statistics."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from desktop.plotting import color, style_plot
from desktop.views.base import View
from desktop.views.empty_state import EmptyState, apply_and_restart
from engine.batchnorm.snapshot import LAYER_STATS, UNIT_STATS, BatchNormSnapshot, expected_gap, from_record
from engine.events import Event

BATCH, RUNNING = "#D55E00", "#0072B2"
KEYS = (*UNIT_STATS, *LAYER_STATS)
OFF_TEXT = (
    "Batch norm is off: set model.batch_norm to 'before' or 'after' the activation (every hidden layer), "
    "or choose it per hidden layer with model.batch_norm_layers (e.g. before,off),"
)


class BatchNormView(View):
    """Batch vs running statistics per layer, over steps."""

    title = "Batch norm"
    MAX_POINTS = 4000

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.run_id = ""
        self.batch_size = 0
        self.blocks: dict[str, list[np.ndarray]] = {k: [] for k in ("steps", *KEYS)}
        self.epochs: list[tuple[float, float, float]] = []  # epoch, acc running, acc batch
        self.layer_names: list[str] = []  # where each BN layer sits (from the probe)
        self._dirty = False
        self.info = QLabel(OFF_TEXT + " and start a run.")
        self.info.setWordWrap(True)
        self.layer = QComboBox()
        self.layer.setToolTip("Batch-norm layer (input to output)")
        self.layer.currentIndexChanged.connect(lambda _i: self._redraw())
        self.unit = QSpinBox()
        self.unit.setRange(0, 7)
        self.unit.setToolTip("Unit (channel) of the layer whose statistics are drawn")
        self.unit.valueChanged.connect(lambda _v: self._redraw())
        bar = QHBoxLayout()
        bar.addWidget(QLabel("layer"))
        bar.addWidget(self.layer, 1)
        bar.addWidget(QLabel("unit"))
        bar.addWidget(self.unit)
        bar.addStretch(1)
        self.glw = pg.GraphicsLayoutWidget()
        self.p_mean = self.glw.addPlot(row=0, col=0)
        self.p_var = self.glw.addPlot(row=0, col=1)
        self.p_gap = self.glw.addPlot(row=1, col=0)
        self.p_acc = self.glw.addPlot(row=1, col=1)
        style_plot(self.p_mean, "Mean of the unit's input", "step", "mean")
        style_plot(self.p_var, "Variance of the unit's input", "step", "variance")
        style_plot(
            self.p_gap, "|batch mean − running mean| / running std (mean of all units)", "step", "normalized gap"
        )
        style_plot(self.p_acc, "Validation accuracy at inference", "epoch", "accuracy")
        for p in (self.p_mean, self.p_var, self.p_gap, self.p_acc):
            p.addLegend(offset=(-10, 10), labelTextSize="8pt")
            p.getAxis("left").setWidth(64)  # room for "0.0005" beside the axis title
            p.getAxis("left").enableAutoSIPrefix(False)  # "0.25", not "250 (x0.001)"
        self.p_var.setXLink(self.p_mean)
        self.p_gap.setXLink(self.p_mean)
        dots = dict(pen=None, symbol="o", symbolSize=4, symbolPen=None)
        self.c_bmean = self.p_mean.plot(name="this minibatch (train mode)", symbolBrush=BATCH, **dots)
        self.c_rmean = self.p_mean.plot(name="running estimate (eval mode)", pen=pg.mkPen(RUNNING, width=2))
        self.c_bvar = self.p_var.plot(name="this minibatch", symbolBrush=BATCH, **dots)
        self.c_rvar = self.p_var.plot(name="running estimate", pen=pg.mkPen(RUNNING, width=2))
        self.c_gaps: list[pg.PlotDataItem] = []
        self.c_expected = pg.InfiniteLine(angle=0, pen=pg.mkPen("k", width=1.5, style=Qt.DashLine), movable=False)
        self.p_gap.addItem(self.c_expected)
        self.expected_label = pg.TextItem(anchor=(0, 1), color="k", fill=pg.mkBrush(255, 255, 255, 200))
        self.p_gap.addItem(self.expected_label)
        self.c_acc_run = self.p_acc.plot(
            name="running estimates", pen=pg.mkPen(RUNNING, width=2), symbol="o", symbolSize=5, symbolBrush=RUNNING
        )
        self.c_acc_batch = self.p_acc.plot(
            name="batch statistics (batch B)", pen=pg.mkPen(BATCH, width=2), symbol="s", symbolSize=5, symbolBrush=BATCH
        )
        lay = QVBoxLayout(self)
        lay.addWidget(self.info)
        lay.addLayout(bar)
        lay.addWidget(self.glw, 1)
        self.empty = EmptyState(self)
        self._show_applies(controller.config)

    def _show_applies(self, config) -> None:
        """Batch norm off: say so over the empty plots, with the button that turns it on."""
        if config.model.uses_batch_norm():
            self.empty.clear()
            return
        self.empty.show_message(
            "Batch norm is off, so there are no batch statistics to show.",
            "Turn on batch norm (after each activation) and restart",
            lambda: apply_and_restart(self.controller, {"model.batch_norm_layers": [], "model.batch_norm": "after"}),
        )

    # -- data -----------------------------------------------------------------------------
    def _reset(self, run_id: str) -> None:
        self.run_id = run_id
        self.blocks = {k: [] for k in ("steps", *KEYS)}
        self.epochs = []
        self.layer_names = []
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.blockSignals(False)
        for c in self.c_gaps:
            self.p_gap.removeItem(c)
        self.c_gaps = []
        if self.p_gap.legend is not None:
            self.p_gap.legend.clear()

    def on_run_started(self, run_id: str, config) -> None:
        self._reset(run_id)
        self.batch_size = config.train.batch_size
        self._show_applies(config)
        m = config.model
        if not m.uses_batch_norm():
            self.info.setText(OFF_TEXT + " and restart.")
        else:
            self.info.setText(
                f"{run_id}: batch norm {describe_placement(m)}, batch size {self.batch_size}, "
                f"momentum {m.bn_momentum:g} — waiting for statistics…"
            )
        self._redraw()

    def handle_events(self, events: list[Event]) -> None:
        for e in events:
            if not isinstance(e, BatchNormSnapshot):
                continue
            if e.run_id != self.run_id:
                self._reset(e.run_id)
            self.add(e)
        if self._dirty:
            self._redraw()

    def add(self, snap: BatchNormSnapshot) -> None:
        """One snapshot's step samples and epoch rows, live or replayed."""
        if snap.layers:
            self.layer_names = list(snap.layers)
        if snap.batch_size:
            self.batch_size = snap.batch_size
        if len(snap.steps):
            self.blocks["steps"].append(snap.steps.astype(np.float64))
            for k in KEYS:
                self.blocks[k].append(getattr(snap, k))
        for row in snap.epochs:
            self.epochs.append((row[0], row[2], row[4]))  # epoch, accuracy with running / batch statistics
        self._dirty = True

    def _arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for k, blocks in self.blocks.items():
            if len(blocks) > 1:  # keep one block: appending stays cheap
                self.blocks[k] = [np.concatenate(blocks)]
            out[k] = self.blocks[k][0] if self.blocks[k] else None
        return out

    # -- drawing --------------------------------------------------------------------------
    def _redraw(self) -> None:
        self._dirty = False
        a = self._arrays()
        steps = a["steps"]
        if steps is None or not len(steps):
            for c in (self.c_bmean, self.c_rmean, self.c_bvar, self.c_rvar, self.c_acc_run, self.c_acc_batch):
                c.setData([], [])
            return
        n_layers, units = a["batch_mean"].shape[1], a["batch_mean"].shape[2]
        if self.layer.count() != n_layers:
            self.layer.blockSignals(True)
            self.layer.clear()
            self.layer.addItems(self._layer_labels(n_layers))
            self.layer.blockSignals(False)
            self.unit.setMaximum(units - 1)
            for i in range(n_layers):
                short = self._layer_labels(n_layers)[i].split(",")[0].replace("hidden layer", "layer")
                self.c_gaps.append(self.p_gap.plot(name=short, pen=pg.mkPen(color(i), width=1.5)))
            self.info.setText(
                f"{self.run_id}: dots are the statistics of the current minibatch (what BN uses in "
                f"training), the line the running estimates (what it uses at inference). Batch size "
                f"{self.batch_size}: smaller batches scatter more."
            )
        li, u = max(0, self.layer.currentIndex()), min(self.unit.value(), units - 1)
        s = slice(max(0, len(steps) - self.MAX_POINTS), None)
        self.c_bmean.setData(steps[s], a["batch_mean"][s, li, u])
        self.c_rmean.setData(steps[s], a["running_mean"][s, li, u])
        self.c_bvar.setData(steps[s], a["batch_var"][s, li, u])
        self.c_rvar.setData(steps[s], a["running_var"][s, li, u])
        for i, c in enumerate(self.c_gaps[:n_layers]):
            c.setData(steps[s], a["mean_gap"][s, i])
        if self.batch_size:
            eg = expected_gap(self.batch_size)
            self.c_expected.setValue(eg)
            self.expected_label.setText(f"√(2/π)/√B = {eg:.3f} (B = {self.batch_size})")
            self.expected_label.setPos(float(steps[s][0]), eg)
        if self.epochs:
            ep = np.asarray(self.epochs, dtype=np.float64)
            self.c_acc_run.setData(ep[:, 0], ep[:, 1])
            self.c_acc_batch.setData(ep[:, 0], ep[:, 2])

    def _layer_labels(self, n_layers: int) -> list[str]:
        """The probe's names ('hidden layer 2, before the activation (32 units)') when known."""
        if len(self.layer_names) == n_layers:
            return list(self.layer_names)
        return [f"BN layer {i + 1}" for i in range(n_layers)]

    # -- sessions -------------------------------------------------------------------------
    def load_session(self, session) -> None:
        if session.runs:
            self._show_applies(session.runs[0].config)
        for rec in session.runs:
            snaps = self.read_saved(rec, "batch-norm statistics", lambda r=rec: from_record(r))
            if not snaps:
                continue
            self._reset(rec.name)
            self.empty.clear()
            self.batch_size = rec.config.train.batch_size
            for s in snaps:
                self.add(s)
            self._redraw()
            return


def describe_placement(m) -> str:
    """'before the activation' or, per layer, 'per hidden layer: before, off, after' (+ conv blocks)."""
    per_layer = m.batch_norm_per_layer()
    if m.batch_norm_layers and len(set(per_layer)) > 1:
        text = "per hidden layer: " + ", ".join(per_layer)
    else:
        place = per_layer[0] if per_layer else m.batch_norm
        text = "off in the hidden layers" if place == "off" else f"{place} the activation in every hidden layer"
    if m.arch == "cnn":
        text += "; conv blocks: " + ("none" if m.batch_norm == "off" else f"{m.batch_norm} the activation")
    return text
