"""The comparison layout stored in a session (meta.json → "comparison"): spec, run order, colours."""

from __future__ import annotations

from typing import Any

from engine.compare.spec import ComparisonSpec
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
