"""The learning-rate range test's settings and their error, without torch: the window builds
its fields from them before the engine has loaded (engine.tuning.lr_range runs the test)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.config import field_spec

MAX_ITERATIONS = 10_000


class LrRangeError(ValueError):
    """Bad settings for the range test; the message names the setting."""


@dataclass(frozen=True)
class LrRangeSettings:
    """The sweep: `iterations` learning rates from `start` to `end` on a log scale; `beta`
    the smoothing of the loss (weight of the past), `diverge_factor` the stop rule."""

    start: float = 1e-6
    end: float = 10.0
    iterations: int = 100
    beta: float = 0.95
    diverge_factor: float = 4.0

    def __post_init__(self) -> None:
        top = field_spec("optim.lr").maximum
        for name in ("start", "end"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise LrRangeError(f"{name} lr must be a positive number, got {v!r}")
            if top is not None and v > top:
                raise LrRangeError(f"{name} lr ({v:g}) is above {top:g}, the largest optim.lr")
        if self.start >= self.end:
            raise LrRangeError(f"start lr ({self.start:g}) must be below end lr ({self.end:g})")
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int):
            raise LrRangeError(f"iterations must be a whole number, got {self.iterations!r}")
        if not 2 <= self.iterations <= MAX_ITERATIONS:
            raise LrRangeError(f"iterations must be in [2, {MAX_ITERATIONS}], got {self.iterations}")
        if not 0.0 <= self.beta < 1.0:
            raise LrRangeError(f"smoothing beta must be in [0, 1), got {self.beta}")
        if not self.diverge_factor > 1.0:
            raise LrRangeError(f"diverge factor must be above 1, got {self.diverge_factor}")

    def lrs(self) -> np.ndarray:
        """The learning rate of each iteration: start·(end/start)^(i/(n-1))."""
        return self.start * (self.end / self.start) ** (np.arange(self.iterations) / (self.iterations - 1))
