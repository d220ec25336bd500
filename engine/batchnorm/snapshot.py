"""BatchNormSnapshot: batch vs running statistics of every batch-norm layer, recorded since
the previous snapshot, both the live event and what a session stores.

`to_record` / `from_record` convert a list of snapshots to and from a RunRecord's members:
  batchnorm/steps                         (T,) int64 the sampled steps
  batchnorm/batch_mean, batch_var         (T, L, U) float32 the minibatch's statistics of U units
  batchnorm/running_mean, running_var     (T, L, U) float32 the running estimates after the step
  batchnorm/mean_gap, var_ratio           (T, L) float32 |μ_B − μ̂|/σ̂ and σ²_B/σ̂², mean over all units
  batchnorm/epochs                        (E, 5) float64 epoch, validation loss and accuracy with
                                          running estimates, then with each batch's statistics
  meta["batchnorm"]                       layers, units, batch_size, every, expected_gap
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.events import Event
from engine.session.snapshot import meta_section, read_array, read_meta, same_values

if TYPE_CHECKING:
    from engine.session.record import RunRecord

PREFIX = "batchnorm"
UNIT_STATS = ("batch_mean", "batch_var", "running_mean", "running_var")  # (T, L, U) each
LAYER_STATS = ("mean_gap", "var_ratio")  # (T, L) each
EPOCH_COLUMNS = ("epoch", "val_loss_running", "val_acc_running", "val_loss_batch", "val_acc_batch")


def expected_gap(batch_size: int) -> float:
    """E|μ_B − μ|/σ for Gaussian inputs: √(2/π)/√B."""
    return math.sqrt(2.0 / math.pi) / math.sqrt(max(1, batch_size))


@dataclass(frozen=True, eq=False)
class BatchNormSnapshot(Event):
    """T sampled steps and E epoch evaluations (either may be none) of the L batch-norm
    layers named in `layers`, U units each."""

    layers: tuple[str, ...]  # where each layer sits ("hidden layer 2, before the activation (32 units)")
    units: int
    batch_size: int
    every: int  # steps between two samples
    steps: np.ndarray  # (T,) int64
    batch_mean: np.ndarray  # (T, L, U) float32
    batch_var: np.ndarray
    running_mean: np.ndarray
    running_var: np.ndarray
    mean_gap: np.ndarray  # (T, L) float32
    var_ratio: np.ndarray
    epochs: np.ndarray  # (E, 5) float64, columns EPOCH_COLUMNS

    __eq__ = same_values

    @property
    def expected_gap(self) -> float:
        return expected_gap(self.batch_size)


def to_record(snaps: Sequence[BatchNormSnapshot]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The run record's arrays and meta entries of these snapshots (none for no snapshots);
    layers and settings are the last snapshot's."""
    if not snaps:
        return {}, {}
    last = snaps[-1]
    n_layers, units = len(last.layers), last.units
    sampled = [s for s in snaps if len(s.steps)]
    arrays = {f"{PREFIX}/steps": np.concatenate([np.zeros(0, np.int64), *(s.steps for s in sampled)])}
    for k in UNIT_STATS:
        empty = np.zeros((0, n_layers, units), np.float32)
        arrays[f"{PREFIX}/{k}"] = np.ascontiguousarray(np.concatenate([empty, *(getattr(s, k) for s in sampled)]))
    for k in LAYER_STATS:
        empty = np.zeros((0, n_layers), np.float32)
        arrays[f"{PREFIX}/{k}"] = np.ascontiguousarray(np.concatenate([empty, *(getattr(s, k) for s in sampled)]))
    arrays[f"{PREFIX}/epochs"] = np.concatenate([np.zeros((0, 5)), *(s.epochs for s in snaps)]).astype(np.float64)
    meta = {
        "layers": list(last.layers),
        "units": units,
        "batch_size": last.batch_size,
        "every": last.every,
        "expected_gap": last.expected_gap,
    }
    return arrays, {PREFIX: meta}


def from_record(record: RunRecord) -> list[BatchNormSnapshot]:
    """A saved run's batch-norm statistics as one snapshot (none when it has none); a
    malformed record raises ValueError naming the member."""
    a = record.arrays
    if f"{PREFIX}/steps" not in a:
        return []
    meta = meta_section(record.meta, PREFIX)
    names = read_meta(meta, "layers", list, PREFIX)
    units = int(read_meta(meta, "units", int, PREFIX))
    steps = read_array(a, f"{PREFIX}/steps", (None,), kinds="iu")
    t, n_layers = len(steps), len(names)
    return [
        BatchNormSnapshot(
            record.name,
            tuple(str(n) for n in names),
            units,
            int(read_meta(meta, "batch_size", int, PREFIX)),
            int(read_meta(meta, "every", int, PREFIX)),
            steps,
            **{k: read_array(a, f"{PREFIX}/{k}", (t, n_layers, units)) for k in UNIT_STATS},
            **{k: read_array(a, f"{PREFIX}/{k}", (t, n_layers)) for k in LAYER_STATS},
            epochs=read_array(a, f"{PREFIX}/epochs", (None, 5)),
        )
    ]
