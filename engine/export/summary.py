"""The comparison section of `descent info`: the runs compared, what differs, the best run."""

from __future__ import annotations

from typing import Any

from engine.compare.layout import is_comparison
from engine.compare.spec import config_differences
from engine.export.table import final_table
from engine.session.record import Session


def session_differences(session: Session) -> dict[str, list[Any]]:
    """Config keys that differ between the session's runs → one value per run."""
    return config_differences([r.config for r in session.runs])


def summarize_comparison(session: Session) -> dict[str, Any] | None:
    """`descent info` section: the runs compared, what differs between them, the best run."""
    if not is_comparison(session):
        return None
    _, rows = final_table(session)
    finite = [r for r in rows if r["val_loss"] == r["val_loss"]]
    best = min(finite, key=lambda r: r["val_loss"])["name"] if finite else None
    meta = session.meta.get("comparison") or {}
    return {
        "runs": [r.name for r in session.runs],
        "differences": session_differences(session),
        "same_seed": len({r.config.seed for r in session.runs}) == 1,
        "best_val_loss": best,
        "hidden": list(meta.get("hidden", [])),
        "shared_surface": "comparison_surface" in session.meta,
        "checkpoints": [r.name for r in session.runs if r.has_checkpoint],
    }
