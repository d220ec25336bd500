"""A session as a TensorBoard logdir: one sub-folder per run with its scalars, the probes'
histograms and its hyperparameters (the HParams tab), written with TensorBoard's event writer
through torch.utils.tensorboard.SummaryWriter.

Scalars, at the training step they belong to:
  train/loss, train/lr, train/grad_norm     every step (the series step/*)
  epoch/<name>                              at each epoch's last step (epoch/val_loss, ...)
Histograms (one per probe, at its step): <group>/<layer label>, the probe's own bins, with
group one of activations, activation_gradients, weight_gradients, weights.
HParams: the fields that differ between the runs plus the usual suspects (optimizer, lr,
batch size, architecture), with the final metrics as the HParams tab's metrics.

Event files are written into a hidden folder first and moved into place when complete, so a
failed export leaves no half-written run behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.export.files import ExportError, ensure_folder, safe_stem
from engine.probes.snapshot import GROUPS, from_record
from engine.session.record import RunRecord, Session

STEP_SCALARS = {"step/loss": "train/loss", "step/lr": "train/lr", "step/grad_norm": "train/grad_norm"}
HISTOGRAM_GROUPS = {
    "act": "activations",
    "agrad": "activation_gradients",
    "grad": "weight_gradients",
    "weight": "weights",
}
KEY_HPARAMS = (
    "optim.name",
    "optim.lr",
    "optim.momentum",
    "optim.weight_decay",
    "train.batch_size",
    "train.epochs",
    "model.hidden",
    "model.activation",
    "data.name",
    "seed",
)
FINAL_METRICS = ("val_loss", "val_acc", "train_loss", "train_acc")


def _flat(d: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flat(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _hparam_value(v: Any) -> bool | int | float | str:
    if isinstance(v, bool | int | float | str):
        return v
    if v is None:
        return "none"
    return str(v)


def hparams_of(session: Session) -> list[dict[str, bool | int | float | str]]:
    """Per run, the hyperparameters its HParams row shows: the key fields and every field
    that differs between the session's runs (dotted config keys)."""
    flat = [dict(_flat(r.config.model_dump(mode="json"))) for r in session.runs]
    keys = [k for k in KEY_HPARAMS if any(k in f for f in flat)]
    for k in sorted(set().union(*flat)) if flat else []:
        values = {repr(f.get(k)) for f in flat}
        if len(values) > 1 and k not in keys:
            keys.append(k)
    return [{k: _hparam_value(f.get(k)) for k in keys if k in f} for f in flat]


def epoch_steps(run: RunRecord) -> np.ndarray:
    """The training step each epoch ended at (the series epoch/step; else epochs × steps per epoch)."""
    n = max((len(v) for k, v in run.series.items() if k.startswith("epoch/")), default=0)
    steps = run.series.get("epoch/step")
    if steps is not None and len(steps) == n:
        return np.asarray(steps, dtype=np.int64)
    per_epoch = int(run.meta.get("steps_per_epoch", 1) or 1)
    return np.arange(1, n + 1, dtype=np.int64) * per_epoch


def scalars_of(run: RunRecord) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{tag: (steps, values)} of the scalars a run's folder holds."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, tag in STEP_SCALARS.items():
        y = run.series.get(key)
        if y is not None and len(y):
            out[tag] = (np.arange(1, len(y) + 1, dtype=np.int64), np.asarray(y, dtype=np.float64))
    steps = epoch_steps(run)
    for key, y in sorted(run.series.items()):
        if key.startswith("epoch/") and key != "epoch/step" and len(y) == len(steps) and len(y):
            out[key] = (steps, np.asarray(y, dtype=np.float64))
    return out


def _write_run(run: RunRecord, folder: Path, hparams: dict[str, Any]) -> int:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(folder), max_queue=1000, flush_secs=3600)
    events = 0
    try:
        for tag, (steps, values) in scalars_of(run).items():
            for s, v in zip(steps.tolist(), values.tolist()):
                writer.add_scalar(tag, v, global_step=s, new_style=True)
                events += 1
        for snap in from_record(run):
            for g in GROUPS:
                stats = snap.group(g)
                layers = snap.layers.activations if g in ("act", "agrad") else snap.layers.weights
                for i, layer in enumerate(layers):
                    counts = np.asarray(stats.hist[i], dtype=np.float64)
                    lo, hi = (float(v) for v in stats.range[i])
                    num = float(counts.sum())
                    if num <= 0 or not (np.isfinite(lo) and np.isfinite(hi)):
                        continue  # nothing measured for this layer at this probe
                    edges = np.linspace(lo, hi if hi > lo else lo + 1e-12, len(counts) + 1)
                    mean, std = float(stats.mean[i]), float(stats.std[i])
                    writer.add_histogram_raw(
                        f"{HISTOGRAM_GROUPS[g]}/{layer.label}",
                        min=lo,
                        max=hi,
                        num=num,
                        sum=mean * num,
                        sum_squares=(std * std + mean * mean) * num,
                        bucket_limits=edges[1:].tolist(),
                        bucket_counts=counts.tolist(),
                        global_step=snap.step,
                    )
                    events += 1
        metrics = {f"hparam/{k}": float(run.final[k]) for k in FINAL_METRICS if k in run.final}
        if not metrics:
            metrics = {"hparam/steps": float(len(run.series.get("step/loss", [])))}
        # run_name "." puts the HParams summary into this run's own folder (not a sub-folder)
        writer.add_hparams(hparams, metrics, run_name=".", global_step=None)
        writer.flush()
    finally:
        writer.close()
    return events


def write_tensorboard(session: Session, logdir: str | os.PathLike) -> list[Path]:
    """One sub-folder of `logdir` per run (named after the run), each complete or absent; an
    existing folder of the same name holding only event files is replaced. Returns the run
    folders. Raises ExportError with a one-line message."""
    if not session.runs:
        raise ExportError(
            "tensorboard: the session has no training runs (make one with descent run or descent compare)"
        )
    try:
        import torch.utils.tensorboard  # noqa: F401 - the check that the writer is installed
    except ImportError:
        raise ExportError(
            "tensorboard: the tensorboard package is not installed (pip install 'descent[interop]')"
        ) from None
    logdir = ensure_folder(logdir)
    taken: set[str] = set()
    names = [safe_stem(r.name, taken) for r in session.runs]
    for name in names:
        target = logdir / name
        if target.exists() and (
            not target.is_dir() or any(not p.name.startswith("events.out.tfevents.") for p in target.iterdir())
        ):
            raise ExportError(f"{target}: exists and is not a TensorBoard run folder of an earlier export")
    all_hparams = hparams_of(session)
    try:
        staging = Path(tempfile.mkdtemp(prefix=".descent-tensorboard-", dir=logdir))
    except OSError as e:
        raise ExportError(f"{logdir}: cannot write ({e.strerror or e})") from None
    out: list[Path] = []
    try:
        for run, name, hp in zip(session.runs, names, all_hparams):
            _write_run(run, staging / name, hp)
        for name in names:
            target = logdir / name
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging / name, target)
            out.append(target)
    except OSError as e:
        raise ExportError(f"{logdir}: cannot write the TensorBoard logdir ({e.strerror or e})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
