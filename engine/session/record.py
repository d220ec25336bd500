"""In-memory form of a session: runs with their config, series, arrays and metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.config import ExperimentConfig
from engine.states import RunState

if TYPE_CHECKING:
    from engine.session.checkpoint import Checkpoint
    from engine.train.trainer import Trainer


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


def record_of(trainer: Trainer, name: str | None = None) -> RunRecord:
    """What a run produced so far as a RunRecord (series, final metrics, every hook's export);
    a running run is recorded as stopped. Call on its engine thread (it reports the buffered
    steps first). The weights to continue it are `capture_checkpoint`'s."""
    trainer.flush()
    record = RunRecord(
        name=name or trainer.run_id,
        config=trainer.config,
        series={k: s.array().copy() for k, s in trainer.series.items()},
        final=trainer.final_metrics(),
        state=RunState.STOPPED if trainer.state == RunState.RUNNING else RunState(trainer.state),
        meta={
            "message": trainer.message,
            "device": str(trainer.device),
            "n_train": trainer.n_train,
            "n_val": int(trainer.data.x_val.shape[0]),
            "n_classes": trainer.data.n_classes,
            "steps_per_epoch": trainer.steps_per_epoch,
        },
    )
    for h in trainer.hooks:
        h.export(record)
    return record
