"""GradientNoiseSnapshot: one measurement of the minibatch gradients' noise, per layer and
batch size, both the live event and what a session stores.

`to_record` / `from_record` convert the measurements of a run to and from a RunRecord:
  gradient_noise/steps      (T,) int64 the steps measured at
  gradient_noise/rel_var    (T, B, L) float64 E‖g_B − G‖²/‖G‖²
  gradient_noise/cosine     (T, B, L) float64 E cos(g_B, G)
  meta["gradient_noise"]    layers (L labels), batch_sizes (B), samples N, draws
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.events import Event
from engine.session.snapshot import meta_section, read_array, read_meta, same_values

if TYPE_CHECKING:
    from engine.session.record import RunRecord

KEY = "gradient_noise"


@dataclass(frozen=True, eq=False)
class GradientNoiseSnapshot(Event):
    """The noise of minibatch gradients at `step`: rows are batch sizes, columns layers."""

    step: int
    layers: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    samples: int  # N, the subset whose full-batch gradient is the reference
    draws: int  # minibatches drawn per batch size
    rel_var: np.ndarray  # (B, L)
    cosine: np.ndarray  # (B, L)

    __eq__ = same_values


def to_record(snaps: Sequence[GradientNoiseSnapshot]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The run record's arrays and meta entry (none for no measurements)."""
    if not snaps:
        return {}, {}
    last = snaps[-1]
    arrays = {
        f"{KEY}/steps": np.array([s.step for s in snaps], dtype=np.int64),
        f"{KEY}/rel_var": np.stack([s.rel_var for s in snaps]).astype(np.float64),
        f"{KEY}/cosine": np.stack([s.cosine for s in snaps]).astype(np.float64),
    }
    meta = {
        "layers": list(last.layers),
        "batch_sizes": list(last.batch_sizes),
        "samples": last.samples,
        "draws": last.draws,
    }
    return arrays, {KEY: meta}


def from_record(record: RunRecord) -> list[GradientNoiseSnapshot]:
    """A saved run's measurements (none when it has none, as in files before format 4); a
    malformed record raises ValueError naming the member."""
    return from_members(record.name, record.arrays, record.meta)


def from_members(
    name: str, arrays: Mapping[str, np.ndarray], run_meta: Mapping[str, Any]
) -> list[GradientNoiseSnapshot]:
    """from_record on a record's arrays and meta (also a hook state's)."""
    if f"{KEY}/steps" not in arrays:
        return []
    meta = meta_section(run_meta, KEY)
    layers = read_meta(meta, "layers", list, KEY)
    sizes = read_meta(meta, "batch_sizes", list, KEY)
    if not all(isinstance(v, str) for v in layers) or not all(isinstance(v, int) and v > 0 for v in sizes):
        raise ValueError(f"'{KEY}.layers' or '{KEY}.batch_sizes' is malformed")
    steps = read_array(arrays, f"{KEY}/steps", (None,))
    t, b, n_layers = len(steps), len(sizes), len(layers)
    rel = read_array(arrays, f"{KEY}/rel_var", (t, b, n_layers))
    cos = read_array(arrays, f"{KEY}/cosine", (t, b, n_layers))
    samples = int(read_meta(meta, "samples", int, KEY))
    draws = int(read_meta(meta, "draws", int, KEY))
    return [
        GradientNoiseSnapshot(name, int(steps[i]), tuple(layers), tuple(sizes), samples, draws, rel[i], cos[i])
        for i in range(t)
    ]
