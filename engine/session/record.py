"""In-memory form of a session: runs with their config, series, arrays and metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.config import ExperimentConfig
from engine.states import RunState


@dataclass
class Checkpoint:
    """What a run needs to continue, as a file holds it (engine.session.checkpoint fills it
    from Trainer.state_dict). `arrays`: model/<key>, optim/<param index>/<key>, rng/batch,
    rng/global, rng/augment, rng/dropout/<i>, perm, good/<i> and good_buffers/<i> (the last
    good parameters and buffers), hooks/<hook>/<key>; `meta`: step, epoch, position in the
    epoch, optimizer groups, schedule, epoch sums, divergence watch (loss_ref, pending_ok),
    hooks (each hook's JSON state)."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunRecord:
    """One run. `series` are the metric curves at full resolution (1-D float arrays,
    named like "step/loss" or "epoch/val_acc"); `arrays` hold any other numeric data a
    feature saved (paths like "probes/act_hist/0"); `meta` is JSON-serializable;
    `checkpoint` (format 2) holds the weights and optimizer state to continue the run."""

    name: str
    config: ExperimentConfig
    series: dict[str, np.ndarray] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    state: str = RunState.FINISHED
    checkpoint: Checkpoint | None = None
    # The file holds a checkpoint that was left unread (load_session(checkpoints=False)).
    checkpoint_unread: bool = False

    @property
    def has_checkpoint(self) -> bool:
        """The run was saved with its weights and optimizer state (read or not)."""
        return self.checkpoint is not None or self.checkpoint_unread

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "config": self.config.model_dump(mode="json"),
            "metrics": {k: [float(x) for x in v] for k, v in self.series.items()},
            "final": dict(self.final),
        }


@dataclass
class Session:
    """A whole session: runs plus session-level arrays/meta (playground, layout...)."""

    runs: list[RunRecord] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    format_version: int = 1
    app_version: str = ""
    created: str = ""

    def run(self, name: str) -> RunRecord:
        for r in self.runs:
            if r.name == name:
                return r
        raise KeyError(name)
