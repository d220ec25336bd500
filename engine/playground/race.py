"""A race: every racer starts at the same point and all step in lockstep on one surface.

Per racer and step it records position, loss (exact, at the position), gradient (with
the noise, as the optimizer saw it), update, velocity, effective per-coordinate step size
and learning rate. A racer whose position overflows stops where it last was finite and is
marked diverged; the others go on.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.optim.schedules import LRSchedule
from engine.playground.config import PlaygroundConfig
from engine.playground.functions import TestFunction, get_function
from engine.playground.stepper import BatchedOptimizers
from engine.playground.torch_stepper import TorchOptimizers
from engine.states import RunState

DIVERGE_LIMIT = 1e6  # |coordinate| beyond this counts as diverged (all domains are within ±6)
SERIES = ("positions", "losses", "gradients", "updates", "velocities", "step_sizes", "lrs")


@dataclass
class RacerPath:
    """One racer's recorded path (steps_taken steps; positions/losses have one more entry)."""

    label: str
    positions: np.ndarray
    losses: np.ndarray
    gradients: np.ndarray
    updates: np.ndarray
    velocities: np.ndarray
    step_sizes: np.ndarray
    lrs: np.ndarray
    status: RunState = RunState.RUNNING  # running, finished or diverged
    message: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def steps_taken(self) -> int:
        return len(self.positions) - 1


def nearest_minimum_distance(fn: TestFunction, params: dict, point) -> float:
    """Distance from a point to the closest known minimum (nan where none is known)."""
    mins = fn.minima(params)
    if not mins or not np.all(np.isfinite(point)):
        return math.nan
    return float(min(math.hypot(point[0] - mx, point[1] - my) for mx, my in mins))


class _Schedules:
    """The racers' learning rates: the real LRSchedule (steps_per_epoch=1, so an epoch is
    a step) on a stand-in optimizer, stepped only for racers whose schedule is not constant."""

    def __init__(self, cfg: PlaygroundConfig, order: list[int]) -> None:
        self.lr = np.array([[cfg.racers[i].optim.lr] * 2 for i in order], dtype=np.float64)  # (n, 2), see stepper
        self.live: list[tuple[int, torch.optim.Optimizer, LRSchedule]] = []
        for row, i in enumerate(order):
            r = cfg.racers[i]
            if r.schedule.name == "constant":
                continue
            opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=r.optim.lr)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sched = LRSchedule(opt, r.schedule, steps_per_epoch=1, epochs=cfg.steps, base_lr=r.optim.lr)
            self.live.append((row, opt, sched))
            self.lr[row] = opt.param_groups[0]["lr"]

    def advance(self, losses: np.ndarray) -> None:
        if not self.live:
            return
        with warnings.catch_warnings():  # "lr_scheduler.step() before optimizer.step()": no training here
            warnings.simplefilter("ignore")
            for row, opt, sched in self.live:
                sched.after_step()
                sched.after_epoch(float(losses[row]))
                self.lr[row] = opt.param_groups[0]["lr"]


