"""UpdateHook: at the probe cadence (probes.every, doubling with the probes when
probes.max_snapshots are kept), the weights of each layer before the optimizer step are
compared with the weights after it; the optimizer's state is read right after the same step.

When the probes measure that step's update too (probes.gradients), their copy of the
weights and their norms ‖ΔW‖, ‖W‖ (published in ctx.shared; their hooks run first) are
used: no second copy, no second pass. Otherwise the hook copies the weights itself, into a
buffer kept between measurements. Off the cadence its before_step is one modulo and its
after_step one attribute test: no copy, no tensor work, no host-device read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.config import ProbesConfig
from engine.flat import FlatCopy, flat_views
from engine.probes.hook import UPDATE_NORMS_KEY, WEIGHTS_BEFORE_KEY
from engine.probes.layers import weight_layers
from engine.train.hooks import TrainerHook
from engine.updates.measure import state_names, state_table
from engine.updates.snapshot import KEY, UpdateSnapshot, from_members, to_record

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext


class UpdateHook(TrainerHook):
    name = "updates"

    def __init__(self, cfg: ProbesConfig) -> None:
        self.every = cfg.every
        self.max_snapshots = cfg.max_snapshots
        self.snapshots: list[UpdateSnapshot] = []
        self._params: list[torch.Tensor] = []
        self._weights: list[torch.Tensor] = []
        self.weights_copy_size = 0  # values in a flat copy of the weights
        self._labels: tuple[str, ...] = ()
        self.weights_copy = FlatCopy()  # its buffer is kept between probes
        self._before: torch.Tensor | None = None  # the weights before a probed step, flat

    def setup(self, ctx: RunContext) -> None:
        layers = weight_layers(ctx.model)
        # Detached views of the weights: the optimizer updates them in place, so they stay the
        # live weights, and nothing computed from them enters autograd.
        self._params = [w for _, m in layers if isinstance(w := m.weight, torch.Tensor)]  # torch.optim's state keys
        self._weights = [w.detach() for w in self._params]
        self.weights_copy_size = sum(w.numel() for w in self._weights)
        self._labels = tuple(layer.label for layer, _ in layers)
        self._views: list[torch.Tensor] = []
        self._views_of: torch.Tensor | None = None  # the copy buffer the views are of
        self._names: tuple[str, ...] = ()  # the optimizer's statistics (state_names) ...
        self._names_key: tuple[int, int] | None = None  # ... for this optimizer and state size

    def before_step(self, ctx: RunContext, xb: torch.Tensor, yb: torch.Tensor) -> None:
        if (ctx.step + 1) % self.every:
            return
        # The probes (before this hook) copy the same weights when they probe this step.
        shared = ctx.shared.get(WEIGHTS_BEFORE_KEY)
        if shared is not None and shared[0] == ctx.step + 1 and shared[1].numel() == self.weights_copy_size:
            self._before = shared[1]
        else:
            self._before = self.weights_copy.take(self._weights)

    def after_step(self, ctx: RunContext) -> None:
        before = self._before
        if before is None:
            return
        self._before = None
        self._measure(ctx, before)

    def _norms(self, ctx: RunContext, before: torch.Tensor) -> np.ndarray:
        """‖Δw‖ then ‖w‖ before the step, per layer (2L values): the probes' when they
        measured this step (their after_step runs first), else computed from `before`."""
        shared = ctx.shared.get(UPDATE_NORMS_KEY)
        n = len(self._weights)
        if shared is not None and shared[0] == ctx.step and len(shared[1]) == len(shared[2]) == n:
            return np.concatenate([shared[1], shared[2]]).astype(np.float64)
        if self._views_of is not before:
            self._views, self._views_of = flat_views(before, self._weights), before
        old = [v.float() for v in self._views] if before.dtype != torch.float32 else self._views
        norms = torch._foreach_norm(old)  # noqa: SLF001 - fused per-tensor norms, no public form
        deltas = torch._foreach_sub(old, self._weights)  # noqa: SLF001 - fused; w_before − w_after = −Δw
        both = [*torch._foreach_norm(deltas), *norms]  # noqa: SLF001 - fused per-tensor norms
        return torch.stack(both).float().cpu().numpy().astype(np.float64)

    def _measure(self, ctx: RunContext, before: torch.Tensor) -> None:
        norms = self._norms(ctx, before)
        opt = ctx.optimizer
        key = (id(opt), len(opt.state))  # another optimizer, or its state made or cleared
        if key != self._names_key:
            self._names, self._names_key = state_names(opt, self._params), key
        names = self._names
        n = len(self._weights)
        values = state_table(opt, self._params, names)
        snap = UpdateSnapshot(
            ctx.run_id,
            int(ctx.step),
            self.every,
            self._labels,
            ctx.config.optim.name,
            names,
            norms[:n],
            norms[n:],
            values,
        )
        self.snapshots.append(snap)
        if len(self.snapshots) >= self.max_snapshots:
            # As the probes do: keep every other one (the steps on the doubled cadence) and
            # measure half as often from now on.
            self.every *= 2
            self.snapshots = [s for s in self.snapshots if s.step % self.every == 0]
        ctx.emit(snap)

    def export(self, record: RunRecord) -> None:
        arrays, meta = to_record(self.snapshots)
        record.arrays.update(arrays)
        record.meta.update(meta)

    def state_dict(self) -> dict[str, Any]:
        arrays, meta = to_record(self.snapshots)
        out: dict[str, Any] = {k.removeprefix(f"{KEY}/"): v for k, v in arrays.items()}
        out.update({"meta": meta.get(KEY), "every": self.every})
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        names = ("steps", "update_norm", "weight_norm", "state")
        arrays = {f"{KEY}/{k}": np.asarray(state[k]) for k in names if k in state}
        meta = state.get("meta")
        self.snapshots = from_members("", arrays, {KEY: meta}) if meta is not None else []
        self.every = int(state.get("every", self.every))
