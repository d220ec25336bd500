"""WeightNormHook: every `every` steps (and at init and at the end) the L2 norm of each
weight layer, read from the device in one copy, goes out as a WeightNormSnapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from engine.train.hooks import HookState, TrainerHook
from engine.weightnorm.snapshot import WeightNormSnapshot, to_record

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext


def layer_label(weight: torch.Tensor, k: int, kind: str) -> str:
    """ "Linear 2 (16→16)", "Conv2d 1 (1→16, 3×3)": the layer's kind, position and shape."""
    out_f, in_f, *kernel = weight.shape
    extra = ", " + "×".join(map(str, kernel)) if kernel else ""
    return f"{kind} {k} ({in_f}→{out_f}{extra})"


class WeightNormHook(TrainerHook):
    name = "weight_norms"

    def __init__(self, every: int) -> None:
        self.every = max(1, int(every))
        self.snapshots: list[WeightNormSnapshot] = []
        self._names: tuple[str, ...] = ()
        self._weights: list[torch.Tensor] = []
        self._run_id = ""

    def setup(self, ctx: RunContext) -> None:
        self._run_id = ctx.run_id
        # Weight matrices and kernels (2-D and up); biases and norm scales are left out.
        layers: list[tuple[str, torch.Tensor]] = []
        for m in ctx.model.modules():
            w = getattr(m, "weight", None)
            if isinstance(w, torch.nn.Parameter) and w.dim() >= 2:
                layers.append((layer_label(w, len(layers) + 1, type(m).__name__), w))
        self._names = tuple(name for name, _ in layers)
        self._weights = [w for _, w in layers]

    def on_start(self, ctx: RunContext) -> None:
        self._record(ctx)

    def after_step(self, ctx: RunContext) -> None:
        if ctx.step % self.every == 0:
            self._record(ctx)

    def on_finish(self, ctx: RunContext) -> None:
        if not self.snapshots or self.snapshots[-1].step != ctx.step:
            self._record(ctx)

    @torch.no_grad()
    def _record(self, ctx: RunContext) -> None:
        if not self._weights:
            return
        norms = torch.stack([torch.linalg.vector_norm(w.detach(), dtype=torch.float64) for w in self._weights])
        snap = WeightNormSnapshot(ctx.run_id, int(ctx.step), self._names, norms.cpu().numpy())
        self.snapshots.append(snap)
        ctx.emit(snap)

    def export(self, record: RunRecord) -> None:
        arrays, meta = to_record(self.snapshots)
        record.arrays.update(arrays)
        record.meta.update(meta)

    def state_dict(self) -> HookState:
        if not self.snapshots:
            return {}
        return {
            "steps": np.array([s.step for s in self.snapshots], dtype=np.int64),
            "norms": np.stack([s.norms for s in self.snapshots]),
        }

    def load_state_dict(self, state: HookState) -> None:
        steps, norms = state.get("steps"), state.get("norms")
        if steps is None or norms is None:
            self.snapshots = []
            return
        self.snapshots = [
            WeightNormSnapshot(self._run_id, int(s), self._names, np.asarray(n, dtype=np.float64))
            for s, n in zip(steps, norms)
        ]
