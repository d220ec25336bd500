"""BoundarySnapshot: the classifier's class probabilities over the input plane at one step,
both the live event and what a session stores; BoundaryPoints: the data drawn under it.

`to_record` / `from_record` convert snapshots to and from a RunRecord's members (the last
grid is stored):
  decision_boundary/probs     (G, G, C) float32, row i is y_i, column j is x_j
  meta["decision_boundary"]   extent [x0, x1, y0, y1], resolution G, step
The epoch of a saved grid is the run's last (record.final["epochs"]). The points are not
stored: they are the run's data, which its config rebuilds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine.events import Event
from engine.session.snapshot import meta_section, read_array, read_meta, same_values

if TYPE_CHECKING:
    from engine.data import DataBundle
    from engine.session.record import RunRecord

KEY = "decision_boundary"
Extent = tuple[float, float, float, float]  # x0, x1, y0, y1


@dataclass(frozen=True, eq=False)
class BoundarySnapshot(Event):
    """The probabilities (G, G, C) over a G×G grid covering `extent`, after `step`."""

    step: int
    epoch: int
    extent: Extent
    probs: np.ndarray  # (G, G, C) float32

    droppable: ClassVar[bool] = True  # a newer grid supersedes a queued one

    __eq__ = same_values

    @property
    def resolution(self) -> int:
        return int(self.probs.shape[0])


@dataclass(frozen=True, eq=False)
class BoundaryPoints(Event):
    """The training and validation points of a 2D data set, drawn under the grids."""

    extent: Extent
    class_names: tuple[str, ...]
    x_train: np.ndarray  # (N, 2)
    y_train: np.ndarray  # (N,)
    x_val: np.ndarray
    y_val: np.ndarray

    __eq__ = same_values

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @classmethod
    def of(cls, run_id: str, data: DataBundle, extent: Sequence[float]) -> BoundaryPoints:
        """The points of a run's data (on any device), in the (x1, x2) plane."""
        plane = data.plane
        return cls(
            run_id,
            _extent(extent),
            tuple(str(n) for n in data.class_names),
            plane.x_train.astype(np.float32) if plane is not None else data.x_train.cpu().numpy(),
            data.y_train.cpu().numpy(),
            plane.x_val.astype(np.float32) if plane is not None else data.x_val.cpu().numpy(),
            data.y_val.cpu().numpy(),
        )


def _extent(values: Sequence[float]) -> Extent:
    x0, x1, y0, y1 = (float(v) for v in values)
    return (x0, x1, y0, y1)


def to_record(snaps: Sequence[BoundarySnapshot]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The run record's arrays and meta entries of the last grid (none for no snapshots)."""
    if not snaps:
        return {}, {}
    last = snaps[-1]
    meta = {"extent": list(last.extent), "resolution": last.resolution, "step": last.step}
    return {f"{KEY}/probs": last.probs}, {KEY: meta}


def from_record(record: RunRecord) -> list[BoundarySnapshot]:
    """A saved run's last grid (none when it has none); a malformed record raises
    ValueError naming the member."""
    if f"{KEY}/probs" not in record.arrays:
        return []
    meta = meta_section(record.meta, KEY)
    g = int(read_meta(meta, "resolution", int, KEY))
    extent = read_meta(meta, "extent", list, KEY)
    if len(extent) != 4 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in extent):
        raise ValueError(f"'{KEY}.extent' is {extent!r}, not [x0, x1, y0, y1]")
    probs = read_array(record.arrays, f"{KEY}/probs", (g, g, None))
    epoch = record.final.get("epochs", 0)
    return [
        BoundarySnapshot(
            record.name,
            int(read_meta(meta, "step", int, KEY)),
            int(epoch) if isinstance(epoch, (int, float)) and epoch == epoch else 0,
            _extent(extent),
            probs,
        )
    ]
