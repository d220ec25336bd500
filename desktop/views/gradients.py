"""Gradient norm per layer over time (vanishing/exploding gradients at a glance), or the
weights' own norm (how weight decay and the learning rate shape their scale); the update
per layer, as its ratio to the weights ‖Δw‖/‖w‖ (the ~1e-3 rule of thumb) or its size ‖Δw‖;
what the optimizer carries per layer (momentum's velocity, Adam's moments and effective
step, RMSprop's and Adagrad's accumulators), as the Playground shows them for two
parameters; and PReLU's learned slopes. A hover read-out gives every layer's value at the
probe nearest the cursor."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.plotting import color, style_plot
from desktop.views.log_axis import log_plot
from desktop.views.probe_view import ProbeView
from engine.events import Event
from engine.updates.snapshot import STATE_STATS, UpdateSnapshot, from_record

SOURCES = {
    "grad": "weight gradients ‖∂L/∂W‖",
    "agrad": "back-propagated gradients ‖∂L/∂a‖",
    "weight": "weights ‖W‖",
}
UPDATE_KINDS = {
    "ratio": "update-to-weight ratio ‖Δw‖/‖w‖",
    "size": "update size ‖Δw‖",
}
OPTIMIZER_NAMES = {
    "sgd": "plain SGD",
    "momentum": "SGD with momentum",
    "nesterov": "Nesterov momentum",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
}
UPDATES_OFF_TEXT = (
    "Update sizes and the optimizer's state are recorded at each probe when probes.updates is on "
    "(Inside the network ▸ probes in the panel, or --set probes.updates=true)."
)


def no_state_text(optimizer: str) -> str:
    """The optimizer-state plot's sentence for an optimizer that keeps no state."""
    name = OPTIMIZER_NAMES.get(optimizer, optimizer)
    return (
        f"{name[:1].upper()}{name[1:]} (optim.name = {optimizer}) keeps no velocity or moments: "
        "each step is −lr·(g + weight decay·w), "
        "so the update size above is all there is. Momentum, Nesterov, RMSprop, Adagrad and Adam keep state."
    )


