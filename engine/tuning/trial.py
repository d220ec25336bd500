"""One trial of a search: train a config on the hold-out split or on k folds, epoch by epoch.

`trial_epochs` is a generator: after each epoch it yields an `EpochReport` (validation loss,
the fold mean under k-fold, with its standard deviation) and is sent back whether to go on
— the pruner's decision, taken wherever the study lives (this process, the search's main
process over a pipe, or Ray Tune's scheduler). Its return value is the `TrialOutcome`.
The same generator runs in-process, in a spawned worker process (engine/tuning/worker.py)
and in a Ray worker (engine/tuning/ray_backend.py), so a trial trains identically on each.

A trial trains with the features that change training (explicit penalties, early stopping)
and none of the observers (probes, metrics, landscape): those are for the run a trial is
opened as afterwards, retrained with the same seed.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.config import ConfigError, ExperimentConfig
from engine.data import DataBundle
from engine.experiment import enabled_features
from engine.jobs import error_message
from engine.states import RunState
from engine.train.hooks import TrainerHook
from engine.train.trainer import Trainer
from engine.tuning.kfold import BundleCache

TRAINING_FEATURES = ("penalty", "early_stopping")
"""The features a trial trains with: those that change the training, not those that watch it."""


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run one trial: plain values, so it crosses process boundaries."""

    number: int
    config_json: str
    folds: int = 1
    threads: int = 1
    prune: bool = True  # a pruner decides after each epoch (False: the worker never waits for it)


@dataclass(frozen=True)
class EpochReport:
    number: int
    epoch: int
    value: float  # validation loss (fold mean)
    sd: float  # its standard deviation over the folds (0 for hold-out)
    train_loss: float
    worker: str = ""  # the process training it (pid@host)


@dataclass
class TrialOutcome:
    """How a trial ended: FINISHED (score = last epoch's validation loss, the fold mean),
    PRUNED, DIVERGED or ERROR (with the message)."""

    number: int
    state: RunState
    score: float = math.nan
    score_sd: float = math.nan
    val_acc: float = math.nan
    fold_scores: list[float] = field(default_factory=list)
    curve: list[float] = field(default_factory=list)
    curve_sd: list[float] = field(default_factory=list)
    train_curve: list[float] = field(default_factory=list)
    message: str = ""
    t_start: float = 0.0
    t_end: float = 0.0
    worker: str = ""

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["state"] = self.state.value
        return d

    @classmethod
    def from_json(cls, d: dict) -> TrialOutcome:
        return cls(**{**d, "state": RunState(d["state"])})


def worker_name() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


def training_hooks(config: ExperimentConfig, data: DataBundle) -> list[TrainerHook]:
    return [f.build(config, data) for f in enabled_features(config, data) if f.name in TRAINING_FEATURES]


def _epoch_of(trainer: Trainer, epoch: int) -> None:
    """Train until the trainer has done `epoch` epochs or is over."""
    while trainer.epoch < epoch and trainer.train_step():
        pass


TrialSteps = Generator[EpochReport, bool, TrialOutcome]


def trial_epochs(task: TrialTask, cache: BundleCache | None = None) -> TrialSteps:
    """Run one trial, yielding after each epoch; send False to prune it there."""
    out = TrialOutcome(task.number, RunState.RUNNING, t_start=time.time(), worker=worker_name())
    try:
        config = ExperimentConfig.from_json(task.config_json)
        if config.train.threads > task.threads:  # jobs × threads ≤ cores
            config = config.with_updates({"train.threads": task.threads})
        bundles = (cache or BundleCache()).get(config, task.folds)
        trainers = [
            Trainer(config, run_id=f"trial{task.number}/{i}", data=b, hooks=training_hooks)
            for i, b in enumerate(bundles)
        ]
        # The trainer chose its threads (auto: one for a small model, whose ops are too small to
        # split); never more than this worker's share of the cores.
        if torch.get_num_threads() > task.threads:
            torch.set_num_threads(task.threads)
        for t in trainers:
            t.state = RunState.RUNNING
        for epoch in range(1, config.train.epochs + 1):
            for t in trainers:
                _epoch_of(t, epoch)
                if t.state == RunState.DIVERGED:
                    out.state, out.message = RunState.DIVERGED, f"diverged: {t.message}"
                    return out
            vals = np.array([t.read_series("epoch/val_loss")[-1] for t in trainers], dtype=np.float64)
            trains = [t.read_series("epoch/train_loss")[-1] for t in trainers]
            mean, sd = float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
            out.curve.append(mean)
            out.curve_sd.append(sd)
            out.train_curve.append(float(np.mean(trains)))
            out.fold_scores = [float(v) for v in vals]
            out.val_acc = float(np.mean([t.read_series("epoch/val_acc")[-1] for t in trainers]))
            go = yield EpochReport(task.number, epoch, mean, sd, out.train_curve[-1], out.worker)
            if not go:
                out.state, out.message = RunState.PRUNED, f"pruned after epoch {epoch}"
                return out
            if all(t.finished for t in trainers):  # early stopping ended every fold
                break
        out.state = RunState.FINISHED
        out.score, out.score_sd = out.curve[-1], out.curve_sd[-1]
        return out
    except ConfigError as e:
        out.state, out.message = RunState.ERROR, f"invalid config: {e}"
        return out
    except Exception as e:  # noqa: BLE001 - any failure of one trial is that trial's, the search goes on
        out.state, out.message = RunState.ERROR, error_message(e)
        return out
    finally:
        out.t_end = time.time()


def run_trial(task: TrialTask, cache: BundleCache | None = None) -> TrialOutcome:
    """A whole trial without pruning (tests, the benchmark)."""
    gen = trial_epochs(task, cache)
    try:
        next(gen)
        while True:
            gen.send(True)
    except StopIteration as stop:
        return stop.value
