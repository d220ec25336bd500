"""ProbeSnapshot: one probe of a run (per-layer statistics of activations, their gradients,
weight gradients and weights), both the live event and what a session stores.

`to_record` / `from_record` convert a list of snapshots to and from a RunRecord's members:
  probes/steps                 (N,) int64
  probes/<group>/<stat>        (N, L) per layer; hist (N, L, bins) float32, range (N, L, 2)
  probes/update_ratio          (N, W) ‖ΔW‖/‖W‖ per weight layer
  probes/prelu_slope           (N, A) PReLU slope per activation layer (NaN for other kinds)
  meta["probes"]               the probed layers, bins, probe batch size, probe interval
with <group> one of GROUPS and L its layer count (A activation layers or W weight layers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.events import Event
from engine.session.snapshot import meta_section, read_array, read_meta, same_values

if TYPE_CHECKING:
    from engine.session.record import RunRecord

GROUPS = ("act", "agrad", "grad", "weight")  # activations, their gradients, weight gradients, weights
GROUP_LAYERS = {"act": "activations", "agrad": "activations", "grad": "weights", "weight": "weights"}
STATS = ("hist", "range", "mean", "std", "norm", "count", "nonfinite")
EXTRAS = ("saturated", "dead", "unit_spread")  # activations only
PREFIX = "probes"


@dataclass(frozen=True, eq=False)
class LayerStats:
    """One group's statistics over its L layers (arrays over layers)."""

    hist: np.ndarray  # (L, bins) counts of the finite values
    range: np.ndarray  # (L, 2) the histogram's range
    mean: np.ndarray  # (L,)
    std: np.ndarray  # (L,)
    norm: np.ndarray  # (L,) L2 norm of the finite values
    count: np.ndarray  # (L,) number of values
    nonfinite: np.ndarray  # (L,) number of NaN/Inf values
    saturated: np.ndarray | None = None  # (L,) fraction near a bound (saturating activations)
    dead: np.ndarray | None = None  # (L,) fraction of units never positive (ReLU family)
    unit_spread: np.ndarray | None = None  # (L,) spread across units (symmetry indicator)

    __eq__ = same_values

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> LayerStats:
        """From {stat: array} (a probe's summary as a dict); extras may be absent."""
        return cls(
            **{k: np.asarray(arrays[k]) for k in STATS},
            **{k: np.asarray(arrays[k]) for k in EXTRAS if k in arrays},
        )

    @classmethod
    def empty(cls, n: int, bins: int) -> LayerStats:
        """No values (a group not measured at this probe): empty histograms, NaN statistics."""
        nan = np.full(n, math.nan)
        return cls(
            hist=np.zeros((n, bins), np.float32),
            range=np.full((n, 2), math.nan),
            mean=nan,
            std=nan.copy(),
            norm=nan.copy(),
            count=np.zeros(n),
            nonfinite=np.zeros(n),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """{stat: array} of the statistics it has, in the stored order."""
        out = {k: getattr(self, k) for k in STATS}
        out.update({k: v for k in EXTRAS if (v := getattr(self, k)) is not None})
        return out

    def __len__(self) -> int:
        return int(self.hist.shape[0])


@dataclass(frozen=True)
class ProbedLayer:
    """One watched module: its qualified name in the model, what it is, its position."""

    name: str
    kind: str
    index: int

    @property
    def label(self) -> str:
        return f"{self.kind} {self.index + 1}"

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "index": self.index, "label": self.label}


@dataclass(frozen=True)
class ProbedLayers:
    """What a run's probes watch: the activation and weight layers, and how."""

    activations: tuple[ProbedLayer, ...]
    weights: tuple[ProbedLayer, ...]
    bins: int
    probe_batch: int

    def of(self, group: str) -> tuple[ProbedLayer, ...]:
        """The layers of a group (act/agrad: activations; grad/weight: weights)."""
        return self.activations if GROUP_LAYERS[group] == "activations" else self.weights

    def labels(self, group: str) -> list[str]:
        return [layer.label for layer in self.of(group)]

    def kinds(self, group: str) -> list[str]:
        return [layer.kind for layer in self.of(group)]

    def to_json(self, every: int) -> dict[str, Any]:
        return {
            "activations": [layer.to_json() for layer in self.activations],
            "weights": [layer.to_json() for layer in self.weights],
            "every": every,
            "bins": self.bins,
            "probe_batch": self.probe_batch,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str = "probes") -> ProbedLayers:
        def layers(key: str) -> tuple[ProbedLayer, ...]:
            out = []
            for i, layer in enumerate(read_meta(d, key, list, where)):
                item = f"{where}.{key}[{i}]"
                if not isinstance(layer, dict):
                    raise ValueError(f"'{item}' is {layer!r}, not a layer")
                out.append(
                    ProbedLayer(
                        str(read_meta(layer, "name", str, item)),
                        str(read_meta(layer, "kind", str, item)),
                        int(read_meta(layer, "index", int, item)),
                    )
                )
            return tuple(out)

        return cls(
            layers("activations"),
            layers("weights"),
            int(read_meta(d, "bins", int, where)),
            int(read_meta(d, "probe_batch", int, where)),
        )


