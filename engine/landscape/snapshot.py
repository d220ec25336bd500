"""LandscapeSnapshot: parameter snapshots along the optimizer's path and sharpness estimates
recorded since the previous snapshot, both the live event and what a session stores.

`to_record` / `from_record` convert a list of snapshots to and from a RunRecord's members:
  landscape/trajectory          (K, P) float32 the flat parameters at each snapshot
  landscape/trajectory_steps    (K,) int64
  landscape/sharpness           (S, 4) float64 epoch, step, λ_max, lr (when estimated)
  meta["landscape"]             param_names, n_params; snapshot_every and thinned with a
                                trajectory; sharpness_columns with sharpness
Other "landscape/..." members (surfaces, lines) belong to the jobs that compute them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.events import Event
from engine.session.snapshot import meta_section, read_array, read_meta, same_values

if TYPE_CHECKING:
    from engine.session.record import RunRecord

KEY = "landscape"
SHARPNESS_COLUMNS = ("epoch", "step", "lambda_max", "lr")


@dataclass(frozen=True, eq=False)
class LandscapeSnapshot(Event):
    """K new path snapshots and S new sharpness estimates (either may be none). `every` is
    the snapshot interval then (0: the run records no path); it doubles each time the
    stored path is thinned (`thinned` times so far)."""

    param_names: tuple[str, ...]
    n_params: int
    every: int
    thinned: int
    steps: np.ndarray  # (K,) int64
    params: np.ndarray  # (K, n_params) float32
    sharpness: np.ndarray  # (S, 4) float64, columns SHARPNESS_COLUMNS

    __eq__ = same_values

    @property
    def two_over_lr(self) -> np.ndarray:
        """2/lr of each sharpness estimate: gradient descent is stable while λ_max < 2/lr."""
        return 2.0 / self.sharpness[:, 3]


def to_record(snaps: Sequence[LandscapeSnapshot]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The run record's arrays and meta entries of these snapshots (none for no snapshots).
    A snapshot at a step already stored replaces it (the weights the run ended with)."""
    if not snaps:
        return {}, {}
    last = snaps[-1]
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"param_names": list(last.param_names), "n_params": last.n_params}
    path = [s for s in snaps if s.every > 0]
    if path:
        rows: dict[int, np.ndarray] = {}
        for s in path:
            for step, row in zip(s.steps.tolist(), s.params):
                rows[int(step)] = row
        steps = np.array(sorted(rows), dtype=np.int64)
        arrays[f"{KEY}/trajectory"] = (
            np.stack([rows[k] for k in steps.tolist()]).astype(np.float32, copy=False)
            if len(steps)
            else np.zeros((0, last.n_params), np.float32)
        )
        arrays[f"{KEY}/trajectory_steps"] = steps
        meta["snapshot_every"] = path[-1].every
        meta["thinned"] = path[-1].thinned
    sharpness = [s.sharpness for s in snaps if len(s.sharpness)]
    if sharpness:
        arrays[f"{KEY}/sharpness"] = np.concatenate(sharpness).astype(np.float64, copy=False)
        meta["sharpness_columns"] = list(SHARPNESS_COLUMNS)
    return arrays, {KEY: meta}


def from_record(record: RunRecord) -> list[LandscapeSnapshot]:
    """A saved run's path and sharpness as one snapshot (none when the run recorded neither);
    a malformed record raises ValueError naming the member."""
    a = record.arrays
    if f"{KEY}/trajectory" not in a and f"{KEY}/sharpness" not in a:
        return []
    meta = meta_section(record.meta, KEY)
    names = read_meta(meta, "param_names", list, KEY)
    n_params = int(read_meta(meta, "n_params", int, KEY))
    every = thinned = 0
    steps, params = np.zeros(0, np.int64), np.zeros((0, n_params), np.float32)
    if f"{KEY}/trajectory" in a:
        params = read_array(a, f"{KEY}/trajectory", (None, n_params), kinds="f")
        steps = read_array(a, f"{KEY}/trajectory_steps", (len(params),), kinds="iu")
        every = int(read_meta(meta, "snapshot_every", int, KEY))
        thinned = int(read_meta(meta, "thinned", int, KEY))
    sharpness = read_array(a, f"{KEY}/sharpness", (None, 4)) if f"{KEY}/sharpness" in a else np.zeros((0, 4))
    return [
        LandscapeSnapshot(record.name, tuple(str(n) for n in names), n_params, every, thinned, steps, params, sharpness)
    ]
