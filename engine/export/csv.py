"""Series to CSV: per run, every step series and every epoch series at full resolution."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

import numpy as np

from engine.export.files import ExportError, ensure_folder, safe_stem, write_text_atomic
from engine.export.table import final_table
from engine.session.record import RunRecord, Session
from engine.updates.snapshot import updates_csv


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return ""
    return str(int(v)) if float(v).is_integer() and abs(v) < 2**53 else repr(float(v))


def _table_csv(header: list[str], columns: list[np.ndarray]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    n = max((len(c) for c in columns), default=0)
    for i in range(n):
        w.writerow([_fmt(c[i]) if i < len(c) else "" for c in columns])
    return buf.getvalue()


def series_tables(run: RunRecord) -> dict[str, str]:
    """{"steps": CSV text, "epochs": CSV text} for one run (columns: index, then each series)."""
    out = {}
    for group, index in (("step", "step"), ("epoch", "epoch")):
        names = sorted(k for k in run.series if k.startswith(f"{group}/"))
        if not names:
            continue
        cols = [np.asarray(run.series[k], dtype=np.float64).ravel() for k in names]
        n = max(len(c) for c in cols)
        out[f"{group}s"] = _table_csv(
            [index] + [k.split("/", 1)[1] for k in names], [np.arange(1, n + 1, dtype=np.float64)] + cols
        )
    return out


def final_csv(session: Session) -> str:
    cols, rows = final_table(session)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["run", "state"] + [k for k, _, _ in cols])
    for row in rows:
        w.writerow([row["name"], row["state"]] + [_fmt(row[k]) for k, _, _ in cols])
    return buf.getvalue()


def write_csvs(session: Session, folder: str | os.PathLike) -> list[Path]:
    """`<run>_steps.csv` and `<run>_epochs.csv` per run (and `<run>_updates.csv`, per probed step
    and weight layer, when the run has update sizes) plus `final_metrics.csv`; raises ExportError."""
    folder = ensure_folder(folder)
    written: list[Path] = []
    taken: set[str] = set()
    for run in session.runs:
        stem = safe_stem(run.name, taken)
        for kind, text in series_tables(run).items():
            written.append(write_text_atomic(folder / f"{stem}_{kind}.csv", text))
        try:
            updates = updates_csv(run)
        except ValueError as e:
            raise ExportError(f"cannot export the update sizes of '{run.name}': {e}") from None
        if updates is not None:
            written.append(write_text_atomic(folder / f"{stem}_updates.csv", updates))
    written.append(write_text_atomic(folder / "final_metrics.csv", final_csv(session)))
    from engine.tuning.report import lr_find_csv, search_csv

    try:
        trials = search_csv(session)
    except ValueError as e:
        raise ExportError(f"cannot export the search: {e}") from None
    if trials is not None:
        written.append(write_text_atomic(folder / "search_trials.csv", trials))
    lr_find = lr_find_csv(session)
    if lr_find is not None:
        written.append(write_text_atomic(folder / "lr_find.csv", lr_find))
    return written
