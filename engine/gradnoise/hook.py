"""GradientNoiseHook: measures the minibatch gradients' noise (measure.py) at init, every
`every` steps and at the end, on a fixed, seeded subset of the training set, and emits each
measurement as a GradientNoiseSnapshot. Between two steps only: the model is not changing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.config import ProbesConfig
from engine.gradnoise.measure import gradient_noise, reference_subset, weight_layers
from engine.gradnoise.snapshot import KEY, GradientNoiseSnapshot, from_members, to_record
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext


class GradientNoiseHook(TrainerHook):
    name = "gradient_noise"

    def __init__(self, cfg: ProbesConfig, seed: int = 0) -> None:
        self.every = cfg.gradient_noise_every
        self.samples = cfg.gradient_noise_samples
        self.batch_sizes = list(cfg.gradient_noise_batch_sizes)
        self.draws = cfg.gradient_noise_draws
        self.seed = seed
        self.snapshots: list[GradientNoiseSnapshot] = []
        self._x: torch.Tensor | None = None
        self._y: torch.Tensor | None = None
        self._gen = torch.Generator().manual_seed(seed + 5)
        self._last_step = -1

    def setup(self, ctx: RunContext) -> None:
        self._x, self._y = reference_subset(ctx.data.x_train, ctx.data.y_train, self.samples, self.seed)

    def _measure(self, ctx: RunContext) -> None:
        if self._x is None or self._y is None or ctx.step == self._last_step:
            return
        self._last_step = ctx.step
        sizes, rel, cos = gradient_noise(ctx.model, self._x, self._y, self.batch_sizes, self.draws, self._gen)
        labels = tuple(label for label, _ in weight_layers(ctx.model))
        snap = GradientNoiseSnapshot(
            ctx.run_id, ctx.step, labels, tuple(sizes), int(self._x.shape[0]), self.draws, rel, cos
        )
        self.snapshots.append(snap)
        ctx.emit(snap)

    def on_start(self, ctx: RunContext) -> None:
        self._measure(ctx)

    def after_step(self, ctx: RunContext) -> None:
        if ctx.step % self.every == 0:
            self._measure(ctx)

    def on_finish(self, ctx: RunContext) -> None:
        self._measure(ctx)

    def export(self, record: RunRecord) -> None:
        arrays, meta = to_record(self.snapshots)
        record.arrays.update(arrays)
        record.meta.update(meta)

    def state_dict(self) -> dict[str, Any]:
        arrays, meta = to_record(self.snapshots)
        out: dict[str, Any] = {k.removeprefix(f"{KEY}/"): v for k, v in arrays.items()}
        out.update({"meta": meta.get(KEY), "generator": self._gen.get_state().numpy(), "last": self._last_step})
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        arrays = {f"{KEY}/{k}": np.asarray(state[k]) for k in ("steps", "rel_var", "cosine") if k in state}
        meta = state.get("meta")
        self.snapshots = from_members("", arrays, {KEY: meta}) if meta is not None else []
        gen = state.get("generator")
        if gen is not None:
            self._gen.set_state(torch.as_tensor(np.asarray(gen), dtype=torch.uint8))
        self._last_step = int(state.get("last", -1))
