"""RunContext: what a hook sees of the run it instruments.

Hooks receive this, not the Trainer: the run's progress (step, epoch, state), what it
trains (model, data, config), how to report (emit, record_epoch) and how to talk to other
features (`shared`). The Trainer implements it; a hook uses nothing else, which mypy checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import nn

    from engine.config import ExperimentConfig
    from engine.data import DataBundle
    from engine.events import Event
    from engine.states import RunState


class RunContext(Protocol):
    """The narrow view of a run its hooks get.

    `shared` holds what one feature publishes for another, by key (the probes publish their
    latest statistics under "probes"; see engine/probes/hook.py): features never look each
    other up."""

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""

    @property
    def epoch(self) -> int:
        """Epochs completed so far."""

    @property
    def state(self) -> RunState: ...

    @property
    def message(self) -> str:
        """Why the run ended, when it did (divergence, early stopping)."""

    @property
    def model(self) -> nn.Module: ...

    @property
    def data(self) -> DataBundle:
        """The run's data, on its device."""

    @property
    def config(self) -> ExperimentConfig: ...

    @property
    def run_id(self) -> str: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The torch.optim optimizer (its state: momentum buffers, moments); read only."""

    @property
    def lr(self) -> float:
        """The learning rate of the optimizer's first parameter group, now."""

    @property
    def last_batch_indices(self) -> torch.Tensor | None:
        """Indices (into the training set) of the current or last minibatch."""

    @property
    def shared(self) -> dict[str, Any]: ...

    def emit(self, event: Event) -> None: ...

    def read_series(self, name: str) -> np.ndarray:
        """A recorded series at full resolution (empty when there is none yet)."""

    def record_epoch(self, name: str, value: float, series: bool = True) -> None:
        """Add `name` to this epoch's metrics (the EpochEnd event carries them) and, with
        `series`, append it to the series "epoch/<name>". Only during on_epoch_end."""

    def request_stop(self, message: str) -> None:
        """End the run as finished after the current epoch (early stopping)."""
