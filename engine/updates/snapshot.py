"""UpdateSnapshot: what one probed optimizer step did to each weight layer and what the
optimizer carries for it; the live event and what a session stores.

`to_record` / `from_members` convert the snapshots of a run to and from a RunRecord:
  updates/steps         (T,) int64 the probed steps (the step's number after it was taken)
  updates/update_norm   (T, L) float64 ‖Δw‖ of each weight layer over that step
  updates/weight_norm   (T, L) float64 ‖w‖ before the step
  updates/state         (T, K, L) float64 the optimizer-state statistics (meta state_names)
  meta["updates"]       layers (L labels), optimizer, state_names (K keys of STATE_STATS), every
The ratio ‖Δw‖/‖w‖ is update_norm / weight_norm.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.events import Event
from engine.session.snapshot import meta_section, read_array, read_meta, same_values

if TYPE_CHECKING:
    from engine.session.record import RunRecord

KEY = "updates"
STATE_STATS: dict[str, str] = {
    "velocity": "velocity ‖v‖ (momentum buffer)",
    "exp_avg": "first moment ‖m‖",
    "exp_avg_sq_rms": "second moment RMS √v",
    "adam_step": "Adam step |lr·m/(√v+ε)|, bias-corrected (mean)",
    "square_avg_rms": "RMSprop RMS √E[g²]",
    "sum_rms": "Adagrad RMS √Σg²",
}
"""The optimizer-state statistics (engine/updates/measure.py reads them), in their stored
order, with what the views call them."""
STATE_KEYS = tuple(STATE_STATS)


@dataclass(frozen=True, eq=False)
class UpdateSnapshot(Event):
    """One probed step: per weight layer, the update's norm, the weights' norm before it, and
    the optimizer's state statistics (rows: state_names)."""

    step: int
    every: int  # steps between two probes when it was taken
    layers: tuple[str, ...]
    optimizer: str  # the torch.optim class
    state_names: tuple[str, ...]  # STATE_KEYS this optimizer has (none for plain SGD)
    update_norm: np.ndarray  # (L,)
    weight_norm: np.ndarray  # (L,)
    state: np.ndarray  # (K, L)

    __eq__ = same_values

    @property
    def update_ratio(self) -> np.ndarray:
        """‖Δw‖/‖w‖ per layer (NaN for a zero weight norm)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.weight_norm > 0, self.update_norm / self.weight_norm, np.nan)


def to_record(snaps: Sequence[UpdateSnapshot]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The run record's arrays and meta entry (none for no snapshots)."""
    if not snaps:
        return {}, {}
    last = snaps[-1]
    same = [s for s in snaps if s.layers == last.layers]
    # The optimizer may have been switched during the run: every statistic any snapshot has,
    # NaN where one lacks it.
    names = tuple(k for k in STATE_KEYS if any(k in s.state_names for s in same))
    state = np.full((len(same), len(names), len(last.layers)), np.nan)
    for i, s in enumerate(same):
        for k, name in enumerate(s.state_names):
            state[i, names.index(name)] = s.state[k]
    arrays = {
        f"{KEY}/steps": np.array([s.step for s in same], dtype=np.int64),
        f"{KEY}/update_norm": np.stack([s.update_norm for s in same]).astype(np.float64),
        f"{KEY}/weight_norm": np.stack([s.weight_norm for s in same]).astype(np.float64),
        f"{KEY}/state": state,
    }
    meta = {
        "layers": list(last.layers),
        "optimizer": last.optimizer,
        "state_names": list(names),
        "every": last.every,
    }
    return arrays, {KEY: meta}


def from_record(record: RunRecord) -> list[UpdateSnapshot]:
    """A saved run's snapshots (none when it has none, as in files before format 5); a
    malformed record raises ValueError naming the member."""
    return from_members(record.name, record.arrays, record.meta)


def from_members(name: str, arrays: Mapping[str, np.ndarray], run_meta: Mapping[str, Any]) -> list[UpdateSnapshot]:
    """from_record on a record's arrays and meta (also a hook state's)."""
    if f"{KEY}/steps" not in arrays:
        return []
    meta = meta_section(run_meta, KEY)
    layers = read_meta(meta, "layers", list, KEY)
    names = read_meta(meta, "state_names", list, KEY)
    optimizer = read_meta(meta, "optimizer", str, KEY)
    every = int(read_meta(meta, "every", int, KEY))
    if not all(isinstance(v, str) for v in layers):
        raise ValueError(f"'{KEY}.layers' is malformed")
    if not all(isinstance(v, str) and v in STATE_KEYS for v in names) or len(set(names)) != len(names):
        raise ValueError(f"'{KEY}.state_names' is malformed (each one of {', '.join(STATE_KEYS)}, once)")
    steps = read_array(arrays, f"{KEY}/steps", (None,))
    t, n_layers = len(steps), len(layers)
    upd = read_array(arrays, f"{KEY}/update_norm", (t, n_layers))
    wn = read_array(arrays, f"{KEY}/weight_norm", (t, n_layers))
    st = read_array(arrays, f"{KEY}/state", (t, len(names), n_layers))
    return [
        UpdateSnapshot(
            name,
            int(steps[i]),
            every,
            tuple(layers),
            optimizer,
            tuple(names),
            np.asarray(upd[i], dtype=np.float64),
            np.asarray(wn[i], dtype=np.float64),
            np.asarray(st[i], dtype=np.float64),
        )
        for i in range(t)
    ]


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def summarize_updates(record: RunRecord) -> dict[str, Any]:
    """For `descent info`: every snapshot's per-layer values, keyed by layer (empty when the
    run has none); a malformed record gives {"updates": {"error": ...}}."""
    try:
        snaps = from_record(record)
    except ValueError as e:
        return {KEY: {"error": str(e)}}
    if not snaps:
        return {}
    last = snaps[-1]
    return {
        KEY: {
            "optimizer": last.optimizer,
            "layers": list(last.layers),
            "state_names": list(last.state_names),
            "steps": [s.step for s in snaps],
            "update_norm": [[_num(v) for v in s.update_norm] for s in snaps],
            "update_ratio": [[_num(v) for v in s.update_ratio] for s in snaps],
            "state": {name: [[_num(v) for v in s.state[k]] for s in snaps] for k, name in enumerate(last.state_names)},
        }
    }


def updates_csv(record: RunRecord) -> str | None:
    """One row per probed step and layer: step, layer, ‖Δw‖, ‖w‖, ratio, then each state
    statistic (None when the run has none; ValueError for a malformed record)."""
    snaps = from_record(record)
    if not snaps:
        return None
    names = list(snaps[-1].state_names)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["step", "layer", "update_norm", "weight_norm", "update_ratio", *names])
    for s in snaps:
        ratio = s.update_ratio
        for j, layer in enumerate(s.layers):
            values = [s.update_norm[j], s.weight_norm[j], ratio[j], *(s.state[k, j] for k in range(len(names)))]
            w.writerow([s.step, layer, *("" if not math.isfinite(v) else repr(float(v)) for v in values)])
    return buf.getvalue()
