"""The network view: the network as a layered graph, every neuron a small picture of what it
computes, learning live — TensorFlow Playground's one screen, on Descent's networks.

The pictures come from the engine (engine/network, a few times a second in one batched
pass); this view only draws the newest snapshot (desktop/views/network_graph.py). For 2D
data sets the input features are toggled here (data.features) and "Regenerate data" draws
a new sample of the same set (data.seed) with the model's init unchanged.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from desktop.views.base import View
from desktop.views.network_graph import NetworkDiagram
from engine.boundary.snapshot import BoundaryPoints
from engine.config import SYNTHETIC_2D
from engine.data.feature_names import FEATURES, LABELS
from engine.events import Event
from engine.network.snapshot import NetworkSnapshot, from_record
from engine.states import RunState

DEFAULT_SHOWN = 10
"""Neurons drawn per layer before "+N more" (the spin box changes it)."""


class NetworkView(View):
    """Every neuron of the network, its connections and the output's decision boundary."""

    title = "Network"
    DRAW_BUDGET = 0.04  # at full speed drawing takes ≤ 4% of a core (~2 pictures/s): the engine needs the GIL

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.run_id = ""
        self._pending: NetworkSnapshot | None = None
        self.diagram = NetworkDiagram(DEFAULT_SHOWN)
        self.diagram.scene().sigMouseMoved.connect(self._on_diagram_moved)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Inputs:"))
        self.feature_boxes: dict[str, QCheckBox] = {}
        for name in FEATURES:
            box = QCheckBox(LABELS[name])
            box.setObjectName(f"feature:{name}")
            box.setToolTip(f"Feed {LABELS[name]} of each point to the network (data.features; restarts the run)")
            box.toggled.connect(self._on_feature_toggled)
            self.feature_boxes[name] = box
            bar.addWidget(box)
        self.regenerate = QPushButton("Regenerate data")
        self.regenerate.setToolTip("Draw a new sample of the same 2D data set (data.seed); the model's init stays")
        self.regenerate.clicked.connect(self.regenerate_data)
        bar.addWidget(self.regenerate)
        bar.addStretch(1)
        bar.addWidget(QLabel("Neurons per layer:"))
        self.max_units = QSpinBox()
        self.max_units.setRange(1, 64)
        self.max_units.setValue(DEFAULT_SHOWN)
        self.max_units.setToolTip("Most neurons drawn per layer; scroll over a wider layer to see the others")
        self.max_units.valueChanged.connect(self.diagram.set_max_units)
        bar.addWidget(self.max_units)

        self.info = QLabel("Start a run to see every neuron of the network learn.")
        self.info.setWordWrap(True)
        self.hover_label = QLabel(" ")
        self.hover_label.setObjectName("network:hover")
        legend = QLabel(
            "<span style='color:#E66101'>■</span> positive &nbsp; <span style='color:#2166AC'>■</span> negative "
            "(neuron colours and connections; a line's width is the weight's size) &nbsp; "
            "<span style='color:#D55E00'>▢</span> dead &nbsp; <span style='color:#CC79A7'>▢</span> saturated"
            " &nbsp; — hover for values, click a neuron to enlarge it"
        )
        legend.setWordWrap(True)  # wraps rather than widening the view past the room beside the docks
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self.info)
        lay.addWidget(self.diagram, 1)
        lay.addWidget(legend)
        lay.addWidget(self.hover_label)
        controller.config_changed.connect(lambda _c: self._sync_controls())
        controller.field_edited.connect(self._on_controller_field_edited)
        self._sync_controls()

    # -- controls ----------------------------------------------------------------------------
    def _sync_controls(self) -> None:
        cfg = self.controller.config.data
        is_2d = cfg.name in SYNTHETIC_2D
        for name, box in self.feature_boxes.items():
            box.blockSignals(True)
            box.setChecked(name in cfg.features)
            box.setEnabled(is_2d)
            box.blockSignals(False)
        self.regenerate.setEnabled(is_2d)

    def _on_controller_field_edited(self, key: str) -> None:
        if key.startswith("data."):
            self._sync_controls()

    def _on_feature_toggled(self, _checked: bool) -> None:
        names = [n for n, box in self.feature_boxes.items() if box.isChecked()]
        if not names:
            self.info.setText("Keep at least one input feature.")
            self._sync_controls()
            return
        err = self.controller.set_field("data.features", names)
        if err:
            self.info.setText(err)
            self._sync_controls()
            return
        self._restart_if_started()

    def regenerate_data(self) -> None:
        """A new sample of the same data set: data.seed moves on, the model's seed stays."""
        cfg = self.controller.config
        new = (cfg.data.sample_seed(cfg.seed) + 1) % (2**31 - 1)
        err = self.controller.set_field("data.seed", new)
        if err:
            self.info.setText(err)
            return
        self._restart_if_started()

    def _restart_if_started(self) -> None:
        """Edits of the data restart a run that exists (as TensorFlow Playground does)."""
        c = self.controller
        if c.worker is not None and c.state != RunState.REPLAY:
            c.restart()

    # -- events ------------------------------------------------------------------------------
    def handle_events(self, events: list[Event]) -> None:
        for e in events:
            if e.run_id != self.run_id:
                continue
            if isinstance(e, BoundaryPoints):
                self.diagram.set_points(e)
            elif isinstance(e, NetworkSnapshot):
                self._pending = e
                self._dirty = True
        self.redraw_if_due()

    def redraw(self) -> None:
        snap, self._pending = self._pending, None
        if snap is not None:
            self.show_snapshot(snap)
        self._mark_drawn()

    def paint_cpu_s(self) -> float:
        return self.diagram.paint_s

    def show_snapshot(self, snap: NetworkSnapshot) -> None:
        self.diagram.show_snapshot(snap)
        flags = [f"{layer['name']}: {len(layer['dead'])} dead" for layer in snap.flags() if layer["dead"]]
        flags += [
            f"{layer['name']}: {len(layer['saturated'])} saturated" for layer in snap.flags() if layer["saturated"]
        ]
        what = {
            "plane": "each neuron's output over the input plane",
            "image": "first-layer weights as images, deeper neurons' mean output per class (bars)",
            "features": "each neuron's mean output per class (bars)",
        }[snap.kind]
        self.info.setText(
            f"{snap.run_id}: step {snap.step}, epoch {snap.epoch} — {what}"
            + (f" · {'; '.join(flags)}" if flags else " · no dead or saturated units")
        )

    def on_run_started(self, run_id: str, config) -> None:
        self.run_id = run_id
        self._pending = None
        self.diagram.set_points(None)
        self._sync_controls()
        self.info.setText(f"{run_id}: waiting for the first pictures…")

    def _on_diagram_moved(self, _pos) -> None:
        self.hover_label.setText(self.diagram.hover_text or " ")

    # -- sessions ----------------------------------------------------------------------------
    def load_session(self, session) -> None:
        for rec in session.runs:
            snaps = self.read_saved(rec, "network view", lambda r=rec: from_record(r))
            if not snaps:
                continue
            self.run_id = rec.name
            points = None
            if snaps[-1].kind == "plane":
                points = saved_points(rec, snaps[-1])
            self.diagram.set_points(points)
            self.show_snapshot(snaps[-1])
            return


def saved_points(rec, snap: NetworkSnapshot) -> BoundaryPoints | None:
    """A saved run's 2D points, rebuilt from its config (None when its data cannot be loaded)."""
    from engine.data import load_data

    try:
        data = load_data(rec.config)
    except ValueError:
        return None
    return BoundaryPoints.of(rec.name, data, snap.extent)
