"""The learning-rate range test (Smith 2017, "Cyclical learning rates for training neural
networks", section 3.3): train on minibatches while the learning rate grows exponentially
from `start` to `end`, watch the loss, and read a good learning rate off the curve.

The sweep runs on its own Trainer built from the config the way a run is built
(engine.experiment: same data, init, batch order, augmentation and loss penalties), stepped
through the Trainer's public API. Given a run's `state_dict`, it starts from that state
instead (weights, optimizer moments, position in the epoch). Either way the caller's run is
never stepped, and the process-wide random states the sweep could draw from (torch, CUDA,
numpy, Python) are put back when it ends, even when cancelled: a run after the test goes on
exactly as without it.

The curve is smoothed with an exponential moving average with bias correction (as Adam
corrects its moments), and the test stops once the smoothed loss passes `diverge_factor`
times its minimum or a loss is not finite. Two suggestions are read off the smoothed curve:
the learning rate of its steepest descent (slope against log lr, before its minimum), and
the learning rate of its minimum divided by 10.

The moving average lags the raw loss by about β/(1-β) iterations (19 at β = 0.95: about 1.3
decades of lr with the default 100 steps over 7 decades), which moves both suggestions towards
larger learning rates; bias correction removes only the start-up pull towards 0, not this lag.
A zero-phase smoothing (the same average run forwards, then backwards) has no lag, but it
carries the diverged tail's huge losses back over the whole curve (on digits its minimum moved
to the first iteration), so the causal average is kept, and the suggestions are checked by
what they train to (tests/engine/tuning/test_lr_range.py).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from engine.config import ExperimentConfig, field_spec
from engine.data import DataBundle
from engine.experiment import enabled_features
from engine.jobs import Job, Progress
from engine.train.hooks import TrainerHook
from engine.train.trainer import Trainer
from engine.tuning.lr_range_settings import LrRangeError, LrRangeSettings
from engine.tuning.lr_range_snapshot import STOP_DIVERGED, STOP_END, STOP_NOT_FINITE, LrRangeResult

# The features that change what a training step computes (the rest only watch): the range
# test trains with these, so its loss is the loss the run would minimize.
STEP_FEATURES = ("penalty",)
READ_EVERY = 10
"""Steps between two reads of the losses: the stop rule judges them a window at a time
(reading every step costs a quarter of the test); the curve ends where the rule says."""


def _capture_rng() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None,
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def _restore_rng(states: Mapping[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None:
        torch.cuda.set_rng_state_all(states["cuda"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])


def sweep_config(config: ExperimentConfig) -> ExperimentConfig:
    """The config the sweep trains with: the run's, with a constant schedule (the test sets
    the lr itself), the losses read every READ_EVERY steps, and no end."""
    return config.with_updates(
        {
            "schedule.name": "constant",
            "train.report_every": READ_EVERY,
            "train.epochs": int(field_spec("train.epochs").maximum or 1),
        }
    )


def _step_hooks(config: ExperimentConfig, data: DataBundle) -> list[TrainerHook]:
    return [f.build(config, data) for f in enabled_features(config, data) if f.name in STEP_FEATURES]


def lr_range_job(
    config: ExperimentConfig,
    settings: LrRangeSettings | None = None,
    start_state: Mapping[str, Any] | None = None,
    data: DataBundle | None = None,
) -> Job[LrRangeResult]:
    """The range test as a cancellable job: yields Progress (its preview, every few
    iterations, the curve so far as an LrRangeResult) and returns the LrRangeResult.
    `start_state`: a Trainer.state_dict of a run of this config to start from (default: the
    config's fresh init); `data`: the data set when already loaded."""
    settings = settings or LrRangeSettings()
    rng = _capture_rng()
    t0 = time.perf_counter()
    try:
        cfg = sweep_config(config)
        trainer = Trainer(cfg, data=data, hooks=_step_hooks)
        if start_state is not None:
            # The weights, optimizer, batch order and random generators, not the history.
            trainer.load_state_dict({k: v for k, v in start_state.items() if k not in ("series", "hooks")})
        trainer.start()
        previewed = 0
        groups = trainer.optimizer.param_groups
        lr_plan = settings.lrs().tolist()
        n = settings.iterations
        lrs: list[float] = []
        losses: list[float] = []
        smoothed: list[float] = []
        avg, best = 0.0, math.inf
        beta, factor = settings.beta, settings.diverge_factor
        stop = ""
        for i, lr in enumerate(lr_plan):
            for g in groups:
                g["lr"] = lr
            going = trainer.train_step()
            if i + 1 == n and going:
                trainer.flush()
            # The losses arrive in windows (train.report_every steps): judge each in turn.
            seen = trainer.read_series("step/loss")
            for j in range(len(losses), len(seen)):
                loss = float(seen[j])
                if not math.isfinite(loss):
                    stop = STOP_NOT_FINITE
                    break
                avg = beta * avg + (1.0 - beta) * loss
                s = avg / (1.0 - beta ** (j + 1))
                lrs.append(lr_plan[j])
                losses.append(loss)
                smoothed.append(s)
                best = min(best, s)
                if s > factor * best:
                    stop = STOP_DIVERGED
                    break
            if stop:
                break
            if not going:  # the trainer stopped on a value that is not finite
                stop = STOP_NOT_FINITE
                break
            if i + 1 < n:
                preview = None
                if len(losses) >= 2 and len(losses) != previewed:
                    previewed = len(losses)
                    preview = LrRangeResult.of(config, settings, lrs, losses, smoothed, "", time.perf_counter() - t0)
                yield Progress(
                    (i + 1) / n, f"lr {lr:.3g}" + (f" · smoothed loss {smoothed[-1]:.4g}" if smoothed else ""), preview
                )
        stop = stop or STOP_END
        if len(lrs) < 2:
            raise LrRangeError(
                f"the loss was not finite from the first iterations (lr {settings.start:g}): "
                "lower the start lr or check the data"
            )
        return LrRangeResult.of(config, settings, lrs, losses, smoothed, stop, time.perf_counter() - t0)
    finally:
        _restore_rng(rng)
