"""DiagnosticsHook: runs the checks of `checks.py` during a run and reports what it finds.

Each finding is emitted once (per kind and layer) as a Payload (topic "diagnostics") for
the panel and the curve markers, and as a Notice for the status line; all of them are
saved in the run's meta["diagnostics"].
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

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
from engine.events import Notice, Payload
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.trainer import Trainer


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


class DiagnosticsHook(TrainerHook):
    name = "diagnostics"

    def __init__(self, cfg: DiagnosticsConfig) -> None:
        self.cfg = cfg
        self.found: list[Diagnostic] = []
        self._seen: set[tuple[str, str]] = set()
        self._probes = None
        self._probe_step = -1
        self.initial_loss = math.nan

    def _raise(self, trainer: Trainer, d: Diagnostic) -> None:
        key = (d.kind, d.layer)
        if key in self._seen:
            return
        self._seen.add(key)
        self.found.append(d)
        trainer.emit(Payload(trainer.run_id, "diagnostics", d.to_json()))
        trainer.emit(Notice(trainer.run_id, d.message, d.level))

    def on_start(self, trainer: Trainer) -> None:
        from engine.probes import ProbeHook

        self._probes = next((h for h in trainer.hooks if isinstance(h, ProbeHook)), None)
        self.initial_loss = initial_loss(trainer.model, trainer.data.x_train, trainer.data.y_train)
        self._raise(
            trainer, check_initial_loss(self.initial_loss, trainer.data.n_classes, self.cfg.initial_loss_tolerance)
        )
        self._check_layers(trainer)

    def after_step(self, trainer: Trainer) -> None:
        p = self._probes
        if p is not None and p.latest is not None and p.latest["step"] != self._probe_step:
            self._check_layers(trainer)

    def _check_layers(self, trainer: Trainer) -> None:
        p = self._probes
        if p is None or p.latest is None:
            return
        snap = p.latest
        self._probe_step = snap["step"]
        meta = p.layers_meta()["activations"]
        labels = [m["label"] for m in meta]
        kinds = [m["kind"] for m in meta]
        for d in layer_findings(snap["step"], labels, kinds, snap["act"], self.cfg.saturation_warn, self.cfg.dead_warn):
            self._raise(trainer, d)

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        step, epoch = trainer.step, trainer.epoch
        train = trainer.series["epoch/train_loss"].array()
        val = trainer.series["epoch/val_loss"].array()
        loss = metrics["train_loss"]
        if math.isfinite(self.initial_loss) and math.isfinite(loss) and loss > 1.5 * self.initial_loss:
            self._raise(
                trainer,
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
                trainer,
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
                trainer,
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
        if is_underfitting(train, val, w, trainer.data.n_classes):
            self._raise(
                trainer,
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

    def on_finish(self, trainer: Trainer) -> None:
        if trainer.state != "diverged":
            return
        loss = trainer.series.get("step/loss")
        step = trainer.step
        if loss is not None and len(loss):
            bad = ~np.isfinite(loss.array())
            if bad.any():
                step = int(np.argmax(bad)) + 1
        self._raise(
            trainer,
            Diagnostic(
                "divergence",
                "error",
                step,
                trainer.message or "the loss became NaN/Inf: the learning rate is likely too high",
                trainer.epoch,
            ),
        )

    def export(self, record: RunRecord) -> None:
        record.meta["diagnostics"] = [d.to_json() for d in self.found]
