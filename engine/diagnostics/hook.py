"""DiagnosticsHook: runs the checks of `checks.py` during a run and reports what it finds.

Each finding is emitted once (per kind and layer) as a DiagnosticSnapshot for the panel
and the curve markers; all of them are saved in the run's meta["diagnostics"]. Findings
are ranked by cause (checks.CAUSE_RANK): only one that is now the highest-ranked goes out
as a Notice for the status line, so a lower-ranked symptom never hides its cause there,
and the over/underfitting verdicts are not given while a cause is active. The per-layer
checks read the probes' latest snapshot where the probe feature publishes it
(RunContext.shared["probes"]); the epoch checks read the eval-mode training loss
(epoch/train_loss_eval), which neither dropout nor batch statistics distort.
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
    CAUSE_RANK,
    CAUSES,
    Diagnostic,
    check_initial_loss,
    is_overfitting,
    is_underfitting,
    layer_findings,
    lr_verdict,
    near_chance,
    rank,
    top_finding,
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
        self._lr_checked = False
        self.initial_loss = math.nan

    def _raise(self, ctx: RunContext, d: Diagnostic) -> None:
        key = (d.kind, d.layer)
        if key in self._seen:
            return
        self._seen.add(key)
        top = top_finding(self.found)
        self.found.append(d)
        ctx.emit(DiagnosticSnapshot(ctx.run_id, d))
        if top is None or rank(d) <= rank(top):
            ctx.emit(Notice(ctx.run_id, d.message, d.level))

    def top(self) -> Diagnostic | None:
        """The highest-ranked finding so far (what the status line shows)."""
        return top_finding(self.found)

    def _cause_active(self) -> bool:
        return any(d.kind in CAUSES and d.level != "info" for d in self.found)

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
        # The eval-mode training loss (a fixed subset, the model at the epoch's end); runs
        # saved without it fall back to the running training-mode mean.
        name = "train_loss_eval" if "train_loss_eval" in metrics else "train_loss"
        train = ctx.read_series(f"epoch/{name}")
        val = ctx.read_series("epoch/val_loss")
        loss = metrics[name]
        acc = metrics.get("train_acc_eval", metrics["train_acc"])
        # A rise: the running mean too, which holds the epoch's spikes (a step that kills
        # the ReLUs shows only there).
        peak = max(loss, metrics["train_loss"])
        if math.isfinite(self.initial_loss) and math.isfinite(peak) and peak > 1.5 * self.initial_loss:
            self._raise(
                ctx,
                Diagnostic(
                    "lr_too_high",
                    "warning",
                    step,
                    f"the training loss rose from "
                    f"{self.initial_loss:.3g} to {peak:.3g}: the learning rate is likely "
                    "too high",
                    epoch,
                    value=peak,
                ),
            )
        if not self._lr_checked and epoch >= self.cfg.slow_loss_epochs and step >= self.cfg.slow_loss_steps:
            self._lr_checked = True
            self._check_lr(ctx, train, acc)
        n_classes = ctx.data.n_classes
        w = self.cfg.window
        # No overfitting verdict for a model that fits nothing (its loss only wanders), and
        # no "train longer" advice while a cause (lr, dead units, symmetry...) is active.
        if is_overfitting(train, val, w) and not near_chance(acc, n_classes):
            self._raise(
                ctx,
                Diagnostic(
                    "overfitting",
                    "warning",
                    step,
                    f"overfitting: for {w} epochs the "
                    "training loss (eval mode) fell while the validation loss rose (best validation "
                    f"loss {np.min(val):.3g} at epoch {int(np.argmin(val)) + 1}): "
                    "regularize, get more data or stop early",
                    epoch,
                    value=float(val[-1]),
                ),
            )
        if not self._cause_active() and is_underfitting(train, val, w, n_classes):
            self._raise(
                ctx,
                Diagnostic(
                    "underfitting",
                    "warning",
                    step,
                    f"underfitting: training (eval mode) and "
                    f"validation losses are both high ({train[-1]:.3g}, {val[-1]:.3g}) "
                    "and close, and no longer falling: train longer or use a bigger "
                    "model",
                    epoch,
                    value=float(train[-1]),
                ),
            )

    def _check_lr(self, ctx: RunContext, train: np.ndarray, acc: float) -> None:
        """Once, after slow_loss_epochs epochs and slow_loss_steps steps: no progress since
        init is an lr too high when the loss jumped up and down, too low when it crept."""
        if ("lr_too_high", "") in self._seen:
            return
        verdict = lr_verdict(self.initial_loss, train, acc, self.cfg.slow_loss_drop)
        if not verdict:
            return
        loss, step, epoch = float(train[-1]), ctx.step, ctx.epoch
        if verdict == "too_high":
            peak = float(np.nanmax(train))
            message = (
                f"after {step} steps the training loss oscillates ({self.initial_loss:.3g} at init, "
                f"up to {peak:.3g}, now {loss:.3g}) without falling: the learning rate is likely too high"
            )
            self._raise(ctx, Diagnostic("lr_too_high", "warning", step, message, epoch, value=loss))
            return
        if any(rank(d) < CAUSE_RANK["lr_too_low"] for d in self.found):
            return  # dead/saturated units, symmetry or a bad init explain the slow progress
        message = (
            f"after {step} steps ({epoch} epochs) the training "
            f"loss only fell from {self.initial_loss:.3g} to {loss:.3g}: the "
            "learning rate is likely too low"
        )
        self._raise(ctx, Diagnostic("lr_too_low", "warning", step, message, epoch, value=loss))

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
            "lr_checked": self._lr_checked,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.found = [Diagnostic.from_json(d) for d in state.get("found", [])]
        self._seen = {(str(kind), str(layer)) for kind, layer in state.get("seen", [])}
        loss = state.get("initial_loss")
        self.initial_loss = float(loss) if loss is not None else math.nan
        self._probe_step = int(state.get("probe_step", -1))
        self._lr_checked = bool(state.get("lr_checked", False))
