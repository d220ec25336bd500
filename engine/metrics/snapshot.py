"""MetricsSnapshot: the classification metrics of one evaluation on the validation set, both
the live event and what a session stores.

`to_record` / `from_record` convert a list of snapshots (one per evaluated epoch) to and from
a RunRecord's members:
  metrics/epochs, metrics/steps                  (E,) int64
  metrics/accuracy, metrics/roc_auc_macro        (E,) float64
  metrics/precision, metrics/recall, metrics/f1  (E, C) float64 per class
  metrics/roc_auc, metrics/average_precision     (E, S) float64 per scored class
  metrics/confusion                              (E, C, C) int64 (rows: true class)
  metrics/curves/<roc|pr>_<class>                (3, points) the last evaluation's curves
  metrics/labels, metrics/probs                  (N,) int64, (N, C) float32: the last evaluation's
  meta["metrics"]                                n_classes, scored_classes, max_samples
Only the last evaluation's predictions and curves are stored: earlier snapshots read back
without them (labels, probs None; no curves).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine.events import Event
from engine.session.snapshot import meta_section, read_array, read_meta, same_values

if TYPE_CHECKING:
    from engine.session.record import RunRecord

PREFIX = "metrics"
PER_CLASS = ("precision", "recall", "f1")  # (C,) each
PER_SCORED = ("roc_auc", "average_precision")  # (S,) each, over the scored classes


@dataclass(frozen=True, eq=False)
class MetricsSnapshot(Event):
    """The metrics after epoch `epoch` (at `step`). Binary problems score class 1, others
    every class one-vs-rest (`scored_classes`); `curves` maps "roc/<c>" and "pr/<c>" to
    (3, points) arrays (x, y, threshold)."""

    epoch: int
    step: int
    n_classes: int
    accuracy: float
    roc_auc_macro: float
    confusion: np.ndarray  # (C, C) int64
    precision: np.ndarray  # (C,)
    recall: np.ndarray  # (C,)
    f1: np.ndarray  # (C,)
    roc_auc: np.ndarray  # (S,)
    average_precision: np.ndarray  # (S,)
    scored_classes: np.ndarray  # (S,) int64
    labels: np.ndarray | None = None  # (N,) int64, the validation labels evaluated
    probs: np.ndarray | None = None  # (N, C) float32, the predicted class probabilities
    curves: Mapping[str, np.ndarray] = field(default_factory=dict)
    max_samples: int = 0  # the evaluation's sample cap (metrics.max_samples)

    droppable: ClassVar[bool] = True  # a newer evaluation supersedes a queued one

    __eq__ = same_values

    @property
    def support(self) -> np.ndarray:
        """(C,) validation samples per true class."""
        return self.confusion.sum(axis=1)

    def without_predictions(self) -> MetricsSnapshot:
        """This snapshot as the record keeps it for every evaluation but the last."""
        return dataclasses.replace(self, labels=None, probs=None, curves={})


def _curve_member(name: str) -> str:
    return f"{PREFIX}/curves/{name.replace('/', '_')}"


def to_record(snaps: Sequence[MetricsSnapshot]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The run record's arrays and meta entries of these snapshots (none for no snapshots);
    predictions, curves and scored classes are the last snapshot's."""
    if not snaps:
        return {}, {}
    last = snaps[-1]
    if last.labels is None or last.probs is None:
        raise ValueError("the last metrics snapshot has no predictions to store")
    arrays: dict[str, np.ndarray] = {
        f"{PREFIX}/epochs": np.array([s.epoch for s in snaps], dtype=np.int64),
        f"{PREFIX}/steps": np.array([s.step for s in snaps], dtype=np.int64),
    }
    for k in (*PER_CLASS, *PER_SCORED, "confusion"):
        arrays[f"{PREFIX}/{k}"] = np.stack([getattr(s, k) for s in snaps])
    for k in ("accuracy", "roc_auc_macro"):
        arrays[f"{PREFIX}/{k}"] = np.array([getattr(s, k) for s in snaps], dtype=np.float64)
    for name, curve in last.curves.items():
        arrays[_curve_member(name)] = curve
    arrays[f"{PREFIX}/labels"] = last.labels
    arrays[f"{PREFIX}/probs"] = last.probs
    meta = {
        "n_classes": int(last.probs.shape[1]),
        "scored_classes": [int(c) for c in last.scored_classes],
        "max_samples": last.max_samples,
    }
    return arrays, {PREFIX: meta}


def from_record(record: RunRecord) -> list[MetricsSnapshot]:
    """A saved run's metrics, one snapshot per evaluated epoch (empty when it has none); a
    malformed record raises ValueError naming the member."""
    return read(record.arrays, record.meta, record.name)


def read(a: Mapping[str, np.ndarray], run_meta: Mapping[str, Any], run_id: str) -> list[MetricsSnapshot]:
    """What to_record wrote (its arrays and meta entries), as the snapshots again."""
    if f"{PREFIX}/epochs" not in a:
        return []
    meta = meta_section(run_meta, PREFIX)
    c = int(read_meta(meta, "n_classes", int, PREFIX))
    scored_list = read_meta(meta, "scored_classes", list, PREFIX)
    if not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < c for k in scored_list):
        raise ValueError(f"'{PREFIX}.scored_classes' is {scored_list!r}, not classes of {c}")
    scored = np.array(scored_list, dtype=np.int64)
    epochs = read_array(a, f"{PREFIX}/epochs", (None,), kinds="iu")
    e = len(epochs)
    steps = read_array(a, f"{PREFIX}/steps", (e,), kinds="iu")
    per: dict[str, np.ndarray] = {k: read_array(a, f"{PREFIX}/{k}", (e, c)) for k in PER_CLASS}
    per.update({k: read_array(a, f"{PREFIX}/{k}", (e, len(scored))) for k in PER_SCORED})
    confusion = read_array(a, f"{PREFIX}/confusion", (e, c, c), kinds="iu")
    accuracy = read_array(a, f"{PREFIX}/accuracy", (e,))
    auc_macro = read_array(a, f"{PREFIX}/roc_auc_macro", (e,))
    labels = read_array(a, f"{PREFIX}/labels", (None,), kinds="iu")
    probs = read_array(a, f"{PREFIX}/probs", (len(labels), c))
    head = f"{PREFIX}/curves/"
    curves = {
        k.removeprefix(head).replace("_", "/", 1): read_array(a, k, (3, None)) for k in sorted(a) if k.startswith(head)
    }
    max_samples = int(read_meta(meta, "max_samples", int, PREFIX)) if "max_samples" in meta else 0
    out = []
    for i in range(e):
        snap = MetricsSnapshot(
            run_id,
            epoch=int(epochs[i]),
            step=int(steps[i]),
            n_classes=c,
            accuracy=float(accuracy[i]),
            roc_auc_macro=float(auc_macro[i]),
            confusion=confusion[i],
            **{k: v[i] for k, v in per.items()},
            scored_classes=scored,
            max_samples=max_samples,
        )
        out.append(snap)
    if out:
        out[-1] = dataclasses.replace(out[-1], labels=labels, probs=probs, curves=curves)
    return out
