"""Joint search against one-at-a-time tuning, on a problem where two hyper-parameters interact.

The lecture's point (LECTURE.md §7): tune dependent hyper-parameters jointly. With SGD and
momentum the learning rate and the momentum coefficient interact: the effective step is
about lr / (1 − momentum). Tuning the learning rate at the default momentum (it wants a large
lr), then the momentum at the default learning rate (it wants momentum near 1 to make up for
the small lr), and combining the two winners lands on a pair neither sweep tried — with an
effective step a hundred times too large. A joint random search with the same budget of
trials samples both at once. Both use the same Optuna machinery (a grid per one-at-a-time sweep, a
seeded random sampler for the joint search) and the same trials (engine/tuning/trial.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.config import ExperimentConfig
from engine.jobs import Job, Progress
from engine.tuning.search import SearchRun, SearchSettings
from engine.tuning.snapshot import SearchSnapshot
from engine.tuning.space import parse_space
from engine.tuning.trial import TrialTask, run_trial

DEMO_BASE: dict[str, Any] = {
    "data.name": "moons",
    "data.n_samples": 300,
    "model.hidden": [16],
    "optim.name": "momentum",
    "optim.lr": 0.003,  # the defaults a one-at-a-time sweep holds the other parameter at
    "optim.momentum": 0.5,
    "train.batch_size": 32,
    "train.epochs": 3,
}
LR_SPACE = "optim.lr=log:1e-3:3"
MOMENTUM_SPACE = "optim.momentum=choice:0,0.5,0.8,0.9,0.95,0.99"


@dataclass(frozen=True)
class DemoResult:
    """Both strategies' winners (params and validation loss) and what each tried."""

    one_at_a_time: dict[str, Any]
    one_at_a_time_score: float
    joint: dict[str, Any]
    joint_score: float
    budget: int
    lr_sweep: SearchSnapshot
    momentum_sweep: SearchSnapshot
    joint_search: SearchSnapshot

    @property
    def joint_wins(self) -> bool:
        return self.joint_score < self.one_at_a_time_score

    def to_json(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "one_at_a_time": {"params": self.one_at_a_time, "val_loss": self.one_at_a_time_score},
            "joint": {"params": self.joint, "val_loss": self.joint_score},
            "joint_wins": self.joint_wins,
        }


def demo_base(updates: dict[str, Any] | None = None) -> ExperimentConfig:
    return ExperimentConfig().with_updates({**DEMO_BASE, **(updates or {})})


def joint_vs_one_at_a_time(base: ExperimentConfig, budget: int = 12, seed: int = 0) -> Job[DemoResult]:
    """Run both strategies with the same number of trials: one-at-a-time sweeps each parameter
    over a grid of about budget/2 points and trains its combined winner; the joint random
    search gets as many trials as that took."""
    half = max(2, (budget - 1) // 2)
    lr_points = half
    lr = SearchRun(
        SearchSettings(
            base, parse_space([LR_SPACE]), trials=lr_points, sampler="grid", grid_points=lr_points, seed=seed
        )
    )
    snap = yield from _forward(lr.job(), "one-at-a-time: learning rate", 0.0)
    best_lr = snap.best(1)[0].params["optim.lr"]
    batch = SearchRun(SearchSettings(base, parse_space([MOMENTUM_SPACE]), trials=half, sampler="grid", seed=seed))
    snap_b = yield from _forward(batch.job(), "one-at-a-time: momentum", 0.33)
    best_m = snap_b.best(1)[0].params["optim.momentum"]
    combined = {"optim.lr": best_lr, "optim.momentum": best_m}
    used = len(snap.trials) + len(snap_b.trials) + 1
    outcome = run_trial(TrialTask(-1, base.with_updates(combined).model_dump_json()))
    combined_score = outcome.score if math.isfinite(outcome.score) else math.inf  # diverged: infinitely bad
    yield Progress(0.66, "joint random search")
    joint = SearchRun(
        SearchSettings(base, parse_space([LR_SPACE, MOMENTUM_SPACE]), trials=used, sampler="random", seed=seed)
    )
    snap_j = yield from _forward(joint.job(), "joint random search", 0.66)
    best = snap_j.best(1)[0]
    return DemoResult(combined, combined_score, best.params, best.score, used, snap, snap_b, snap_j)


def _forward(job: Job[SearchSnapshot], what: str, start: float) -> Job[SearchSnapshot]:
    """Run a sub-job, passing its progress on as a third of this one's."""
    try:
        while True:
            p = next(job)
            yield Progress(start + p.fraction / 3, f"{what}: {p.message}", p.preview)
    except StopIteration as stop:
        return stop.value
