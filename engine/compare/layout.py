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
    """Colour index of every run: the saved layout's, else the run's position among the
    comparison's runs; a run outside the comparison (the main run saved beside it) gets an
    index after all of theirs, so it never shares a comparison run's colour."""
    saved = (session.meta.get("comparison") or {}).get("colors") or {}
    members = {r.name for r in comparison_session(session).runs}
    out: dict[str, int] = {}
    for i, r in enumerate(r for r in session.runs if r.name in members):
        v = saved.get(r.name, i)
        out[r.name] = int(v) if isinstance(v, (int, float)) else i
    nxt = max(out.values(), default=-1) + 1
    for r in session.runs:
        if r.name not in out:
            out[r.name], nxt = nxt, nxt + 1
    return out


def comparison_session(session: Session) -> Session:
    """The session with only the comparison's runs (those its layout names, in its order;
    all runs when there is no layout): what the Compare tab, its plots and the comparison
    report show. The main run saved beside a comparison is not one of them."""
    order = (session.meta.get("comparison") or {}).get("order")
    if not isinstance(order, list):
        return session
    by_name = {r.name: r for r in session.runs}
    runs = [by_name[n] for n in order if isinstance(n, str) and n in by_name]
    return Session(
        runs=runs,
        arrays=session.arrays,
        meta=session.meta,
        format_version=session.format_version,
        app_version=session.app_version,
        created=session.created,
    )


def is_comparison(session: Session) -> bool:
    return "comparison" in session.meta or len(session.runs) > 1
