"""The comparison layout stored in a session (meta.json → "comparison"): spec, run order, colours."""

from __future__ import annotations

from typing import Any

from engine.compare.spec import ComparisonSpec, config_differences
from engine.session.record import Session


def comparison_meta(
    spec: ComparisonSpec | None, order: list[str], colors: dict[str, int] | None = None, hidden: list[str] | None = None
) -> dict[str, Any]:
    """JSON for Session.meta["comparison"]; colour indices index the app's palette."""
    return {
        "spec": spec.to_json() if spec is not None else None,
        "order": list(order),
        "colors": dict(colors) if colors is not None else {n: i for i, n in enumerate(order)},
        "hidden": list(hidden or []),
    }


def run_colors(session: Session) -> dict[str, int]:
    """Colour index of every run: the saved layout's, else the run's position."""
    saved = (session.meta.get("comparison") or {}).get("colors") or {}
    out: dict[str, int] = {}
    for i, r in enumerate(session.runs):
        v = saved.get(r.name, i)
        out[r.name] = int(v) if isinstance(v, (int, float)) else i
    return out


def is_comparison(session: Session) -> bool:
    return "comparison" in session.meta or len(session.runs) > 1


def session_differences(session: Session) -> dict[str, list[Any]]:
    """Config keys that differ between the session's runs → one value per run."""
    return config_differences([r.config for r in session.runs])


def summarize_comparison(session: Session) -> dict[str, Any] | None:
    """`descent info` section: the runs compared, what differs between them, the best run."""
    if not is_comparison(session):
        return None
    from engine.export.table import final_table

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
        "checkpoints": [r.name for r in session.runs if r.checkpoint is not None],
    }
