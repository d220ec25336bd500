"""WeightNormSnapshot: the L2 norm of every weight layer at one step, both the live event
and (as rows of two arrays) what a session stores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.events import Event
from engine.session.snapshot import meta_section, read_array

if TYPE_CHECKING:
    from engine.session.record import RunRecord

KEY = "weightnorm"


@dataclass(frozen=True)
class WeightNormSnapshot(Event):
    """‖W‖₂ of each layer in `layers` (weight matrices and kernels, forward order) after `step` steps."""

    step: int
    layers: tuple[str, ...]
    norms: np.ndarray  # float64 (layers,)


def to_record(snaps: Sequence[WeightNormSnapshot]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays weightnorm/steps (n,) and weightnorm/norms (n, layers); meta: the layer names."""
    if not snaps:
        return {}, {}
    arrays = {
        f"{KEY}/steps": np.array([s.step for s in snaps], dtype=np.int64),
        f"{KEY}/norms": np.stack([s.norms for s in snaps]).astype(np.float64),
    }
    return arrays, {KEY: {"layers": list(snaps[0].layers)}}


def from_record(record: RunRecord) -> list[WeightNormSnapshot]:
    """A saved run's snapshots (none when it has no weight norms); a malformed member
    raises ValueError naming it."""
    if f"{KEY}/steps" not in record.arrays:
        return []
    layers = meta_section(record.meta, KEY).get("layers")
    if not isinstance(layers, list) or not all(isinstance(n, str) for n in layers):
        raise ValueError(f"meta '{KEY}.layers' is {layers!r}, expected a list of layer names")
    steps = read_array(record.arrays, f"{KEY}/steps", (None,), "iu")
    norms = read_array(record.arrays, f"{KEY}/norms", (len(steps), len(layers)), "f")
    names = tuple(layers)
    return [WeightNormSnapshot(record.name, int(s), names, norms[i].astype(np.float64)) for i, s in enumerate(steps)]