class Race:
    """The race of `cfg.racers` on `cfg.function`; `advance(n)` computes n more lockstep steps."""

    def __init__(self, cfg: PlaygroundConfig) -> None:
        if not cfg.racers:
            raise ValueError("a race needs at least one optimizer")
        self.cfg = cfg
        self.fn = get_function(cfg.function)
        self.params = cfg.params
        self.stepper: BatchedOptimizers | TorchOptimizers
        if cfg.exact:
            self.stepper = TorchOptimizers([r.optim for r in cfg.racers])
        else:
            self.stepper = BatchedOptimizers([r.optim for r in cfg.racers])
        self.order = self.stepper.order  # row -> racer index
        self.rank = np.argsort(self.order)  # racer index -> row
        n, T = len(cfg.racers), cfg.steps
        self.n, self.total = n, T
        self.schedules = _Schedules(cfg, self.order)
        self.noise = np.random.default_rng(cfg.seed).standard_normal((T, 2)) * cfg.sigma if cfg.sigma > 0 else None
        self.P = np.tile(np.asarray(cfg.start_point, dtype=np.float64), (n, 1))
        self.G = np.zeros((n, 2))
        self.stepper.bind(self.P, self.G, self.schedules.lr)
        self.pos = np.full((T + 1, n, 2), np.nan)
        self.loss = np.full((T + 1, n), np.nan)
        self.grad = np.full((T, n, 2), np.nan)
        self.vel = np.full((T, n, 2), np.nan)
        self.eff = np.full((T, n, 2), np.nan)
        self.lrs = np.full((T, n), np.nan)
        self.pos[0] = self.P
        with np.errstate(all="ignore"):
            self.loss[0] = self.fn.value(self.P[:, 0], self.P[:, 1], np, self.params)
        self.done = 0  # steps computed so far
        self.stopped_at = np.zeros(n, dtype=np.int64)  # per row: steps taken when it diverged
        self.alive = np.ones(n, dtype=bool)
        self._n_alive = n
        self.messages = [""] * n

    @property
    def finished(self) -> bool:
        return self.done >= self.total or self._n_alive == 0

    def advance(self, n_steps: int | None = None) -> int:
        """Compute up to n_steps more steps (all remaining when None); returns how many ran."""
        end = self.total if n_steps is None else min(self.total, self.done + n_steps)
        fn, params, P, G, lr = self.fn, self.params, self.P, self.G, self.schedules.lr
        noise, step, value, grad = self.noise, self.stepper.step, fn.value_fn, fn.grad_fn
        vel, eff = self.stepper.vel, self.stepper.eff
        scheduled = bool(self.schedules.live)
        x, y, gx_out, gy_out = P[:, 0], P[:, 1], G[:, 0], G[:, 1]
        start = self.done
        with np.errstate(all="ignore"):
            for t in range(start, end):
                if self._n_alive == 0:
                    break
                gx, gy = grad(x, y, np, params)
                gx_out[:] = gx
                gy_out[:] = gy
                if noise is not None:
                    G += noise[t]
                self.grad[t] = G
                if scheduled:
                    self.lrs[t] = lr[:, 0]
                step(t + 1)
                self.vel[t] = vel
                self.eff[t] = eff
                loss = value(x, y, np, params)
                # one cheap test per step: NaN fails "< limit" too
                if self._n_alive < self.n or not all(abs(c) < DIVERGE_LIMIT for c in P.ravel().tolist()):
                    loss = self._handle_divergence(t, loss)
                self.pos[t + 1] = P
                self.loss[t + 1] = loss
                if scheduled:
                    self.schedules.advance(loss)
                self.done = t + 1
        if not scheduled:
            self.lrs[start : self.done] = lr[:, 0]
        return self.done - start

    @property
    def steps_taken(self) -> np.ndarray:
        """Steps each row has taken (a diverged row stops counting)."""
        return np.where(self.alive, self.done, self.stopped_at)

    def _handle_divergence(self, t: int, loss: np.ndarray) -> np.ndarray:
        bad = self.alive & ~(np.isfinite(loss) & np.isfinite(self.P).all(1) & (np.abs(self.P).max(1) < DIVERGE_LIMIT))
        for row in np.flatnonzero(bad):
            i = self.order[row]
            lr = self.cfg.racers[i].optim.lr
            why = (
                "this surface is unbounded below"
                if not self.fn.minima(self.params)
                else f"lower the learning rate ({lr:g})"
            )
            self.messages[row] = (
                f"diverged at step {t + 1}: the position left the surface (|x| > {DIVERGE_LIMIT:g} or overflow) — {why}"
            )
            self.stopped_at[row] = t
        self.alive &= ~bad
        self._n_alive = int(self.alive.sum())
        dead = ~self.alive
        self.P[dead] = self.pos[t][dead]  # stopped racers stay at their last finite point
        return np.where(dead, self.loss[t], loss)

    # -- results --------------------------------------------------------------------------
    def path(self, i: int, upto: int | None = None) -> RacerPath:
        """Racer i's recorded path (views), up to `upto` steps (default: all it has taken)."""
        row = int(self.rank[i])
        k = int(self.steps_taken[row]) if upto is None else min(upto, int(self.steps_taken[row]))
        pos = self.pos[: k + 1, row]
        if not self.alive[row]:
            status = RunState.DIVERGED
        else:
            status = RunState.FINISHED if self.done >= self.total else RunState.RUNNING
        return RacerPath(
            self.cfg.racers[i].label,
            pos,
            self.loss[: k + 1, row],
            self.grad[:k, row],
            np.diff(pos, axis=0),
            self.vel[:k, row],
            self.eff[:k, row],
            self.lrs[:k, row],
            status,
            self.messages[row],
        )

    def paths(self) -> list[RacerPath]:
        return [self.path(i) for i in range(self.n)]


def run_race(cfg: PlaygroundConfig) -> Race:
    """Build and run a whole race."""
    race = Race(cfg)
    race.advance()
    return race
