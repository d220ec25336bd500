"""The final- and best-metrics table of a session's runs (the report's and the view's table)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.session.record import RunRecord, Session

# (column key, header, higher is better)
METRIC_COLUMNS: list[tuple[str, str, bool]] = [
    ("train_loss", "final train loss", False),
    ("val_loss", "final val loss", False),
    ("val_acc", "final val acc", True),
    ("best_val_loss", "best val loss", False),
    ("best_val_loss_epoch", "epoch of best val loss", False),
    ("best_val_acc", "best val acc", True),
    ("test_acc", "test acc", True),
    ("epochs", "epochs", True),
    ("steps", "steps", True),
]


def _best(series: np.ndarray | None, higher: bool) -> tuple[float, float]:
    if series is None or len(series) == 0 or not np.isfinite(series).any():
        return math.nan, math.nan
    s = np.where(np.isfinite(series), series, -np.inf if higher else np.inf)
    i = int(np.argmax(s) if higher else np.argmin(s))
    return float(series[i]), float(i + 1)


def run_metrics(run: RunRecord) -> dict[str, float]:
    """Final metrics plus the best validation loss/accuracy and the epoch it was reached."""
    f = run.final
    out = {k: float(f.get(k, math.nan)) for k in ("train_loss", "val_loss", "val_acc", "test_acc", "epochs", "steps")}
    out["best_val_loss"], out["best_val_loss_epoch"] = _best(run.series.get("epoch/val_loss"), higher=False)
    out["best_val_acc"], _ = _best(run.series.get("epoch/val_acc"), higher=True)
    return out


def final_table(session: Session) -> tuple[list[tuple[str, str, bool]], list[dict[str, Any]]]:
    """Columns (key, header, higher-is-better) and one row per run: name, state and the metrics.
    Columns no run has (e.g. test acc without a test split) are left out."""
    rows = []
    for r in session.runs:
        row: dict[str, Any] = {"name": r.name, "state": r.state}
        row.update(run_metrics(r))
        rows.append(row)
    cols = [c for c in METRIC_COLUMNS if any(math.isfinite(row[c[0]]) for row in rows)]
    return cols, rows
