"""NetworkSnapshot: what every neuron of the network computes at one step, both the live event
of the network view and what a session stores (the last one of a run).

Layers run input → output: the inputs, each hidden layer (a conv block counts as one, its
channels as units), the output. Each layer has one picture per unit, of a kind:
  "plane"  (U, G, G)     the unit's output over the G×G grid of the input plane (2D data):
                         the input features, each hidden unit after its activation, the
                         output's class probabilities; row i is y_i, column j is x_j
  "image"  (U, H, W)     first-layer weights (or conv filters) as gray images; the input
                         layer's one unit is the samples' mean image
  "rgb"    (U, H, W, 3)  the same for colour images
  "bars"   (U, C)        the unit's mean output over the samples of each class

`to_record` / `from_record` convert the last snapshot to and from a RunRecord's members:
  network/<i>/picture      float32, the pictures of layer i's first S ≤ U units (shapes above;
                           S = min(U, network.max_units))
  network/<i>/dead         uint8 (U,) 1 = the unit never fires (ReLU-like: never positive)
  network/<i>/saturated    uint8 (U,) 1 = the unit sits at its asymptotes (±1, 0/1) almost everywhere
  network/<i>/weights      float32 (S, S_prev) for i ≥ 1: the signed strength of each connection
                           between the units with pictures
  network/<i>/bias         float32 (S,) for i ≥ 1
  meta["network"]          kind, step, epoch, activation, extent, class_names,
                           layers [{name, units, picture, labels}]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine.events import Event
from engine.session.snapshot import meta_section, read_array, read_meta, same_values

if TYPE_CHECKING:
    from engine.session.record import RunRecord

KEY = "network"
PICTURES = ("plane", "image", "rgb", "bars")
Extent = tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class LayerPictures:
    """One layer of the drawn network: its units' flags, and the pictures, incoming weights
    and biases of its first S units (all of them unless the layer is wider than
    network.max_units)."""

    name: str  # "inputs", "hidden 1", "conv 1", "output"
    picture: str  # one of PICTURES
    pictures: np.ndarray  # (S, ...) float32
    dead: np.ndarray  # (U,) bool
    saturated: np.ndarray  # (U,) bool
    weights: np.ndarray  # (S, S_prev) float32; (S, 0) for the inputs
    bias: np.ndarray  # (S,) float32; zeros for the inputs
    labels: tuple[str, ...] = ()  # unit names where they have one (input features, classes)

    __eq__ = same_values

    @property
    def units(self) -> int:
        """The layer's width."""
        return int(self.dead.shape[0])

    @property
    def drawn(self) -> int:
        """How many of its units have a picture."""
        return int(self.pictures.shape[0])


@dataclass(frozen=True, eq=False)
class NetworkSnapshot(Event):
    """Every layer's pictures after `step`; `extent` is the plane's (x0, x1, y0, y1) ("plane"
    kind) and `class_names` the classes of the "bars" pictures."""

    step: int
    epoch: int
    kind: str  # "plane" (2D data) or "image"
    activation: str
    extent: Extent
    class_names: tuple[str, ...]
    layers: tuple[LayerPictures, ...]

    droppable: ClassVar[bool] = True  # a newer snapshot supersedes a queued one

    __eq__ = same_values

    def flags(self) -> list[dict[str, Any]]:
        """Per hidden or output layer: its name, units and the indices of dead and saturated units."""
        return [
            {
                "name": layer.name,
                "units": layer.units,
                "dead": [int(i) for i in np.flatnonzero(layer.dead)],
                "saturated": [int(i) for i in np.flatnonzero(layer.saturated)],
            }
            for layer in self.layers[1:]
        ]


