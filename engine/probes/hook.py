"""ProbeHook: per-layer histograms and statistics of activations, gradients and weights.

Every `probes.every` steps (and once at init) the hook:
- runs the model in eval mode, without gradients, on a fixed probe batch, with forward
  hooks on every activation module (found by type) that are attached only for that pass;
- reads the gradients the training step just computed: weight gradients per layer and,
  through tensor hooks attached to the activation outputs for that one step only, the
  back-propagated gradients per activation layer;
- measures the update-to-weight ratio ||ΔW|| / ||W|| of the step.
Between probes it does nothing, so training runs at full speed. When `max_snapshots` are
stored, every other one is dropped and the interval doubles: cost and memory stay bounded
whatever the run length.

Each probe is a ProbeSnapshot (engine/probes/snapshot.py): emitted live, kept for the
session, and published as `ctx.shared[SHARED_KEY]` for the features that read the latest
statistics (the diagnostics).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from engine.config import ProbesConfig
from engine.flat import FlatCopy
from engine.model.modes import mode_dependent
from engine.probes.layers import activation_layers, weight_layers
from engine.probes.snapshot import LayerStats, ProbedLayers, ProbeSnapshot, stack, to_record, unstack
from engine.probes.stats import BinLayout, GrowingRange, LayerSummary, summarize_groups
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext

SHARED_KEY = "probes"  # ctx.shared[SHARED_KEY]: the latest ProbeSnapshot
# For the update sizes (engine/updates), which then need no copy and no norms of their own:
WEIGHTS_BEFORE_KEY = "probes/weights_before"  # (step number after it, flat weights before it)
UPDATE_NORMS_KEY = "probes/update_norms"  # (step number, ‖ΔW‖ per weight layer, ‖W‖ before it)


def probe_batch(x: torch.Tensor, y: torch.Tensor, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, seeded subset of the training data (sorted indices: reproducible order)."""
    n = int(x.shape[0])
    g = torch.Generator().manual_seed(seed + 2)
    idx = torch.randperm(n, generator=g)[: min(size, n)].sort().values.to(x.device)
    return x[idx], y[idx]


def _layer_stats(s: LayerSummary) -> LayerStats:
    """A group's summary as the snapshot's statistics (the same arrays, not copied)."""
    extra = s.extra
    return LayerStats(
        s.hist,
        s.range,
        s.mean,
        s.std,
        s.norm,
        s.count,
        s.nonfinite,
        extra.get("saturated"),
        extra.get("dead"),
        extra.get("unit_spread"),
    )


