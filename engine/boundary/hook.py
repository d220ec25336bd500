"""The classifier's output over the input plane, for 2D data sets, evaluated live on the
engine thread (between two steps, so the model is never read while it changes).

At most every `interval_s` seconds the model (in eval mode, so batch norm uses its
running estimates and dropout is off) is run on a fixed G×G grid covering the training
and validation points, and the class probabilities go out as a droppable
Payload("decision_boundary"): a slow view only ever misses intermediate grids.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.events import Payload
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext


def plane_extent(points: np.ndarray, margin: float = 0.15) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) around the points, widened by `margin` of the span on each side."""
    lo, hi = points.min(0), points.max(0)
    span = np.maximum(hi - lo, 1e-6)
    lo, hi = lo - margin * span, hi + margin * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def grid_points(extent: tuple[float, float, float, float], resolution: int) -> np.ndarray:
    """(G·G, 2) grid, row-major: row i is y_i, column j is x_j."""
    x0, x1, y0, y1 = extent
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return np.c_[gx.ravel(), gy.ravel()].astype(np.float32)


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
        self.last_probs: np.ndarray | None = None
        self.last_step = 0
        self._t = 0.0

    def setup(self, ctx: RunContext) -> None:
        d = ctx.data
        pts = torch.cat([d.x_train, d.x_val]).cpu().numpy()
        self.extent = plane_extent(pts)
        self.grid = torch.as_tensor(grid_points(self.extent, self.resolution), device=ctx.device)

    def on_start(self, ctx: RunContext) -> None:
        d = ctx.data
        ctx.emit(
            Payload(
                ctx.run_id,
                "decision_boundary",
                {
                    "kind": "points",
                    "extent": self.extent,
                    "n_classes": d.n_classes,
                    "class_names": list(d.class_names),
                    "x_train": d.x_train.cpu().numpy(),
                    "y_train": d.y_train.cpu().numpy(),
                    "x_val": d.x_val.cpu().numpy(),
                    "y_val": d.y_val.cpu().numpy(),
                },
            )
        )
        self._evaluate(ctx, droppable=True)

    def on_resume(self, ctx: RunContext) -> None:
        self.on_start(ctx)  # the view of a continued run needs the points and a first grid

    def _evaluate(self, ctx: RunContext, droppable: bool) -> None:
        self.last_probs = evaluate_grid(ctx.model, self.grid, self.resolution)
        self.last_step = ctx.step
        self._t = time.perf_counter()
        ctx.emit(
            Payload(
                ctx.run_id,
                "decision_boundary",
                {
                    "kind": "grid",
                    "step": ctx.step,
                    "epoch": ctx.epoch,
                    "extent": self.extent,
                    "probs": self.last_probs,
                },
                droppable=droppable,
            )
        )

    def after_step(self, ctx: RunContext) -> None:
        if time.perf_counter() - self._t >= self.interval_s:
            self._evaluate(ctx, droppable=True)

    def on_finish(self, ctx: RunContext) -> None:
        if self.grid is not None:
            self._evaluate(ctx, droppable=False)

    def export(self, record: RunRecord) -> None:
        if self.last_probs is not None:
            record.arrays["decision_boundary/probs"] = self.last_probs
            record.meta["decision_boundary"] = self.summary()

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.last_step}
        if self.last_probs is not None:
            out["probs"] = self.last_probs
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_step = int(state.get("step", 0))
        probs = state.get("probs")
        self.last_probs = np.asarray(probs) if probs is not None else None

    def summary(self) -> dict[str, Any]:
        return {"extent": list(self.extent), "resolution": self.resolution, "step": self.last_step}