def to_record(snaps: Sequence[NetworkSnapshot]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The run record's arrays and meta entries of the last snapshot (none for no snapshots)."""
    if not snaps:
        return {}, {}
    last = snaps[-1]
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for i, layer in enumerate(last.layers):
        p = f"{KEY}/{i}"
        arrays[f"{p}/picture"] = np.ascontiguousarray(layer.pictures, dtype=np.float32)
        arrays[f"{p}/dead"] = layer.dead.astype(np.uint8)
        arrays[f"{p}/saturated"] = layer.saturated.astype(np.uint8)
        if i:
            arrays[f"{p}/weights"] = np.ascontiguousarray(layer.weights, dtype=np.float32)
            arrays[f"{p}/bias"] = np.ascontiguousarray(layer.bias, dtype=np.float32)
        layers.append(
            {
                "name": layer.name,
                "units": layer.units,
                "drawn": layer.drawn,
                "picture": layer.picture,
                "labels": list(layer.labels),
            }
        )
    meta = {
        "kind": last.kind,
        "step": last.step,
        "epoch": last.epoch,
        "activation": last.activation,
        "extent": list(last.extent),
        "class_names": list(last.class_names),
        "layers": layers,
    }
    return arrays, {KEY: meta}


def _picture_shape(kind: str, units: int) -> tuple[int | None, ...]:
    if kind == "rgb":
        return (units, None, None, 3)
    if kind in ("plane", "image"):
        return (units, None, None)
    return (units, None)


def from_record(record: RunRecord) -> list[NetworkSnapshot]:
    """A saved run's last network snapshot (none when it has none); a malformed record
    raises ValueError naming the member."""
    if f"{KEY}/0/picture" not in record.arrays:
        return []
    meta = meta_section(record.meta, KEY)
    kind = read_meta(meta, "kind", str, KEY)
    extent = read_meta(meta, "extent", list, KEY)
    if len(extent) != 4 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in extent):
        raise ValueError(f"'{KEY}.extent' is {extent!r}, not [x0, x1, y0, y1]")
    entries = read_meta(meta, "layers", list, KEY)
    layers: list[LayerPictures] = []
    prev = 0
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"'{KEY}.layers[{i}]' is not a JSON object")
        where = f"{KEY}.layers[{i}]"
        units = int(read_meta(entry, "units", int, where))
        drawn = int(read_meta(entry, "drawn", int, where))
        if not 0 < drawn <= units:
            raise ValueError(f"'{where}.drawn' is {drawn}, not in [1, {units}]")
        picture = read_meta(entry, "picture", str, where)
        if picture not in PICTURES:
            raise ValueError(f"'{where}.picture' is {picture!r}, not one of {'|'.join(PICTURES)}")
        p = f"{KEY}/{i}"
        a = record.arrays
        pics = read_array(a, f"{p}/picture", _picture_shape(picture, drawn))
        weights = read_array(a, f"{p}/weights", (drawn, prev)) if i else np.zeros((drawn, 0), np.float32)
        bias = read_array(a, f"{p}/bias", (drawn,)) if i else np.zeros(drawn, np.float32)
        labels = entry.get("labels", [])
        layers.append(
            LayerPictures(
                str(read_meta(entry, "name", str, where)),
                picture,
                pics.astype(np.float32),
                read_array(a, f"{p}/dead", (units,)).astype(bool),
                read_array(a, f"{p}/saturated", (units,)).astype(bool),
                weights.astype(np.float32),
                bias.astype(np.float32),
                tuple(str(s) for s in labels) if isinstance(labels, list) else (),
            )
        )
        prev = drawn
    if not layers:
        raise ValueError(f"'{KEY}.layers' is empty")
    names = meta.get("class_names", [])
    x0, x1, y0, y1 = (float(v) for v in extent)
    return [
        NetworkSnapshot(
            record.name,
            int(read_meta(meta, "step", int, KEY)),
            int(read_meta(meta, "epoch", int, KEY)),
            str(kind),
            str(meta.get("activation", "")),
            (x0, x1, y0, y1),
            tuple(str(n) for n in names) if isinstance(names, list) else (),
            tuple(layers),
        )
    ]


def summarize_network(record: RunRecord) -> dict[str, Any]:
    """What `descent info` lists: per layer, its units and which are dead or saturated."""
    snaps = from_record(record)
    if not snaps:
        return {}
    s = snaps[-1]
    return {"network": {"step": s.step, "kind": s.kind, "activation": s.activation, "layers": s.flags()}}
