"""The saved metrics of a run as plain JSON (for `descent info --json`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.metrics.snapshot import from_record

if TYPE_CHECKING:
    from engine.session.record import RunRecord


def _clean(a: Any) -> Any:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr) if math.isfinite(float(arr)) else None
    return [_clean(v) for v in arr]


def summarize_metrics(record: RunRecord) -> dict[str, Any] | None:
    """Per-epoch accuracy and macro ROC AUC; per-class precision/recall/F1/AUC and the
    confusion matrix of the last epoch. None when the run has no metrics; a malformed
    record raises ValueError naming the member."""
    snaps = from_record(record)
    if not snaps:
        return None
    last = snaps[-1]
    return {
        "epochs": [s.epoch for s in snaps],
        "accuracy": _clean([s.accuracy for s in snaps]),
        "roc_auc_macro": _clean([s.roc_auc_macro for s in snaps]),
        "last": {k: _clean(getattr(last, k)) for k in ("precision", "recall", "f1", "roc_auc", "average_precision")}
        | {"confusion": [[int(v) for v in row] for row in last.confusion]},
        "scored_classes": [int(c) for c in last.scored_classes],
    }
