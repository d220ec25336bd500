"""The typed hooks around a training step: the only way instrumentation enters the loop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from engine.session.record import RunRecord
    from engine.train.context import RunContext

HookState = dict[str, Any]
"""A hook's state: numpy arrays of plain numbers, and JSON values (no tensors, no objects),
so a checkpoint can store it without pickle. Keys use letters, digits, _ . - and /."""


class TrainerHook:
    """Override what you need. Called on the engine thread, in this order:
    setup once (the hook builds what depends on the model and data; before load_state_dict
    when a run is continued); on_start once before the first step of a new run (weights at
    init), or on_resume instead when the run continues from a saved state; per step
    before_step → (forward/backward) → after_backward → (optimizer.step) → after_step;
    on_epoch_end after each epoch's evaluation; on_finish when the run ends for any reason.

    Hooks that do not override before_step, after_backward or after_step are not called
    per step at all."""

    name = "hook"

    def setup(self, ctx: RunContext) -> None: ...
    def on_start(self, ctx: RunContext) -> None: ...
    def on_resume(self, ctx: RunContext) -> None: ...
    def before_step(self, ctx: RunContext, xb: torch.Tensor, yb: torch.Tensor) -> None: ...
    def after_backward(self, ctx: RunContext) -> None: ...
    def after_step(self, ctx: RunContext) -> None: ...
    def on_epoch_end(self, ctx: RunContext, metrics: Mapping[str, float]) -> None: ...
    def on_finish(self, ctx: RunContext) -> None: ...

    def export(self, record: RunRecord) -> None:
        """Add what this hook recorded to a session record (arrays and JSON meta)."""

    def state_dict(self) -> HookState:
        """What a continued run needs to go on exactly as if never interrupted."""
        return {}

    def load_state_dict(self, state: HookState) -> None:
        """Take back what state_dict returned (called after setup, before the next step)."""
