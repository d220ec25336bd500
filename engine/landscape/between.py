"""The 1D loss between two runs' final weights (Goodfellow et al. 2015; linear mode
connectivity, Frankle et al. 2020): θ(α) = (1−α)·θ_A + α·θ_B for α in [−extend, 1 + extend],
on a fixed training subset and on the validation subset, loss and accuracy.

Both runs must have one architecture (the same layers, activations and parameter shapes);
settings that leave the evaluated function alone (initialization, dropout, batch-norm
momentum) may differ. The network is evaluated with run A's buffers (batch-norm running
statistics) and on run A's data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.config import ExperimentConfig
from engine.jobs import Job, Progress, run_job
from engine.landscape.analysis import eval_subset, load_record_state
from engine.landscape.interpolation import line_losses
from engine.landscape.params import LandscapeError, ParamLayout, check_finite, flat_params
from engine.landscape.surface import SurfaceEvaluator
from engine.states import RunState

# model.* settings that change the evaluated function; the others (init, dropout in eval
# mode, batch-norm momentum, PReLU's initial slope) may differ between the two runs.
ARCHITECTURE_FIELDS = (
    "arch",
    "hidden",
    "conv_channels",
    "activation",
    "leaky_slope",
    "batch_norm",
    "batch_norm_layers",
    "bn_eps",
)  # (batch norm compared as built: per layer)
FIELDS = ("train_loss", "train_acc", "val_loss", "val_acc")


@dataclass
class RunLine:
    """Loss/accuracy at θ(α) = (1−α)·θ_A + α·θ_B (α = 0: run A, α = 1: run B)."""

    a: str
    b: str
    alpha: np.ndarray
    train_loss: np.ndarray
    train_acc: np.ndarray
    val_loss: np.ndarray
    val_acc: np.ndarray
    eval_samples: int = 0
    seconds: float = 0.0
    mode: str = ""
    notes: list[str] = field(default_factory=list)

    def barrier(self, split: str = "val") -> float:
        """Loss barrier: the largest rise of the loss above the straight line joining the two
        ends' losses, max over α in [0, 1] of L(θ(α)) − ((1−α)·L(θ_A) + α·L(θ_B))
        (Frankle et al. 2020; Entezari et al. 2022). 0 when the loss is convex along the line;
        clearly positive when a ridge separates the runs."""
        loss = getattr(self, f"{split}_loss")
        inside = (self.alpha >= -1e-9) & (self.alpha <= 1 + 1e-9)
        la, lb = loss[np.argmin(np.abs(self.alpha))], loss[np.argmin(np.abs(self.alpha - 1))]
        a = self.alpha[inside]
        return float(np.max(loss[inside] - ((1 - a) * la + a * lb)))

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}/alpha": self.alpha, **{f"{prefix}/{k}": getattr(self, k) for k in FIELDS}}

    def meta(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "eval_samples": int(self.eval_samples),
            "seconds": round(self.seconds, 4),
            "mode": self.mode,
            "notes": list(self.notes),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str, meta: dict[str, Any]) -> RunLine:
        """A saved line; LandscapeError names what is missing or malformed."""
        try:
            alpha = np.asarray(arrays[f"{prefix}/alpha"], dtype=np.float64)
            vals = {k: np.asarray(arrays[f"{prefix}/{k}"], dtype=np.float64) for k in FIELDS}
        except KeyError as e:
            raise LandscapeError(f"saved line '{prefix}' lacks {e.args[0]}") from None
        if alpha.ndim != 1 or any(v.shape != alpha.shape for v in vals.values()):
            raise LandscapeError(f"saved line '{prefix}': arrays of different lengths")
        if not isinstance(meta, dict):
            meta = {}
        notes = meta.get("notes")
        return cls(
            str(meta.get("a", "A")),
            str(meta.get("b", "B")),
            alpha,
            **vals,
            eval_samples=int(meta.get("eval_samples", 0) or 0),
            seconds=float(meta.get("seconds", 0.0) or 0.0),
            mode=str(meta.get("mode", "")),
            notes=[str(n) for n in notes] if isinstance(notes, list) else [],
        )


def architecture_differences(cfg_a: ExperimentConfig, cfg_b: ExperimentConfig) -> list[str]:
    """'model.hidden ([16] vs [32])' for each architecture setting that differs."""
    a, b = _as_built(cfg_a), _as_built(cfg_b)
    return [f"model.{k} ({a[k]} vs {b[k]})" for k in ARCHITECTURE_FIELDS if a.get(k) != b.get(k)]


def _as_built(cfg: ExperimentConfig) -> dict[str, Any]:
    """The architecture settings as the builder uses them: `batch_norm=before` and
    `batch_norm_layers=before,before` build the same network; conv blocks read `batch_norm`
    only in a CNN."""
    m = cfg.model
    d = m.model_dump(mode="json")
    d["batch_norm_layers"] = m.batch_norm_per_layer()
    d["batch_norm"] = m.batch_norm if m.arch == "cnn" else "(per layer)"
    if m.arch != "cnn":
        d["conv_channels"] = None
    if not m.uses_batch_norm():
        d["bn_eps"] = None
    return d


def check_pair(
    name_a: str, cfg_a: ExperimentConfig, state_a: str, name_b: str, cfg_b: ExperimentConfig, state_b: str
) -> None:
    """Refuse a pair no line can join: the same run twice, a diverged run, two architectures."""
    if name_a == name_b:
        raise LandscapeError(f"choose two different runs (both are '{name_a}')")
    for name, state in ((name_a, state_a), (name_b, state_b)):
        if state == RunState.DIVERGED:
            raise LandscapeError(
                f"run '{name}' diverged: a line to non-finite weights means nothing — "
                "rerun it with a lower learning rate"
            )
    diff = architecture_differences(cfg_a, cfg_b)
    if diff:
        raise LandscapeError(
            f"runs '{name_a}' and '{name_b}' have different architectures — {', '.join(diff)}: "
            "no straight line joins their weights"
        )


def _check_shapes(name_a: str, layout_a: ParamLayout, name_b: str, layout_b: ParamLayout) -> None:
    if layout_a.shapes != layout_b.shapes:
        n = sum(int(np.prod(s)) for s in layout_a.shapes)
        m = sum(int(np.prod(s)) for s in layout_b.shapes)
        raise LandscapeError(
            f"runs '{name_a}' and '{name_b}' have different parameter shapes ({n} vs {m} "
            "parameters — e.g. a different data set's input size): no straight line joins their weights"
        )


def line_between_job(
    model: nn.Module,
    final_a: torch.Tensor,
    final_b: torch.Tensor,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    names: tuple[str, str] = ("A", "B"),
    n: int = 41,
    extend: float = 0.25,
    device: torch.device | str | None = None,
) -> Job[RunLine]:
    """Loss and accuracy along the line from final_a to final_b (flat vectors in the layout of
    `model`, whose buffers are used), on the training and validation subsets, on `device`
    (default: the data's), as a job (engine/jobs.py) with progress after each split. Raises
    LandscapeError for non-finite weights."""
    if not 0 <= extend <= 2:
        raise LandscapeError(f"the line's extension beyond the two runs must be in [0, 2], got {extend}")
    check_finite(final_a, f"final weights of run '{names[0]}'")
    check_finite(final_b, f"final weights of run '{names[1]}'")
    if final_a.shape != final_b.shape:
        raise LandscapeError(
            f"runs '{names[0]}' and '{names[1]}' have {final_a.numel()} and {final_b.numel()} "
            "parameters: no straight line joins their weights"
        )
    if torch.equal(final_a.cpu(), final_b.cpu()):
        raise LandscapeError(f"runs '{names[0]}' and '{names[1]}' have identical weights: the line is a single point")
    t0 = time.perf_counter()
    out: dict[str, np.ndarray] = {}
    mode = ""
    for i, (split, (x, y)) in enumerate((("train", train), ("val", val))):
        yield Progress(i / 2, f"the line on the {'training' if split == 'train' else 'validation'} subset")
        if len(x) == 0:
            raise LandscapeError(f"the {'training' if split == 'train' else 'validation'} subset is empty")
        ev = SurfaceEvaluator(model, x, y, device=device)
        ln = line_losses(ev, final_a, final_b, n=n, extend=extend)
        out["alpha"] = ln["t"]
        out[f"{split}_loss"], out[f"{split}_acc"] = ln["loss"], ln["acc"]
        mode = ev.mode
    return RunLine(
        names[0],
        names[1],
        out["alpha"],
        out["train_loss"],
        out["train_acc"],
        out["val_loss"],
        out["val_acc"],
        int(len(val[0])),
        time.perf_counter() - t0,
        mode,
    )


def record_weights(
    record, n_features: int, n_classes: int, input_shape: tuple[int, ...] | None = None
) -> tuple[nn.Module, torch.Tensor]:
    """(model built from the record's config for data of these dimensions, holding the record's
    final weights; the flat final vector). Refuses diverged runs and missing or misshapen weights."""
    from engine.model import build_model

    if record.state == RunState.DIVERGED:
        raise LandscapeError(
            f"run '{record.name}' diverged: a line to non-finite weights means nothing — "
            "rerun it with a lower learning rate"
        )
    try:
        model = build_model(record.config.model, n_features, n_classes, record.config.seed, input_shape=input_shape)
    except ValueError as e:
        raise LandscapeError(f"run '{record.name}': {e}") from None
    load_record_state(model, record, "a model for this data")
    final = flat_params(model)
    check_finite(final, f"final weights of run '{record.name}'")
    return model, final


def line_to_record_job(
    name_a: str,
    cfg_a: ExperimentConfig,
    state_a: str,
    model_a: nn.Module,
    rec_b,
    data,
    *,
    eval_samples: int | None = None,
    n: int = 41,
    extend: float = 0.25,
) -> Job[RunLine]:
    """The line from run A (its model at its final weights: live, replayed or saved) to a saved
    run B's final weights, on A's data (`data`: an engine Data set). Raises LandscapeError
    naming the problem: same run, diverged run, different architectures, missing weights."""
    check_pair(name_a, cfg_a, state_a, rec_b.name, rec_b.config, rec_b.state)
    final_a = flat_params(model_a)
    model_b, final_b = record_weights(rec_b, data.n_features, data.n_classes, data.input_shape)
    _check_shapes(name_a, ParamLayout.of(model_a), rec_b.name, ParamLayout.of(model_b))
    k = int(eval_samples or cfg_a.landscape.eval_samples)
    line = yield from line_between_job(
        model_a,
        final_a,
        final_b,
        eval_subset(data.x_train, data.y_train, k),
        eval_subset(data.x_val, data.y_val, k),
        names=(name_a, rec_b.name),
        n=n,
        extend=extend,
    )
    line.notes = pair_notes(name_a, cfg_a, rec_b.name, rec_b.config)
    return line


def line_between_records_job(
    rec_a,
    rec_b,
    *,
    n: int = 41,
    extend: float = 0.25,
    eval_samples: int | None = None,
    data=None,
) -> Job[RunLine]:
    """The line between two saved runs' final weights (RunRecords), on run A's data, as a job."""
    from engine.data import load_data

    check_pair(rec_a.name, rec_a.config, rec_a.state, rec_b.name, rec_b.config, rec_b.state)
    data = data if data is not None else load_data(rec_a.config)
    model_a, _final_a = record_weights(rec_a, data.n_features, data.n_classes, data.input_shape)
    yield Progress(0.0, "loading the data")
    return (
        yield from line_to_record_job(
            rec_a.name,
            rec_a.config,
            rec_a.state,
            model_a,
            rec_b,
            data,
            eval_samples=eval_samples,
            n=n,
            extend=extend,
        )
    )


def line_between(*args: Any, **kwargs: Any) -> RunLine:
    """line_between_job run here and now."""
    return run_job(line_between_job(*args, **kwargs))


def line_to_record(*args: Any, **kwargs: Any) -> RunLine:
    """line_to_record_job run here and now."""
    return run_job(line_to_record_job(*args, **kwargs))


def line_between_records(*args: Any, **kwargs: Any) -> RunLine:
    """line_between_records_job run here and now (the CLI, tests)."""
    return run_job(line_between_records_job(*args, **kwargs))


def pair_notes(name_a: str, cfg_a: ExperimentConfig, name_b: str, cfg_b: ExperimentConfig) -> list[str]:
    """What the reader should know about the pair (data differs, batch-norm statistics)."""
    notes = []
    if cfg_a.data != cfg_b.data:
        notes.append(f"the runs used different data settings: evaluated on run '{name_a}''s data")
    if cfg_a.model.uses_batch_norm():
        notes.append(f"batch norm in eval mode with run '{name_a}''s running statistics")
    return notes


# -- sessions --------------------------------------------------------------------------
def store_lines(container, lines: list[RunLine], prefix: str, meta_path: tuple[str, ...]) -> None:
    """Lines as arrays `<prefix>/<i>/{alpha,train_loss,train_acc,val_loss,val_acc}` and their
    metadata (runs, samples, notes) as a list at container.meta[meta_path[0]][...]."""
    for k in [k for k in container.arrays if k.startswith(prefix + "/")]:
        del container.arrays[k]
    for i, line in enumerate(lines):
        container.arrays.update(line.to_arrays(f"{prefix}/{i}"))
    meta = container.meta
    for key in meta_path[:-1]:
        meta = meta.setdefault(key, {})
    meta[meta_path[-1]] = [line.meta() for line in lines]


def stored_lines(container, prefix: str, meta_path: tuple[str, ...]) -> tuple[list[RunLine], list[str]]:
    """(the lines saved by store_lines, messages for the ones that could not be read)."""
    meta: Any = container.meta
    for key in meta_path:
        meta = meta.get(key) if isinstance(meta, dict) else None
    if not isinstance(meta, list):
        return [], []
    lines, problems = [], []
    for i, m in enumerate(meta):
        try:
            lines.append(RunLine.from_arrays(container.arrays, f"{prefix}/{i}", m))
        except (LandscapeError, TypeError, ValueError) as e:
            problems.append(str(e))
    return lines, problems
