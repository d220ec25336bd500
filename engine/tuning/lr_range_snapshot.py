"""LrRangeResult: the learning-rate range test's curve and suggestions, both what the job
hands back (and previews while it runs) and what a session stores.

`to_record` / `from_record` convert it to and from session-level members (format 4):
  arrays/lr_find/lr.npy        (n,) float64, the learning rate of each iteration
  arrays/lr_find/loss.npy      (n,) float64, the minibatch loss at that lr
  arrays/lr_find/smoothed.npy  (n,) float64, the bias-corrected moving average of the loss
  meta.json "lr_find"          settings (start, end, iterations, beta, diverge_factor),
                               stop, suggestion, steepest_lr, min_loss_lr, seconds, config
The suggestions are stored as computed, and checked against the curve when read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from engine.config import ConfigError, ExperimentConfig, validate_config
from engine.session.snapshot import read_array, read_meta, same_values

if TYPE_CHECKING:
    from engine.session.record import Session

KEY = "lr_find"
STOP_END = "end of range"
STOP_DIVERGED = "loss passed its limit"
STOP_NOT_FINITE = "loss not finite"
STOPS = (STOP_END, STOP_DIVERGED, STOP_NOT_FINITE)
STEEPEST = "steepest"
MIN_OVER_10 = "min/10"
SKIP_START = 10  # points at the start of the curve the steepest descent is not looked for in


class _Settings(Protocol):
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def iterations(self) -> int: ...
    @property
    def beta(self) -> float: ...
    @property
    def diverge_factor(self) -> float: ...


def smooth(losses: np.ndarray, beta: float) -> np.ndarray:
    """Exponential moving average with bias correction: avg_i = β·avg_{i-1} + (1-β)·x_i,
    divided by 1-β^(i+1) so the first values are not pulled towards 0."""
    out = np.empty(len(losses))
    avg = 0.0
    for i, x in enumerate(losses):
        avg = beta * avg + (1.0 - beta) * float(x)
        out[i] = avg / (1.0 - beta ** (i + 1))
    return out


def suggestions(lrs: np.ndarray, smoothed: np.ndarray) -> tuple[float | None, float]:
    """(steepest, min_lr) of a smoothed curve: the lr where the smoothed loss falls fastest
    against log10(lr) before its minimum (None when fewer than 3 points lead there or the
    curve does not fall), and the lr at its minimum."""
    k = int(np.argmin(smoothed))
    min_lr = float(lrs[k])
    # The first points average only a few losses: their slopes are mostly noise.
    skip = min(SKIP_START, (k + 1) // 4)
    if k - skip < 2:
        return None, min_lr
    slope = np.gradient(smoothed[skip : k + 1], np.log10(lrs[skip : k + 1]))
    j = int(np.argmin(slope))
    return (float(lrs[skip + j]) if slope[j] < 0 else None), min_lr


@dataclass(frozen=True, eq=False)
class LrRangeResult:
    """A range test's curve (learning rates, raw and smoothed losses, in order), why it
    stopped, and its two suggestions: `steepest_lr` (None when the curve has no descent to
    read) and `min_loss_lr` / 10. `suggestion` names the one `suggested_lr` returns:
    the steepest descent when there is one, else min/10."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    start: float
    end: float
    iterations: int
    beta: float
    diverge_factor: float
    stop: str
    steepest_lr: float | None
    min_loss_lr: float
    suggestion: str
    seconds: float
    config: ExperimentConfig

    __eq__ = same_values

    @classmethod
    def of(
        cls,
        config: ExperimentConfig,
        settings: _Settings,
        lrs: Sequence[float],
        losses: Sequence[float],
        smoothed: Sequence[float],
        stop: str,
        seconds: float,
    ) -> LrRangeResult:
        """A result (or the curve so far) with its suggestions computed."""
        lr_a = np.asarray(lrs, dtype=np.float64)
        sm_a = np.asarray(smoothed, dtype=np.float64)
        steepest, min_lr = suggestions(lr_a, sm_a)
        return cls(
            lr_a,
            np.asarray(losses, dtype=np.float64),
            sm_a,
            float(settings.start),
            float(settings.end),
            int(settings.iterations),
            float(settings.beta),
            float(settings.diverge_factor),
            stop,
            steepest,
            min_lr,
            STEEPEST if steepest is not None else MIN_OVER_10,
            float(seconds),
            config,
        )

    @property
    def min_over_10_lr(self) -> float:
        return self.min_loss_lr / 10.0

    @property
    def suggested_lr(self) -> float:
        if self.suggestion == STEEPEST and self.steepest_lr is not None:
            return self.steepest_lr
        return self.min_over_10_lr

    @property
    def done(self) -> int:
        """Iterations recorded."""
        return int(self.lrs.shape[0])

    @property
    def stop_text(self) -> str:
        """Why the test ended, for people."""
        if self.stop == STOP_DIVERGED:
            return f"stopped at lr {self.lrs[-1]:.3g}: smoothed loss passed {self.diverge_factor:g}× its minimum"
        if self.stop == STOP_NOT_FINITE:
            return f"stopped after lr {self.lrs[-1]:.3g}: the next loss was not finite"
        return f"ran the whole range to lr {self.lrs[-1]:.3g}"

    def summary(self) -> dict[str, Any]:
        """Plain JSON: settings, suggestions, stop reason, the curve (`descent lr-find --json`)."""
        return {
            "start": self.start,
            "end": self.end,
            "iterations": self.iterations,
            "done": self.done,
            "beta": self.beta,
            "diverge_factor": self.diverge_factor,
            "stop": self.stop,
            "suggestion": self.suggestion,
            "suggested_lr": self.suggested_lr,
            "steepest_lr": self.steepest_lr,
            "min_loss_lr": self.min_loss_lr,
            "min_over_10_lr": self.min_over_10_lr,
            "min_smoothed_loss": float(np.min(self.smoothed)),
            "seconds": round(self.seconds, 4),
            "optimizer": self.config.optim.name,
            "data": self.config.data.name,
            "lr": self.lrs.tolist(),
            "loss": self.losses.tolist(),
            "smoothed": self.smoothed.tolist(),
        }

    # -- sessions --------------------------------------------------------------------------
    def to_record(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The session-level arrays (keys under lr_find/) and the meta entry."""
        arrays = {
            f"{KEY}/lr": np.ascontiguousarray(self.lrs, dtype=np.float64),
            f"{KEY}/loss": np.ascontiguousarray(self.losses, dtype=np.float64),
            f"{KEY}/smoothed": np.ascontiguousarray(self.smoothed, dtype=np.float64),
        }
        meta = {
            "start": self.start,
            "end": self.end,
            "iterations": self.iterations,
            "beta": self.beta,
            "diverge_factor": self.diverge_factor,
            "stop": self.stop,
            "suggestion": self.suggestion,
            "steepest_lr": self.steepest_lr,
            "min_loss_lr": self.min_loss_lr,
            "seconds": self.seconds,
            "config": self.config.model_dump(mode="json"),
        }
        return arrays, meta

    @classmethod
    def from_record(cls, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> LrRangeResult:
        """The result a session stored; ValueError naming the member when it is malformed."""
        lrs = read_array(arrays, f"{KEY}/lr", (None,), "f").astype(np.float64)
        n = lrs.shape[0]
        losses = read_array(arrays, f"{KEY}/loss", (n,), "f").astype(np.float64)
        smoothed = read_array(arrays, f"{KEY}/smoothed", (n,), "f").astype(np.float64)
        if n < 2:
            raise ValueError(f"'{KEY}/lr' has {n} points, a curve needs at least 2")
        if not (np.isfinite(lrs).all() and (lrs > 0).all() and np.isfinite(smoothed).all()):
            raise ValueError(f"'{KEY}' holds learning rates that are not positive or losses that are not finite")
        num = (int, float)
        start = float(read_meta(meta, "start", num, KEY))
        end = float(read_meta(meta, "end", num, KEY))
        iterations = read_meta(meta, "iterations", int, KEY)
        beta = float(read_meta(meta, "beta", num, KEY))
        factor = float(read_meta(meta, "diverge_factor", num, KEY))
        stop = read_meta(meta, "stop", str, KEY)
        if stop not in STOPS:
            raise ValueError(f"'{KEY}.stop' is {stop[:40]!r}, not one of {', '.join(STOPS)}")
        suggestion = read_meta(meta, "suggestion", str, KEY)
        if suggestion not in (STEEPEST, MIN_OVER_10):
            raise ValueError(f"'{KEY}.suggestion' is {suggestion[:40]!r}, not {STEEPEST} or {MIN_OVER_10}")
        seconds = float(read_meta(meta, "seconds", num, KEY))
        try:
            config = validate_config(meta.get("config"))
        except ConfigError as e:
            raise ValueError(f"'{KEY}.config' is not a valid config: {e}") from None
        steepest, min_lr = suggestions(lrs, smoothed)
        saved_steepest = meta.get("steepest_lr")
        saved_min = read_meta(meta, "min_loss_lr", num, KEY)
        if not _close(saved_steepest, steepest) or not _close(saved_min, min_lr):
            raise ValueError(f"'{KEY}' suggestions do not match its curve")
        if suggestion == STEEPEST and steepest is None:
            raise ValueError(f"'{KEY}.suggestion' is {STEEPEST}, but the curve has no descent")
        return cls(
            lrs,
            losses,
            smoothed,
            start,
            end,
            iterations,
            beta,
            factor,
            stop,
            steepest,
            min_lr,
            suggestion,
            seconds,
            config,
        )

    def store_in(self, session: Session) -> None:
        """Put this result into a session (replacing one stored before)."""
        arrays, meta = self.to_record()
        for k in [k for k in session.arrays if k.startswith(f"{KEY}/")]:
            del session.arrays[k]
        session.arrays.update(arrays)
        session.meta[KEY] = meta


def stored_result(session: Session) -> LrRangeResult | None:
    """The range test a session holds, or None (older files, sessions without one); raises
    ValueError naming the problem when it is malformed."""
    meta = session.meta.get(KEY)
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise ValueError(f"meta '{KEY}' is {type(meta).__name__}, expected a JSON object")
    return LrRangeResult.from_record(session.arrays, meta)


def _close(saved: Any, computed: float | None) -> bool:
    if computed is None or saved is None:
        return saved is None and computed is None
    if isinstance(saved, bool) or not isinstance(saved, (int, float)):
        return False
    return math.isclose(float(saved), computed, rel_tol=1e-9)
