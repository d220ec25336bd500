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

After each probe the hook publishes `ctx.shared[SHARED_KEY]`: {"step", "snapshot" (the
statistics by group), "layers" (layers_meta())}, for the features that read them (the
diagnostics).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from engine.config import ProbesConfig
from engine.events import Payload
from engine.flat import FlatCopy
from engine.model.modes import mode_dependent
from engine.probes.layers import activation_layers, weight_layers
from engine.probes.stats import BinLayout, GrowingRange, LayerSummary, summarize_groups
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext

GROUPS = ("act", "agrad", "grad", "weight")  # activations, their gradients, weight gradients, weights
SHARED_KEY = "probes"


def probe_batch(x: torch.Tensor, y: torch.Tensor, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, seeded subset of the training data (sorted indices: reproducible order)."""
    n = int(x.shape[0])
    g = torch.Generator().manual_seed(seed + 2)
    idx = torch.randperm(n, generator=g)[: min(size, n)].sort().values.to(x.device)
    return x[idx], y[idx]


class ProbeHook(TrainerHook):
    name = "probes"

    def __init__(self, cfg: ProbesConfig) -> None:
        self.cfg = cfg
        self.every = cfg.every
        self.snapshots: list[dict[str, Any]] = []
        self.latest: dict[str, Any] | None = None
        self._acts: list = []
        self._wlayers: list = []
        self._ranges: dict[str, list[GrowingRange]] = {}
        self._capture: list[torch.Tensor | None] = []  # the step's activation gradients
        self._retained: list[torch.Tensor | None] = []  # the step's activation outputs, grads retained
        self._capture_fns: list = []
        self._handles: list = []
        self._w_before: torch.Tensor | None = None  # the weights before a probed step, flat
        self._w_copy = FlatCopy()  # ... taken into this buffer, kept between probes
        self._meta: dict[str, Any] | None = None
        self._kinds: list[str] = []  # the activation layers' kinds
        self._prelu: list[nn.Module] = []  # the PReLU modules among them
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
        self._prelu = [m for layer, m in self._acts if layer.kind == "prelu"]
        self._sequential = (
            isinstance(model, nn.Sequential)
            and type(model).forward is nn.Sequential.forward
            and all(id(m) in children for _, m in self._acts)
        )
        # The walk: each child up to the last activation layer (the layers after it only
        # compute the output, which no probe reads), with the activation's index or None.
        position = {id(m): i for i, (_, m) in enumerate(self._acts)}
        walk = [(m, position.get(id(m))) for m in model] if self._sequential else []
        while walk and walk[-1][1] is None:
            walk.pop()
        self._walk = walk
        self._meta = None
        self._x, _ = probe_batch(ctx.data.x_train, ctx.data.y_train, self.cfg.batch_size, ctx.config.seed)
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
            ctx.shared[SHARED_KEY] = {
                "step": self.latest["step"],
                "snapshot": self.latest,
                "layers": self.layers_meta(),
            }

    def layers_meta(self) -> dict[str, Any]:
        """The probed layers and settings (the same dict while they do not change)."""
        if self._meta is None or self._meta["every"] != self.every:
            self._meta = self._layers_meta()
        return self._meta

    def _layers_meta(self) -> dict[str, Any]:
        return {
            "activations": [layer.to_json() for layer, _ in self._acts],
            "weights": [layer.to_json() for layer, _ in self._wlayers],
            "every": self.every,
            "bins": self.cfg.bins,
            "probe_batch": int(self._x.shape[0]) if self._x is not None else 0,
        }

    # -- the step -----------------------------------------------------------------------
    def before_step(self, ctx: RunContext, xb: torch.Tensor, yb: torch.Tensor) -> None:
        if (ctx.step + 1) % self.every:
            return
        self._probing = True
        if not self.cfg.gradients:
            return
        self._w_before = self._w_copy.take([m.weight for _, m in self._wlayers])
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
        snap: dict[str, Any] = {"step": int(ctx.step)}
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
        along = []
        prelu_at = -1
        previous = (1, self._w_before) if has_grads and self._w_before is not None and weights else None
        if self._prelu:
            prelu_at, along = len(along), along + [torch.stack([m.weight.detach().float().mean() for m in self._prelu])]
        summaries, host = summarize_groups(groups, bins, layout=self._layout, read_along=along, previous=previous)
        snap["act"], snap["weight"] = summaries[0].as_dict(), summaries[1].as_dict()
        if has_grads:
            snap["grad"], snap["agrad"] = summaries[2].as_dict(), summaries[3].as_dict()
            if previous is not None:
                norms = host[-1]
                num, den = norms[: len(weights)], norms[len(weights) :]
                snap["update_ratio"] = num / np.maximum(den, 1e-30)
        else:
            snap["grad"] = _empty(len(self._wlayers), bins)
            snap["agrad"] = _empty(len(self._acts), bins)
        snap.setdefault("update_ratio", np.full(len(self._wlayers), math.nan))
        self._capture = []
        self._w_before = None
        slopes = iter(host[prelu_at] if prelu_at >= 0 else ())
        snap["prelu_slope"] = np.array(
            [next(slopes) if layer.kind == "prelu" else math.nan for layer, _ in self._acts], dtype=np.float64
        )
        self._last_step = ctx.step
        self.snapshots.append(snap)
        self.latest = snap
        if len(self.snapshots) > self.cfg.max_snapshots:
            # Keep the one at init and every other one after it; probe half as often from now on.
            self.snapshots = self.snapshots[::2]
            self.every *= 2
        self._publish(ctx, snap)

    def _publish(self, ctx: RunContext, snap: dict[str, Any]) -> None:
        layers = self.layers_meta()
        ctx.shared[SHARED_KEY] = {"step": snap["step"], "snapshot": snap, "layers": layers}
        data = {"step": snap["step"], "layers": layers, "every": self.every}
        data.update({g: snap[g] for g in GROUPS})
        data["update_ratio"] = snap["update_ratio"]
        data["prelu_slope"] = snap["prelu_slope"]
        ctx.emit(Payload(ctx.run_id, "probes", data))

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"every": self.every, "last_step": self._last_step}
        for g, ranges in self._ranges.items():
            out[f"ranges/{g}"] = np.array([[r.lo, r.hi, r.grown] for r in ranges], dtype=np.float64).reshape(-1, 3)
        if self.snapshots:
            out.update(_stack_snapshots("snapshots", self.snapshots))
        if self.latest is not None:
            out.update(_stack_snapshots("latest", [self.latest]))
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.every = int(state.get("every", self.every))
        self._last_step = int(state.get("last_step", self._last_step))
        for g, ranges in self._ranges.items():
            rows = state.get(f"ranges/{g}")
            if rows is not None and len(rows) == len(ranges):
                for r, (lo, hi, grown) in zip(ranges, np.asarray(rows, dtype=np.float64)):
                    r.lo, r.hi, r.grown = float(lo), float(hi), int(grown)
        self.snapshots = _unstack_snapshots("snapshots", state)
        latest = _unstack_snapshots("latest", state)
        self.latest = latest[0] if latest else (self.snapshots[-1] if self.snapshots else None)
        self._meta = None

    # -- session ----------------------------------------------------------------------------
    def export(self, record: RunRecord) -> None:
        if not self.snapshots:
            return
        record.arrays.update(_stack_snapshots("probes", self.snapshots))
        meta = self.layers_meta()
        meta["effective_every"] = self.every
        record.meta["probes"] = meta


def _stack_snapshots(prefix: str, snaps: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Snapshots as arrays over the snapshots: <prefix>/steps, <prefix>/<group>/<key>, ..."""
    out = {f"{prefix}/steps": np.array([s["step"] for s in snaps], dtype=np.int64)}
    for g in GROUPS:
        for key in snaps[0][g]:
            out[f"{prefix}/{g}/{key}"] = np.stack([s[g][key] for s in snaps])
    out[f"{prefix}/update_ratio"] = np.stack([s["update_ratio"] for s in snaps])
    out[f"{prefix}/prelu_slope"] = np.stack([s["prelu_slope"] for s in snaps])
    return out


def _unstack_snapshots(prefix: str, state: dict[str, Any]) -> list[dict[str, Any]]:
    """What _stack_snapshots stored, as the list of snapshots again."""
    steps = state.get(f"{prefix}/steps")
    if steps is None:
        return []
    snaps: list[dict[str, Any]] = [{"step": int(s)} for s in np.asarray(steps)]
    for g in GROUPS:
        head = f"{prefix}/{g}/"
        for k, v in state.items():
            if k.startswith(head):
                for i, snap in enumerate(snaps):
                    snap.setdefault(g, {})[k[len(head) :]] = np.asarray(v)[i]
    for key in ("update_ratio", "prelu_slope"):
        values = np.asarray(state[f"{prefix}/{key}"])
        for i, snap in enumerate(snaps):
            snap[key] = values[i]
    return snaps


def _empty(n: int, bins: int) -> dict[str, np.ndarray]:
    nan = np.full(n, math.nan)
    return LayerSummary(
        hist=np.zeros((n, bins), np.float32),
        range=np.full((n, 2), math.nan),
        mean=nan,
        std=nan.copy(),
        norm=nan.copy(),
        count=np.zeros(n),
        nonfinite=np.zeros(n),
    ).as_dict()
