"""The typed hooks around a training step: the only way instrumentation enters the loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from engine.session.record import RunRecord
    from engine.train.trainer import Trainer


class TrainerHook:
    """Override what you need. Called on the engine thread, in this order per step:
    before_step → (forward/backward) → after_backward → (optimizer.step) → after_step;
    on_epoch_end after each epoch's evaluation; on_start once before the first step
    (weights at init); on_finish when the run ends for any reason."""

    name = "hook"

    def on_start(self, trainer: Trainer) -> None: ...
    def before_step(self, trainer: Trainer, xb: torch.Tensor, yb: torch.Tensor) -> None: ...
    def after_backward(self, trainer: Trainer) -> None: ...
    def after_step(self, trainer: Trainer) -> None: ...
    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None: ...
    def on_finish(self, trainer: Trainer) -> None: ...

    def export(self, record: RunRecord) -> None:
        """Add what this hook recorded to a session record (arrays and JSON meta)."""

    def state(self) -> dict[str, Any]:
        return {}


def default_hooks(trainer: Trainer) -> list[TrainerHook]:
    """The instrumentation a run gets from its config (probes, snapshots, ...)."""
    hooks: list[TrainerHook] = []
    cfg = trainer.config
    if cfg.probes.enabled:
        from engine.probes import ProbeHook

        hooks.append(ProbeHook(cfg.probes))
    if cfg.diagnostics.enabled:
        from engine.diagnostics import DiagnosticsHook

        hooks.append(DiagnosticsHook(cfg.diagnostics))
    if cfg.metrics.enabled:
        from engine.metrics import MetricsHook

        hooks.append(MetricsHook(cfg.metrics))
    reg = trainer.config.reg
    if reg.l2 > 0 or reg.l1 > 0:
        from engine.regularization import PenaltyHook

        hooks.append(PenaltyHook(reg.l2, reg.l1))
    if reg.early_stopping:
        from engine.regularization import EarlyStoppingHook

        hooks.append(EarlyStoppingHook(reg.patience, reg.min_delta))
    if trainer.config.model.uses_batch_norm():
        from engine.model.batchnorm_probe import BatchNormProbe

        hooks.append(BatchNormProbe())
    if tuple(trainer.data.input_shape) == (2,):
        from engine.model.decision_boundary import DecisionBoundaryHook

        hooks.append(DecisionBoundaryHook())
    if cfg.landscape.snapshots or cfg.landscape.sharpness_every:
        from engine.landscape.hook import LandscapeHook

        hooks.append(LandscapeHook(trainer))
    return hooks
