"""The saved metrics of a run as plain JSON (for `descent info --json`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from engine.session.record import RunRecord


def _clean(a: Any) -> Any:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr) if math.isfinite(float(arr)) else None
    return [_clean(v) for v in arr]


def summarize_metrics(record: RunRecord) -> dict[str, Any] | None:
    """Per-epoch accuracy and macro ROC AUC; per-class precision/recall/F1/AUC and the
    confusion matrix of the last epoch. None when the run has no metrics."""
    a = record.arrays
    if "metrics/epochs" not in a:
        return None
    return {
        "epochs": [int(e) for e in a["metrics/epochs"]],
        "accuracy": _clean(a["metrics/accuracy"]),
        "roc_auc_macro": _clean(a["metrics/roc_auc_macro"]),
        "last": {
            k: _clean(a[f"metrics/{k}"][-1]) for k in ("precision", "recall", "f1", "roc_auc", "average_precision")
        }
        | {"confusion": [[int(v) for v in row] for row in a["metrics/confusion"][-1]]},
        "scored_classes": record.meta.get("metrics", {}).get("scored_classes", []),
    }