class ProbeHook(TrainerHook):
    name = "probes"

    def __init__(self, cfg: ProbesConfig) -> None:
        self.cfg = cfg
        self.every = cfg.every
        self.snapshots: list[ProbeSnapshot] = []
        self.latest: ProbeSnapshot | None = None
        self._acts: list = []
        self._wlayers: list = []
        self._ranges: dict[str, list[GrowingRange]] = {}
        self._capture: list[torch.Tensor | None] = []  # the step's activation gradients
        self._retained: list[torch.Tensor | None] = []  # the step's activation outputs, grads retained
        self._capture_fns: list = []
        self._handles: list = []
        self._w_before: torch.Tensor | None = None  # the weights before a probed step, flat
        self._w_copy = FlatCopy()  # ... taken into this buffer, kept between probes
        self._layers: ProbedLayers | None = None
        self._run_id = ""
        self._kinds: list[str] = []  # the activation layers' kinds
        self._prelu: list[nn.PReLU] = []  # the PReLU modules among them
        self._sequential = False  # forward by walking the model's children (no hooks needed)
        self._walk: list = []  # ... these: (child, activation index or None)
        self._probing = False
        self._x: torch.Tensor | None = None
        self._last_step = -1
        self._mode_dependent = True
        self._layout = BinLayout()  # the binning layout, reused while no range grows

    # -- set-up -------------------------------------------------------------------------
    def setup(self, ctx: RunContext) -> None:
        model = ctx.model
        self._acts = activation_layers(model)
        self._wlayers = weight_layers(model)
        self._mode_dependent = mode_dependent(model)
        children = {id(m) for m in model.children()}
        self._capture_fns = [self._retain(i) for i in range(len(self._acts))]
        self._kinds = [layer.kind for layer, _ in self._acts]
        self._prelu = [m for _, m in self._acts if isinstance(m, nn.PReLU)]
        self._sequential = (
            isinstance(model, nn.Sequential)
            and type(model).forward is nn.Sequential.forward
            and all(id(m) in children for _, m in self._acts)
        )
        # The walk: each child up to the last activation layer (the layers after it only
        # compute the output, which no probe reads), with the activation's index or None.
        position = {id(m): i for i, (_, m) in enumerate(self._acts)}
        walk: list[tuple[nn.Module, int | None]] = []
        if self._sequential and isinstance(model, nn.Sequential):
            walk = [(m, position.get(id(m))) for m in model]
        while walk and walk[-1][1] is None:
            walk.pop()
        self._walk = walk
        self._run_id = ctx.run_id
        self._x, _ = probe_batch(ctx.data.x_train, ctx.data.y_train, self.cfg.batch_size, ctx.config.seed)
        self._layers = ProbedLayers(
            tuple(layer for layer, _ in self._acts),
            tuple(layer for layer, _ in self._wlayers),
            self.cfg.bins,
            int(self._x.shape[0]),
        )
        self._ranges = {
            "act": [GrowingRange() for _ in self._acts],
            "agrad": [GrowingRange() for _ in self._acts],
            "grad": [GrowingRange() for _ in self._wlayers],
            "weight": [GrowingRange() for _ in self._wlayers],
        }

    def on_start(self, ctx: RunContext) -> None:
        self._probe(ctx, with_grads=False)

    def on_resume(self, ctx: RunContext) -> None:
        if self.latest is not None:  # (the views have them from the saved run)
            ctx.shared[SHARED_KEY] = self.latest

    @property
    def layers(self) -> ProbedLayers:
        """The probed layers and settings (known after setup)."""
        if self._layers is None:
            raise RuntimeError("the probes are not set up")
        return self._layers

    # -- the step -----------------------------------------------------------------------
    def before_step(self, ctx: RunContext, xb: torch.Tensor, yb: torch.Tensor) -> None:
        if (ctx.step + 1) % self.every:
            return
        self._probing = True
        if not self.cfg.gradients:
            return
        self._w_before = self._w_copy.take([m.weight for _, m in self._wlayers])
        ctx.shared[WEIGHTS_BEFORE_KEY] = (ctx.step + 1, self._w_before)
        self._retained = [None] * len(self._acts)
        self._handles = [m.register_forward_hook(fn) for (_, m), fn in zip(self._acts, self._capture_fns)]

    def _retain(self, i: int):
        """A forward hook that keeps the gradient of the activation's output (its first use in
        the step): retain_grad stores it during backward without calling back into Python."""

        def fwd(_m, _inp, out) -> None:
            if isinstance(out, torch.Tensor) and out.requires_grad and self._retained[i] is None:
                out.retain_grad()
                self._retained[i] = out

        return fwd

    def after_step(self, ctx: RunContext) -> None:
        if not self._probing:
            return
        self._probing = False
        for h in self._handles:
            h.remove()
        self._handles = []
        self._capture = [o.grad.detach() if o is not None and o.grad is not None else None for o in self._retained]
        self._retained = []
        self._probe(ctx, with_grads=self.cfg.gradients)

    def on_finish(self, ctx: RunContext) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        if self._acts is not None and ctx.step != self._last_step and self._x is not None:
            self._probe(ctx, with_grads=False)

    # -- one probe ------------------------------------------------------------------------
    @torch.no_grad()
    def _forward_activations(self, ctx: RunContext) -> list[torch.Tensor]:
        assert self._x is not None  # the probe batch, chosen in setup
        outs: list[torch.Tensor | None] = [None] * len(self._acts)

        def make(i: int):
            def fwd(_m, _inp, out) -> None:
                outs[i] = out.detach() if isinstance(out, torch.Tensor) else None

            return fwd

        model = ctx.model
        # A plain Sequential is walked child by child and the activations are its children's
        # outputs; anything else is run whole with forward hooks on the activation modules.
        handles = [] if self._sequential else [m.register_forward_hook(make(i)) for i, (_, m) in enumerate(self._acts)]
        # Eval mode: deterministic, and batch norm's running statistics stay untouched (the
        # switch itself walks every module, so it is skipped where it changes nothing).
        switch = model.training and self._mode_dependent
        if switch:
            model.eval()
        try:
            if self._sequential:
                h = self._x
                for m, i in self._walk:
                    h = m(h)
                    if i is not None:
                        outs[i] = h if isinstance(h, torch.Tensor) else None
            else:
                model(self._x)
        finally:
            if switch:
                model.train()
            for h in handles:
                h.remove()
        return [o if o is not None else torch.zeros(0, device=self._x.device) for o in outs]

    def _probe(self, ctx: RunContext, with_grads: bool) -> None:
        bins = self.cfg.bins
        acts = self._forward_activations(ctx)
        assert self._x is not None  # the probe batch, chosen in setup
        # The parameters themselves (the statistics only read them; no detached copies).
        weights = [m.weight for _, m in self._wlayers]
        grads = [w.grad for w in weights] if with_grads else []
        has_grads = with_grads and all(g is not None for g in grads)
        groups = [(acts, self._ranges["act"], self._kinds), (weights, self._ranges["weight"], None)]
        if has_grads:
            caught = [c if c is not None else torch.zeros(0, device=self._x.device) for c in self._capture]
            groups += [(grads, self._ranges["grad"], None), (caught, self._ranges["agrad"], None)]
        # Read along with the summaries (one device→host copy per probe): the PReLU slopes, and
        # (`previous`) the norms of each layer's update and of its weights before it.
        along: list[torch.Tensor] = []
        prelu_at = -1
        previous = (1, self._w_before) if has_grads and self._w_before is not None and weights else None
        if self._prelu:
            prelu_at, along = len(along), along + [torch.stack([m.weight.detach().float().mean() for m in self._prelu])]
        summaries, host = summarize_groups(groups, bins, layout=self._layout, read_along=along, previous=previous)
        n_acts, n_weights = len(self._acts), len(self._wlayers)
        ratio = np.full(n_weights, np.nan)
        if has_grads:
            grad, agrad = _layer_stats(summaries[2]), _layer_stats(summaries[3])
            if previous is not None:
                norms = host[-1]
                num, den = norms[: len(weights)], norms[len(weights) :]
                ratio = num / np.maximum(den, 1e-30)
                ctx.shared[UPDATE_NORMS_KEY] = (int(ctx.step), num.copy(), den.copy())
        else:
            grad, agrad = LayerStats.empty(n_weights, bins), LayerStats.empty(n_acts, bins)
        self._capture = []
        self._w_before = None
        slopes = iter(host[prelu_at] if prelu_at >= 0 else ())
        slope = np.array([next(slopes) if layer.kind == "prelu" else np.nan for layer, _ in self._acts], np.float64)
        snap = ProbeSnapshot(
            ctx.run_id,
            step=int(ctx.step),
            every=self.every,
            layers=self.layers,
            act=_layer_stats(summaries[0]),
            agrad=agrad,
            grad=grad,
            weight=_layer_stats(summaries[1]),
            update_ratio=ratio,
            prelu_slope=slope,
        )
        self._last_step = ctx.step
        self.snapshots.append(snap)
        if len(self.snapshots) > self.cfg.max_snapshots:
            # Keep the one at init and every other one after it; probe half as often from now on
            # (the snapshot says so, and so does the last one kept: the record's interval).
            self.snapshots = self.snapshots[::2]
            self.every *= 2
            snap = dataclasses.replace(snap, every=self.every)
            self.snapshots[-1] = dataclasses.replace(self.snapshots[-1], every=self.every)
        self.latest = snap
        ctx.shared[SHARED_KEY] = snap
        ctx.emit(snap)

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"every": self.every, "last_step": self._last_step}
        for g, ranges in self._ranges.items():
            out[f"ranges/{g}"] = np.array([[r.lo, r.hi, r.grown] for r in ranges], dtype=np.float64).reshape(-1, 3)
        if self.snapshots:
            out.update(stack(self.snapshots, "snapshots"))
        if self.latest is not None:
            out.update(stack([self.latest], "latest"))
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.every = int(state.get("every", self.every))
        self._last_step = int(state.get("last_step", self._last_step))
        for g, ranges in self._ranges.items():
            rows = state.get(f"ranges/{g}")
            if rows is not None and len(rows) == len(ranges):
                for r, (lo, hi, grown) in zip(ranges, np.asarray(rows, dtype=np.float64)):
                    r.lo, r.hi, r.grown = float(lo), float(hi), int(grown)
        self.snapshots = (
            unstack(state, self.layers, self.every, self._run_id, "snapshots") if "snapshots/steps" in state else []
        )
        latest = unstack(state, self.layers, self.every, self._run_id, "latest") if "latest/steps" in state else []
        self.latest = latest[0] if latest else (self.snapshots[-1] if self.snapshots else None)

    # -- session ----------------------------------------------------------------------------
    def export(self, record: RunRecord) -> None:
        arrays, meta = to_record(self.snapshots)
        record.arrays.update(arrays)
        record.meta.update(meta)
