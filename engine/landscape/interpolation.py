"""1D loss along straight lines in weight space (Goodfellow et al. 2015): init → current,
or between two runs' final weights."""

from __future__ import annotations

import numpy as np
import torch

from engine.landscape.directions import Plane
from engine.landscape.params import LandscapeError, check_finite
from engine.landscape.surface import SurfaceEvaluator


def line_losses(
    evaluator: SurfaceEvaluator, start: torch.Tensor, end: torch.Tensor, n: int = 41, extend: float = 0.25
) -> dict[str, np.ndarray]:
    """Loss and accuracy at θ(t) = start + t·(end − start) for t in [−extend, 1 + extend]
    (t = 0 and t = 1 are grid points: the two ends are evaluated exactly)."""
    if n < 2:
        raise LandscapeError(f"a 1D interpolation needs at least 2 points, got {n}")
    check_finite(start, "start weights")
    check_finite(end, "end weights")
    # About n points, evenly spaced, with t = 0 and t = 1 exactly on the grid.
    m = max(1, round((n - 1) / (1.0 + 2.0 * extend)))
    e = round(extend * m)
    t = np.arange(-e, m + e + 1) / m
    line = Plane(start.float(), (end - start).float(), torch.zeros_like(start, dtype=torch.float32), "line")
    loss, acc = evaluator.evaluate_plane(line, t, np.zeros_like(t))
    return {"t": t, "loss": loss, "acc": acc}