@dataclass(frozen=True, eq=False)
class ProbeSnapshot(Event):
    """One probe at `step` (0: at init); `every` is the probe interval then (it doubles
    when the stored snapshots are thinned)."""

    step: int
    every: int
    layers: ProbedLayers
    act: LayerStats
    agrad: LayerStats
    grad: LayerStats
    weight: LayerStats
    update_ratio: np.ndarray  # (W,) ‖ΔW‖/‖W‖ of the probed step (NaN without gradients)
    prelu_slope: np.ndarray  # (A,) the PReLU slope of each activation layer (NaN for other kinds)

    __eq__ = same_values

    def group(self, name: str) -> LayerStats:
        """The statistics of one of GROUPS."""
        if name not in GROUPS:
            raise KeyError(name)
        stats: LayerStats = getattr(self, name)
        return stats


def stack(snaps: Sequence[ProbeSnapshot], prefix: str = PREFIX) -> dict[str, np.ndarray]:
    """The snapshots as arrays over the snapshots: <prefix>/steps, <prefix>/<group>/<stat>, ..."""
    out = {f"{prefix}/steps": np.array([s.step for s in snaps], dtype=np.int64)}
    for g in GROUPS:
        per_snap = [s.group(g).arrays() for s in snaps]
        for key in per_snap[0]:
            if any(key not in d for d in per_snap):
                raise ValueError(f"'{prefix}/{g}/{key}' is missing from some snapshots")
            out[f"{prefix}/{g}/{key}"] = np.stack([d[key] for d in per_snap])
    out[f"{prefix}/update_ratio"] = np.stack([s.update_ratio for s in snaps])
    out[f"{prefix}/prelu_slope"] = np.stack([s.prelu_slope for s in snaps])
    return out


def unstack(
    arrays: Mapping[str, np.ndarray], layers: ProbedLayers, every: int, run_id: str, prefix: str = PREFIX
) -> list[ProbeSnapshot]:
    """What `stack` stored, checked against the layers, as the list of snapshots again."""
    steps = read_array(arrays, f"{prefix}/steps", (None,), kinds="iu")
    n = len(steps)
    a, w = len(layers.activations), len(layers.weights)
    groups: dict[str, list[LayerStats]] = {}
    for g in GROUPS:
        size = a if GROUP_LAYERS[g] == "activations" else w
        stats: dict[str, np.ndarray] = {
            "hist": read_array(arrays, f"{prefix}/{g}/hist", (n, size, layers.bins)),
            "range": read_array(arrays, f"{prefix}/{g}/range", (n, size, 2)),
        }
        for key in STATS[2:]:
            stats[key] = read_array(arrays, f"{prefix}/{g}/{key}", (n, size))
        for key in EXTRAS:
            if f"{prefix}/{g}/{key}" in arrays:
                stats[key] = read_array(arrays, f"{prefix}/{g}/{key}", (n, size))
        groups[g] = [LayerStats.from_arrays({k: v[i] for k, v in stats.items()}) for i in range(n)]
    ratio = read_array(arrays, f"{prefix}/update_ratio", (n, w))
    slope = read_array(arrays, f"{prefix}/prelu_slope", (n, a))
    return [
        ProbeSnapshot(
            run_id,
            step=int(steps[i]),
            every=every,
            layers=layers,
            act=groups["act"][i],
            agrad=groups["agrad"][i],
            grad=groups["grad"][i],
            weight=groups["weight"][i],
            update_ratio=ratio[i],
            prelu_slope=slope[i],
        )
        for i in range(n)
    ]


def to_record(snaps: Sequence[ProbeSnapshot]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The run record's arrays and meta entries of these snapshots (none for no snapshots);
    the probed layers and the interval are the last snapshot's."""
    if not snaps:
        return {}, {}
    last = snaps[-1]
    meta = last.layers.to_json(last.every)
    meta["effective_every"] = last.every
    return stack(snaps), {PREFIX: meta}


def from_record(record: RunRecord) -> list[ProbeSnapshot]:
    """A saved run's probe snapshots in step order (empty when it has none); a malformed
    record raises ValueError naming the member."""
    if f"{PREFIX}/steps" not in record.arrays:
        return []
    meta = meta_section(record.meta, PREFIX)
    layers = ProbedLayers.from_json(meta)
    every = int(read_meta(meta, "effective_every" if "effective_every" in meta else "every", int, PREFIX))
    return unstack(record.arrays, layers, every, record.name)
