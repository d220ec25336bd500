"""`descent info`: describe a session file (human-readable or --json)."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.commands.common import CommandError
from engine.session import Session, SessionError, load_session

HELP = "describe a session file"

# Features add what they saved: functions (session) -> (key, JSON-able value) | None.
SESSION_SECTIONS: list[Callable[[Session], tuple[str, Any] | None]] = []
# ... and per run: functions (record) -> dict merged into that run's entry.
RUN_SECTIONS: list[Callable[[Any], dict]] = []


def _playground_section(session: Session) -> tuple[str, Any] | None:
    from engine.playground.session import summarize_playground

    summary = summarize_playground(session)
    return ("playground", summary) if summary is not None else None


SESSION_SECTIONS.append(_playground_section)


def _lr_find_section(session: Session) -> tuple[str, Any] | None:
    """The learning-rate range test: settings, suggestions, stop (the curve's points counted)."""
    from engine.tuning.lr_range_snapshot import KEY, stored_result

    try:
        result = stored_result(session)
    except ValueError as e:
        return KEY, {"error": str(e)}
    if result is None:
        return None
    summary = {k: v for k, v in result.summary().items() if k not in ("lr", "loss", "smoothed")}
    return KEY, summary


SESSION_SECTIONS.append(_lr_find_section)


def _inside_section(record: Any) -> dict:
    """Per-layer probe statistics per probe step, the diagnostics raised, the metrics (issue 5)."""
    from engine.diagnostics.snapshot import from_record as diagnostics_of
    from engine.metrics import summarize_metrics
    from engine.probes import summarize_probes

    return (
        summarize_probes(record)
        | {"diagnostics": [s.finding.to_json() for s in diagnostics_of(record)]}
        | {"classification": summarize_metrics(record)}
    )


RUN_SECTIONS.append(_inside_section)


def _landscape_section(record: Any) -> dict:
    """Trajectory snapshots, sharpness and saved loss surfaces (issue 4)."""
    from engine.landscape.summary import summarize_landscape

    return summarize_landscape(record)


RUN_SECTIONS.append(_landscape_section)


def _network_section(record: Any) -> dict:
    """The network view's last snapshot: per layer, which units are dead or saturated."""
    from engine.network import summarize_network

    return summarize_network(record)


RUN_SECTIONS.append(_network_section)


def _updates_section(record: Any) -> dict:
    """Per probed step and weight layer: ‖Δw‖, ‖Δw‖/‖w‖ and the optimizer-state norms."""
    from engine.updates.snapshot import summarize_updates

    return summarize_updates(record)


RUN_SECTIONS.append(_updates_section)


def _comparison_section(session: Session) -> tuple[str, Any] | None:
    from engine.export.summary import summarize_comparison

    summary = summarize_comparison(session)
    return ("comparison", summary) if summary is not None else None


SESSION_SECTIONS.append(_comparison_section)


def _search_section(session: Session) -> tuple[str, Any] | None:
    from engine.tuning.report import summarize_search

    summary = summarize_search(session)
    return ("search", summary) if summary is not None else None


SESSION_SECTIONS.append(_search_section)


SUMMARIZE_ABOVE = 100_000
"""A series longer than this is summarized in `info` (its length, first, last, min, max)..."""
LISTED_VALUES = 1_000_000
"""... and so is every series after this many values of a session were listed (without --full)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="session file (.descent)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--full",
        action="store_true",
        help=f"list every value of every series (otherwise a series of more than {SUMMARIZE_ABOVE:,} values, "
        f"or beyond {LISTED_VALUES:,} values in all, is summarized)",
    )


def _series_entry(values: np.ndarray, listed: bool) -> Any:
    """A series as a list of floats, or its summary: {length, first, last, min, max} (NaN-aware)."""
    if listed:
        return values.astype(float).tolist()
    v = values.reshape(-1)
    lo = hi = None
    for i in range(0, v.size, 1 << 20):  # in chunks: no full-size temporary copies
        chunk = v[i : i + (1 << 20)].astype(np.float64)
        finite = chunk[np.isfinite(chunk)]
        if finite.size:
            lo = float(finite.min()) if lo is None else min(lo, float(finite.min()))
            hi = float(finite.max()) if hi is None else max(hi, float(finite.max()))
    return {
        "summarized": True,
        "length": int(v.size),
        "first": float(v[0]) if v.size else None,
        "last": float(v[-1]) if v.size else None,
        "min": lo,
        "max": hi,
    }


def _run_entry(record: Any, budget: list[int] | None) -> dict[str, Any]:
    """What RunRecord.summary gives, with long series summarized unless budget is None (--full)."""
    metrics = {}
    for k, v in record.series.items():
        listed = budget is None or (v.size <= SUMMARIZE_ABOVE and v.size <= budget[0])
        if listed and budget is not None:
            budget[0] -= v.size
        metrics[k] = _series_entry(v, listed)
    return {
        "name": record.name,
        "state": str(record.state),
        "config": record.config.model_dump(mode="json"),
        "metrics": metrics,
        "final": dict(record.final),
    }


def _section(path: str, what: str, fn: Callable[[Any], Any], arg: Any) -> Any:
    """A feature's section; a malformed member it reads is a one-line error naming the file."""
    try:
        return fn(arg)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:  # what wrong-typed JSON raises
        text = " ".join(str(e).split())[:200]
        raise CommandError(f"{path}: cannot describe {what}: {type(e).__name__}: {text}") from None


def _fmt_metric(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _clean(x: Any) -> Any:
    """JSON has no NaN/Inf: write them as null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def describe(session: Session, full: bool = False, path: str = "session") -> dict[str, Any]:
    """The session as JSON-able data; long series are summarized unless full. Raises
    CommandError naming `path` when a feature's data in it is malformed."""
    runs = []
    budget = None if full else [LISTED_VALUES]
    for r in session.runs:
        entry = _run_entry(r, budget)
        for section in RUN_SECTIONS:
            entry.update(_section(path, f"run '{r.name}'", section, r))
        runs.append(entry)
    out: dict[str, Any] = {
        "format_version": session.format_version,
        "app_version": session.app_version,
        "created": session.created,
        "runs": runs,
    }
    for session_section in SESSION_SECTIONS:
        item = _section(path, "the session", session_section, session)
        if item is not None:
            out[item[0]] = item[1]
    return _clean(out)


def main(args: argparse.Namespace) -> int:
    try:
        session = load_session(args.file, checkpoints=False)  # info shows no weights
    except SessionError as e:
        raise CommandError(str(e)) from None
    info = describe(session, full=args.full, path=args.file)
    if args.json:
        print(json.dumps(info))
        return 0
    print(
        f"{args.file}: Descent session, format {info['format_version']}, app {info['app_version']}, "
        f"created {info['created']}"
    )
    for r in info["runs"]:
        f = r["final"]
        print(
            f"  run '{r['name']}' ({r['state']}): {r['config']['optim']['name']} lr {r['config']['optim']['lr']}, "
            f"train loss {_fmt_metric(f.get('train_loss'))}, val loss {_fmt_metric(f.get('val_loss'))}, "
            f"val acc {_fmt_metric(f.get('val_acc'))}; series: {', '.join(sorted(r['metrics']))}"
        )
    for k in info:
        if k == "search":
            from engine.tuning.report import best_text

            print("\n".join(best_text(info[k])))
        elif k == "lr_find" and "suggested_lr" in info[k]:
            lf = info[k]
            print(
                f"  lr range test: {lf['optimizer']} on {lf['data']}, {lf['done']} steps from {lf['start']:g} "
                f"to {lf['end']:g} ({lf['stop']}); suggested lr {lf['suggested_lr']:.3g} ({lf['suggestion']})"
            )
        elif k not in ("format_version", "app_version", "created", "runs"):
            print(f"  {k}: present")
    return 0
