"""DiagnosticsHook: runs the checks of `checks.py` during a run and reports what it finds.

Each finding is emitted once (per kind and layer) as a DiagnosticSnapshot for the panel
and the curve markers, and as a Notice for the status line; all of them are saved in the
run's meta["diagnostics"]. The per-layer checks read the probes' latest snapshot where the
probe feature publishes it (RunContext.shared["probes"]).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from engine.config import DiagnosticsConfig
from engine.diagnostics.checks import (
    Diagnostic,
    check_initial_loss,
    is_overfitting,
    is_underfitting,
    layer_findings,
    loss_too_slow,
)
from engine.diagnostics.snapshot import DiagnosticSnapshot, to_record
from engine.events import Notice
from engine.states import RunState
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext


@torch.no_grad()
def initial_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, max_samples: int = 4096) -> float:
    """Mean cross-entropy of the model on (the first `max_samples` of) x, in eval mode."""
    was = model.training
    model.eval()
    try:
        out = model(x[:max_samples])
        return float(nn.functional.cross_entropy(out, y[:max_samples]))
    finally:
        model.train(was)


PROBES = "probes"  # where the probe feature publishes its latest statistics (RunContext.shared)


class DiagnosticsHook(TrainerHook):
    name = "diagnostics"

    def __init__(self, cfg: DiagnosticsConfig) -> None:
        self.cfg = cfg
        self.found: list[Diagnostic] = []
        self._seen: set[tuple[str, str]] = set()
        self._probe_step = -1
        self.initial_loss = math.nan

    def _raise(self, ctx: RunContext, d: Diagnostic) -> None:
        key = (d.kind, d.layer)
        if key in self._seen:
            return
        self._seen.add(key)
        self.found.append(d)
        ctx.emit(DiagnosticSnapshot(ctx.run_id, d))
        ctx.emit(Notice(ctx.run_id, d.message, d.level))

    def on_start(self, ctx: RunContext) -> None:
        self.initial_loss = initial_loss(ctx.model, ctx.data.x_train, ctx.data.y_train)
        self._raise(ctx, check_initial_loss(self.initial_loss, ctx.data.n_classes, self.cfg.initial_loss_tolerance))
        self._check_layers(ctx)

    def after_step(self, ctx: RunContext) -> None:
        p = ctx.shared.get(PROBES)
        if p is not None and p.step != self._probe_step:
            self._check_layers(ctx)

    def _check_layers(self, ctx: RunContext) -> None:
        snap = ctx.shared.get(PROBES)  # a ProbeSnapshot
        if snap is None:
            return
        self._probe_step = snap.step
        labels, kinds = snap.layers.labels("act"), snap.layers.kinds("act")
        act = snap.act.arrays()
        for d in layer_findings(snap.step, labels, kinds, act, self.cfg.saturation_warn, self.cfg.dead_warn):
            self._raise(ctx, d)

    def on_epoch_end(self, ctx: RunContext, metrics: Mapping[str, float]) -> None:
        step, epoch = ctx.step, ctx.epoch
        train = ctx.read_series("epoch/train_loss")
        val = ctx.read_series("epoch/val_loss")
        loss = metrics["train_loss"]
        if math.isfinite(self.initial_loss) and math.isfinite(loss) and loss > 1.5 * self.initial_loss:
            self._raise(
                ctx,
                Diagnostic(
                    "lr_too_high",
                    "warning",
                    step,
                    f"the training loss rose from "
                    f"{self.initial_loss:.3g} to {loss:.3g}: the learning rate is likely "
                    "too high",
                    epoch,
                    value=loss,
                ),
            )
        too_high = ("lr_too_high", "") in self._seen
        if (
            epoch == self.cfg.slow_loss_epochs
            and not too_high
            and loss_too_slow(self.initial_loss, loss, metrics["train_acc"], self.cfg.slow_loss_drop)
        ):
            self._raise(
                ctx,
                Diagnostic(
                    "lr_too_low",
                    "warning",
                    step,
                    f"after {epoch} epochs the training "
                    f"loss only fell from {self.initial_loss:.3g} to {loss:.3g}: the "
                    "learning rate is likely too low",
                    epoch,
                    value=loss,
                ),
            )
        w = self.cfg.window
        if is_overfitting(train, val, w):
            self._raise(
                ctx,
                Diagnostic(
                    "overfitting",
                    "warning",
                    step,
                    f"overfitting: for {w} epochs the "
                    "training loss fell while the validation loss rose (best validation "
                    f"loss {np.min(val):.3g} at epoch {int(np.argmin(val)) + 1}): "
                    "regularize, get more data or stop early",
                    epoch,
                    value=float(val[-1]),
                ),
            )
        if is_underfitting(train, val, w, ctx.data.n_classes):
            self._raise(
                ctx,
                Diagnostic(
                    "underfitting",
                    "warning",
                    step,
                    f"underfitting: training and "
                    f"validation losses are both high ({train[-1]:.3g}, {val[-1]:.3g}) "
                    "and close, and no longer falling: train longer or use a bigger "
                    "model",
                    epoch,
                    value=float(train[-1]),
                ),
            )

    def on_finish(self, ctx: RunContext) -> None:
        if ctx.state != RunState.DIVERGED:
            return
        loss = ctx.read_series("step/loss")
        step = ctx.step
        if len(loss):
            bad = ~np.isfinite(loss)
            if bad.any():
                step = int(np.argmax(bad)) + 1
        self._raise(
            ctx,
            Diagnostic(
                "divergence",
                "error",
                step,
                ctx.message or "the loss became NaN/Inf: the learning rate is likely too high",
                ctx.epoch,
            ),
        )

    def export(self, record: RunRecord) -> None:
        _, meta = to_record([DiagnosticSnapshot(record.name, d) for d in self.found])
        record.meta.update(meta)

    def state_dict(self) -> dict[str, Any]:
        return {
            "found": [d.to_json() for d in self.found],
            "seen": sorted([list(k) for k in self._seen]),
            "initial_loss": self.initial_loss if math.isfinite(self.initial_loss) else None,
            "probe_step": self._probe_step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.found = [Diagnostic.from_json(d) for d in state.get("found", [])]
        self._seen = {(str(kind), str(layer)) for kind, layer in state.get("seen", [])}
        loss = state.get("initial_loss")
        self.initial_loss = float(loss) if loss is not None else math.nan
        self._probe_step = int(state.get("probe_step", -1))