def _positive(steps: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(y) & (y > 0)  # a log axis: zeros and NaNs are left out
    return steps[ok], y[ok]


class GradientNormsView(ProbeView):
    title = "Gradients"

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.source = QComboBox()
        for k, v in SOURCES.items():
            self.source.addItem(v, k)
        self.update_kind = QComboBox()
        for k, v in UPDATE_KINDS.items():
            self.update_kind.addItem(v, k)
        self.state_pick = QComboBox()  # the optimizer's statistics (those the run has)
        self.state_pick.setMinimumContentsLength(24)
        bar = QHBoxLayout()
        for label, box in (
            ("Norm of", self.source),
            ("Update", self.update_kind),
            ("Optimizer state", self.state_pick),
        ):
            bar.addWidget(QLabel(label))
            bar.addWidget(box)
            bar.addSpacing(12)
        bar.addStretch(1)
        self.glw = pg.GraphicsLayoutWidget()
        self.p_norm = log_plot(self.glw, row=0, col=0)
        self.p_ratio = log_plot(self.glw, row=1, col=0)
        self.p_state = log_plot(self.glw, row=2, col=0)
        self.p_slope = self.glw.addPlot(row=3, col=0)
        style_plot(self.p_norm, self._norm_title(), "step", "L2 norm")
        style_plot(self.p_ratio, self._update_title(), "step", "ratio")
        style_plot(self.p_state, "Optimizer state per layer (log scale)", "step", "value")
        style_plot(self.p_slope, "PReLU learned negative slope α per layer", "step", "α")
        for p in (self.p_norm, self.p_ratio, self.p_state):
            p.getAxis("left").setWidth(56)
            p.getAxis("left").enableAutoSIPrefix(False)
            p.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.p_slope.getAxis("left").setWidth(56)
        for p in (self.p_ratio, self.p_state, self.p_slope):
            p.setXLink(self.p_norm)
        # The 1e-3 rule of thumb (ratio only): a dashed line over the measured steps, inside the
        # plot's range (so it shows however far the ratios are from it), with a legend entry.
        self.ref: pg.PlotDataItem | None = None
        # The optimizer-state plot's empty state: a sentence in the middle of its view box.
        self.state_note = pg.TextItem("", color="#e0e0e0", anchor=(0.5, 0.5))
        font = self.state_note.textItem.font()
        font.setPointSize(11)
        self.state_note.setFont(font)
        self.state_note.setParentItem(self.p_state.vb)
        self.p_state.vb.sigResized.connect(self._place_note)
        self.p_slope.setVisible(False)
        self.c_norm: list[pg.PlotDataItem] = []
        self.c_ratio: list[pg.PlotDataItem] = []
        self.c_state: list[pg.PlotDataItem] = []
        self.c_slope: list[pg.PlotDataItem] = []
        self._labels: tuple = ()
        self.updates: list[UpdateSnapshot] = []  # the run's update sizes and optimizer state
        self.optimizer = ""  # the run's optim.name
        self.updates_on = True  # probes.updates of the run
        self.readout = QLabel(" ")
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.readout.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.glw, 1)
        lay.addWidget(self.readout)
        self.source.currentIndexChanged.connect(self._on_source_changed)
        self.update_kind.currentIndexChanged.connect(self._on_update_kind_changed)
        self.state_pick.currentIndexChanged.connect(lambda _i: self.redraw(rebuild=True))
        self._mouse_proxy = pg.SignalProxy(self.glw.scene().sigMouseMoved, rateLimit=30, slot=self._on_scene_mouse)

    # -- titles and choices -------------------------------------------------------------------
    def _on_source_changed(self, _index: int) -> None:
        self.p_norm.setTitle(self._norm_title())
        self.redraw(rebuild=True)

    def _on_update_kind_changed(self, _index: int) -> None:
        self.p_ratio.setTitle(self._update_title())
        self.redraw(rebuild=True)

    def _norm_title(self) -> str:
        what = SOURCES[self.source.currentData()]
        return f"{what[0].upper()}{what[1:]} per layer (log scale)"

    def _update_title(self) -> str:
        if self.update_kind.currentData() == "size":
            return "Update size ‖Δw‖ per layer: weights after the optimizer step minus before (log scale)"
        return "Update-to-weight ratio ‖Δw‖/‖w‖ per layer (≈1e-3 is healthy; log scale)"

    def _state_names(self) -> tuple[str, ...]:
        return self.updates[-1].state_names if self.updates else ()

    def _sync_state_pick(self) -> None:
        """The picker lists the statistics the run's optimizer has (keeping the choice)."""
        names = self._state_names()
        if tuple(self.state_pick.itemData(i) for i in range(self.state_pick.count())) == names:
            return
        keep = self.state_pick.currentData()
        self.state_pick.blockSignals(True)
        self.state_pick.clear()
        for k in names:
            self.state_pick.addItem(STATE_STATS[k], k)
        if keep in names:
            self.state_pick.setCurrentIndex(names.index(keep))
        self.state_pick.blockSignals(False)
        self.state_pick.setEnabled(bool(names))

    def _place_note(self) -> None:
        r = self.p_state.vb.rect()
        self.state_note.setTextWidth(max(200.0, r.width() * 0.8))
        self.state_note.setPos(r.center())

    # -- events -------------------------------------------------------------------------------
    def on_run_started(self, run_id: str, config) -> None:
        self.updates = []
        self.optimizer = config.optim.name
        self.updates_on = bool(config.probes.enabled and config.probes.updates)
        super().on_run_started(run_id, config)

    def handle_events(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, UpdateSnapshot) and e.run_id == self.run_id:
                self.updates.append(e)
                self._dirty = True
        super().handle_events(events)

    def load_session(self, session) -> None:
        if not session.runs:
            return
        rec = session.runs[0]
        self.updates = self.read_saved(rec, "update sizes", lambda: from_record(rec)) or []
        self.optimizer = self.updates[-1].optimizer if self.updates else rec.config.optim.name
        self.updates_on = bool(self.updates)
        super().load_session(session)

    def reset_view(self) -> None:
        self.readout.setText(" ")
        self.redraw(rebuild=True)

    # -- drawing ------------------------------------------------------------------------------
    def _update_labels(self) -> tuple[str, ...]:
        return self.updates[-1].layers if self.updates else tuple(self.store.labels("weight"))

    def _rebuild(self, src: str) -> None:
        """(Re)create the curves when the layer set or a choice changes (never per frame)."""
        for p, curves in (
            (self.p_norm, self.c_norm),
            (self.p_ratio, self.c_ratio),
            (self.p_state, self.c_state),
            (self.p_slope, self.c_slope),
        ):
            for c in curves:
                p.removeItem(c)
            curves.clear()
            if p.legend is not None:
                p.legend.clear()
        for i, lab in enumerate(self.store.labels(src)):
            self.c_norm.append(
                self.p_norm.plot(
                    pen=pg.mkPen(color(i), width=2),
                    name=lab,
                    symbol="o",
                    symbolSize=4,
                    symbolBrush=color(i),
                    symbolPen=None,
                )
            )
        for i, lab in enumerate(self._update_labels()):
            self.c_ratio.append(self.p_ratio.plot(pen=pg.mkPen(color(i), width=2), name=lab))
        self.ref = None
        if self.update_kind.currentData() == "ratio":
            self.ref = self.p_ratio.plot(pen=pg.mkPen("#aaa", width=1.5, style=Qt.DashLine), name="1e-3 rule of thumb")
            self.c_ratio.append(self.ref)  # removed with the curves at the next rebuild
        self._sync_state_pick()
        if self._state_names():
            for i, lab in enumerate(self._update_labels()):
                self.c_state.append(self.p_state.plot(pen=pg.mkPen(color(i), width=2), name=lab))
        kinds = self.store.kinds("act")
        for i, lab in enumerate(self.store.labels("act")):
            if kinds[i] == "prelu":
                self.c_slope.append(self.p_slope.plot(pen=pg.mkPen(color(i), width=2), name=lab))
        self.p_slope.setVisible(bool(self.c_slope))
        self._labels = self._key(src)

    def _key(self, src: str) -> tuple:
        return (
            src,
            tuple(self.store.labels(src)),
            self._update_labels(),
            self._state_names(),
            tuple(self.store.kinds("act")),
        )

    def update_series(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, (T, L) values) of the update plot: the update feature's ratio or size, or,
        for a run without it (older sessions), the probes' ratio."""
        size = self.update_kind.currentData() == "size"
        if self.updates:
            steps = np.array([s.step for s in self.updates], dtype=float)
            rows = [s.update_norm if size else s.update_ratio for s in self.updates]
            return steps, np.stack(rows)
        if size or not len(self.store):
            return np.zeros(0), np.zeros((0, len(self._update_labels())))
        return np.asarray(self.store.steps, dtype=float), self.store.stat("update_ratio", "")

    def state_series(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, (T, L) values) of the chosen optimizer statistic (empty when none)."""
        name = self.state_pick.currentData()
        if not self.updates or name is None:
            return np.zeros(0), np.zeros((0, 0))
        steps = np.array([s.step for s in self.updates], dtype=float)
        n = len(self.updates[-1].layers)
        rows = [
            s.state[s.state_names.index(name)] if name in s.state_names else np.full(n, np.nan) for s in self.updates
        ]
        return steps, np.stack(rows)

    def _state_note_text(self) -> str:
        if not self.updates_on:
            return UPDATES_OFF_TEXT
        if self.updates and not self._state_names():
            return no_state_text(self.updates[-1].optimizer or self.optimizer)
        return ""

    def redraw(self, rebuild: bool = False) -> None:
        self._mark_drawn()
        src = self.source.currentData()
        if rebuild or self._key(src) != self._labels:
            self._rebuild(src)
        note = self._state_note_text()
        self.state_note.setText(note)
        self.state_note.setVisible(bool(note))
        for axis in ("left", "bottom"):  # no empty axes (nor a previous run's range) behind the sentence
            self.p_state.showAxis(axis, not note)
        self._place_note()
        if len(self.store):
            steps = np.asarray(self.store.steps, dtype=float)
            norm = self.store.stat(src, "norm")
            for i, c in enumerate(self.c_norm):
                c.setData(*_positive(steps, norm[:, i]))
        ux, uy = self.update_series()
        for i, c in enumerate(self.c_ratio):
            if c is self.ref:
                c.setData([ux[0], ux[-1]] if len(ux) else [], [1e-3, 1e-3] if len(ux) else [])
            else:
                c.setData(*_positive(ux, uy[:, i] if uy.ndim == 2 and i < uy.shape[1] else np.zeros(0)))
        sx, sy = self.state_series()
        for i, c in enumerate(self.c_state):
            c.setData(*_positive(sx, sy[:, i] if sy.ndim == 2 and i < sy.shape[1] else np.zeros(0)))
        if self.c_slope and len(self.store):
            steps = np.asarray(self.store.steps, dtype=float)
            slope = self.store.stat("prelu_slope", "")
            idx = [i for i, k in enumerate(self.store.kinds("act")) if k == "prelu"]
            for c, i in zip(self.c_slope, idx):
                c.setData(steps, slope[:, i])

    # -- hover read-out -------------------------------------------------------------------------
    def _plot_values(self, plot: pg.PlotItem) -> tuple[str, np.ndarray, np.ndarray, list[str]]:
        """What `plot` shows: (name, steps, (T, L) values, layer labels)."""
        if plot is self.p_norm:
            steps = np.asarray(self.store.steps, dtype=float)
            src = self.source.currentData()
            values = self.store.stat(src, "norm") if len(self.store) else np.zeros((0, 0))
            return SOURCES[src], steps, values, self.store.labels(src)
        if plot is self.p_ratio:
            steps, values = self.update_series()
            return UPDATE_KINDS[self.update_kind.currentData()], steps, values, list(self._update_labels())
        if plot is self.p_state:
            steps, values = self.state_series()
            return self.state_pick.currentText(), steps, values, list(self._update_labels())
        steps = np.asarray(self.store.steps, dtype=float)
        idx = [i for i, k in enumerate(self.store.kinds("act")) if k == "prelu"]
        slope = self.store.stat("prelu_slope", "") if len(self.store) else np.zeros((0, 0))
        labels = self.store.labels("act")
        return "PReLU α", steps, slope[:, idx] if slope.size else slope, [labels[i] for i in idx]

    def readout_at(self, plot: pg.PlotItem, x: float) -> str:
        """Every layer's value in `plot` at the measured step nearest `x` (the hover text)."""
        name, steps, values, labels = self._plot_values(plot)
        if not len(steps) or values.ndim != 2 or not values.shape[1]:
            return f"step {x:.0f}: no {name} measured"
        i = int(np.argmin(np.abs(steps - x)))
        parts = [
            f"{lab} {values[i, j]:.3g}" if math.isfinite(values[i, j]) else f"{lab} –"
            for j, lab in enumerate(labels)
            if j < values.shape[1]
        ]
        return f"step {steps[i]:.0f} · {name}: " + ", ".join(parts)

    def _on_scene_mouse(self, evt) -> None:
        pos = evt[0]
        for p in (self.p_norm, self.p_ratio, self.p_state, self.p_slope):
            if p.isVisible() and p.sceneBoundingRect().contains(pos):
                self.readout.setText(self.readout_at(p, p.vb.mapSceneToView(pos).x()))
                return
