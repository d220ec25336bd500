"""The classifier's output over the input plane, for 2D data sets, evaluated live on the
engine thread (between two steps, so the model is never read while it changes).

At most every `interval_s` seconds the model (in eval mode, so batch norm uses its
running estimates and dropout is off) is run on a fixed G×G grid covering the training
and validation points, and the class probabilities go out as a BoundarySnapshot, a
droppable event: a slow view only ever misses intermediate grids.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.boundary.snapshot import BoundaryPoints, BoundarySnapshot, to_record
from engine.data.features import plane_grid
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext


@torch.no_grad()
def evaluate_grid(model: torch.nn.Module, grid: torch.Tensor, resolution: int) -> np.ndarray:
    """Class probabilities (G, G, C) of the model in eval mode over the grid."""
    was = model.training
    model.eval()
    try:
        probs = torch.softmax(model(grid), dim=1)
    finally:
        model.train(was)
    return probs.reshape(resolution, resolution, -1).float().cpu().numpy()


class DecisionBoundaryHook(TrainerHook):
    """Emits the points once and the probability grid a few times a second (2D data only)."""

    name = "decision_boundary"

    def __init__(self, resolution: int = 90, interval_s: float = 0.25) -> None:
        self.resolution = int(resolution)
        self.interval_s = float(interval_s)
        self.extent: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)
        self.grid: torch.Tensor | None = None
        self.latest: BoundarySnapshot | None = None
        self._t = 0.0

    def setup(self, ctx: RunContext) -> None:
        self.extent, self.grid = plane_grid(ctx.data, self.resolution, ctx.device)

    def on_start(self, ctx: RunContext) -> None:
        ctx.emit(BoundaryPoints.of(ctx.run_id, ctx.data, self.extent))
        self._evaluate(ctx)

    def on_resume(self, ctx: RunContext) -> None:
        self.on_start(ctx)  # the view of a continued run needs the points and a first grid

    def _evaluate(self, ctx: RunContext) -> None:
        if self.grid is None:  # (set up on every run)
            return
        probs = evaluate_grid(ctx.model, self.grid, self.resolution)
        self.latest = BoundarySnapshot(ctx.run_id, ctx.step, ctx.epoch, self.extent, probs)
        self._t = time.perf_counter()
        ctx.emit(self.latest)  # (the last one of a run: no newer grid can replace it)

    def after_step(self, ctx: RunContext) -> None:
        if time.perf_counter() - self._t >= self.interval_s:
            self._evaluate(ctx)

    def on_finish(self, ctx: RunContext) -> None:
        if self.grid is not None:
            self._evaluate(ctx)

    def export(self, record: RunRecord) -> None:
        arrays, meta = to_record([self.latest] if self.latest is not None else [])
        record.arrays.update(arrays)
        record.meta.update(meta)

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.latest is not None:
            out.update({"step": self.latest.step, "epoch": self.latest.epoch, "probs": self.latest.probs})
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        probs = state.get("probs")
        self.latest = None
        if probs is not None:
            step, epoch = int(state.get("step", 0)), int(state.get("epoch", 0))
            self.latest = BoundarySnapshot("", step, epoch, self.extent, np.asarray(probs))
