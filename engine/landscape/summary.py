"""What `descent info` says about a run's landscape data (needs numpy only, no torch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.landscape import snapshot as landscape_snapshot


def summarize_landscape(record) -> dict[str, Any]:
    """`descent info` section: trajectory size, sharpness, saved surfaces (empty if none); a
    malformed record raises ValueError naming the member."""
    meta = record.meta.get("landscape")
    out: dict[str, Any] = {}
    for snap in landscape_snapshot.from_record(record):
        if "landscape/trajectory" in record.arrays:
            out["snapshots"] = int(len(snap.params))
            out["snapshot_every"] = snap.every
        if len(snap.sharpness):
            sh = np.asarray(snap.sharpness, dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                out["sharpness"] = {
                    "epochs": [int(e) if np.isfinite(e) else None for e in sh[:, 0]],
                    "lambda_max": sh[:, 2].tolist(),
                    "two_over_lr": (2.0 / sh[:, 3]).tolist(),
                }
    if isinstance(meta, dict) and meta.get("surfaces"):
        out["surfaces"] = meta["surfaces"]
    return {"landscape": out} if out else {}
