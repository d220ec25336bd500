"""A search summarized: the best trial for `descent info`, every trial as CSV for `descent export`."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np

from engine.session.record import Session
from engine.tuning.snapshot import SearchSnapshot
from engine.tuning.space import choice_label
from engine.tuning.storage import search_of


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def summarize_search(session: Session) -> dict[str, Any] | None:
    """The session's search as JSON-able data (None without one); ValueError when malformed."""
    snap = search_of(session)
    if snap is None:
        return None
    counts: dict[str, int] = {}
    for t in snap.trials:
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    best = snap.best(1)
    return {
        "study_name": snap.study_name,
        "rounds": [
            {"number": r.number, "space": list(r.space), "sampler": r.sampler, "how": r.how} for r in snap.rounds
        ],
        "trials": len(snap.trials),
        "states": counts,
        "folds": snap.folds,
        "pruner": snap.pruner,
        "test_evaluation": snap.test_evaluation,
        "best": None
        if not best
        else {
            "number": best[0].number,
            "round": best[0].round,
            "score": _num(best[0].score),
            "score_sd": _num(best[0].score_sd),
            "val_acc": _num(best[0].val_acc),
            "params": best[0].params,
        },
    }


def best_text(summary: dict[str, Any]) -> list[str]:
    """Lines for `descent info`'s text output."""
    states = ", ".join(f"{v} {k}" for k, v in summary["states"].items())
    lines = [
        f"  search '{summary['study_name']}': {summary['trials']} trials ({states}), {len(summary['rounds'])} round(s)"
    ]
    b = summary["best"]
    if b is None:
        lines.append("    no complete trial")
        return lines
    sd = f" ± {b['score_sd']:.4f}" if summary["folds"] > 1 and b["score_sd"] is not None else ""
    lines.append(f"    best: trial #{b['number']} (round {b['round']}), validation loss {b['score']:.4f}{sd}")
    for k, v in b["params"].items():
        lines.append(f"      {k} = {v:.6g}" if isinstance(v, float) else f"      {k} = {choice_label(v)}")
    ev = summary.get("test_evaluation")
    if ev:
        loss = "n/a" if ev.get("test_loss") is None else f"{ev['test_loss']:.4f}"
        lines.append(
            f"    evaluated on the test split ({ev.get('when', '')}): trial #{ev.get('trial')}, test loss {loss}"
        )
    else:
        lines.append("    not evaluated on the test split (descent search --test-best)")
    return lines


def trials_csv(snap: SearchSnapshot) -> str:
    """One row per trial: number, round, state, each searched key, score, sd, val acc, epochs, seconds, message."""
    keys = snap.keys()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["trial", "round", "state", *keys, "val_loss", "val_loss_sd", "val_acc", "epochs", "seconds", "message"])
    for t in snap.trials:
        params = [choice_label(t.params[k]) if k in t.params else "" for k in keys]
        nums = [_num(v) for v in (t.score, t.score_sd, t.val_acc)]
        w.writerow(
            [t.number, t.round, t.state.value, *params, *("" if v is None else repr(v) for v in nums), t.epochs]
            + [f"{t.duration_s:.3f}", t.message]
        )
    return buf.getvalue()


def search_csv(session: Session) -> str | None:
    """The trials CSV of the session's search (None without one); ValueError when malformed."""
    snap = search_of(session)
    return None if snap is None else trials_csv(snap)


def lr_find_csv(session: Session) -> str | None:
    """The session's learning-rate range test as CSV: lr, loss and smoothed loss per iteration,
    the two suggestions named on the rows nearest to them (the chosen one "(suggested)");
    None without one."""
    from engine.tuning.lr_range_snapshot import stored_result

    r = stored_result(session)
    if r is None:
        return None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["iteration", "lr", "loss", "smoothed_loss", "suggestion"])
    lrs = np.asarray(r.lrs, dtype=np.float64)
    rows: dict[int, str] = {}
    for name, lr in (("steepest", r.steepest_lr), ("min/10", r.min_over_10_lr)):
        if lr is not None and math.isfinite(lr) and lr > 0:  # the row nearest to it on the log axis
            i = int(np.argmin(np.abs(np.log(lrs / lr))))
            rows[i] = " + ".join(
                filter(None, [rows.get(i, ""), name + (" (suggested)" if name == r.suggestion else "")])
            )
    for i, (lr, loss, sm) in enumerate(zip(r.lrs, r.losses, r.smoothed)):
        w.writerow([i, repr(float(lr)), repr(float(loss)), repr(float(sm)), rows.get(i, "")])
    return buf.getvalue()
