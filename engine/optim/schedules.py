"""Learning-rate schedules from torch.optim.lr_scheduler, behind one small wrapper.

Per-step schedules (cyclic, one-cycle, warm-up, cosine with restarts, which is stepped
by fractional epochs) advance after every optimizer step; per-epoch schedules (step,
multistep, exponential, cosine, plateau) advance at each epoch's end.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch.optim import lr_scheduler as ls

from engine.config import ExperimentConfig, ScheduleConfig


class LRSchedule:
    def __init__(
        self, optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, steps_per_epoch: int, epochs: int, base_lr: float
    ) -> None:
        self.cfg = cfg
        self.optimizer = optimizer
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.step_count = 0
        n = cfg.name
        self.per_step = n in ("cyclic", "one_cycle", "warmup", "cosine_restarts")
        self.sched: ls.LRScheduler | ls.ReduceLROnPlateau | None = None
        if n == "constant":
            pass
        elif n == "step":
            self.sched = ls.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
        elif n == "multistep":
            self.sched = ls.MultiStepLR(optimizer, milestones=list(cfg.milestones), gamma=cfg.gamma)
        elif n == "exponential":
            self.sched = ls.ExponentialLR(optimizer, gamma=cfg.gamma)
        elif n == "cosine":
            self.sched = ls.CosineAnnealingLR(optimizer, T_max=cfg.t_max, eta_min=cfg.eta_min)
        elif n == "cosine_restarts":
            self.sched = ls.CosineAnnealingWarmRestarts(optimizer, T_0=cfg.t_0, T_mult=cfg.t_mult, eta_min=cfg.eta_min)
        elif n == "cyclic":
            self.sched = ls.CyclicLR(
                optimizer,
                base_lr=cfg.cyclic_base_lr,
                max_lr=cfg.cyclic_max_lr,
                step_size_up=cfg.cyclic_step_size,
                mode=cfg.cyclic_mode,
                gamma=cfg.cyclic_gamma,
                cycle_momentum=False,
            )
        elif n == "one_cycle":
            self.sched = ls.OneCycleLR(
                optimizer,
                max_lr=cfg.one_cycle_max_lr,
                total_steps=self.steps_per_epoch * epochs,
                pct_start=cfg.pct_start,
                cycle_momentum=False,
            )
        elif n == "warmup":
            self.sched = ls.LinearLR(
                optimizer, start_factor=cfg.warmup_start_factor, end_factor=1.0, total_iters=cfg.warmup_steps
            )
        elif n == "plateau":
            self.sched = ls.ReduceLROnPlateau(
                optimizer, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience
            )
        else:
            raise ValueError(f"unknown schedule '{n}'")
        self._total_steps = self.steps_per_epoch * epochs

    def after_step(self) -> None:
        self.step_count += 1
        if self.sched is None or not self.per_step:
            return
        if isinstance(self.sched, ls.CosineAnnealingWarmRestarts):
            self.sched.step(self.step_count / self.steps_per_epoch)
        elif isinstance(self.sched, ls.OneCycleLR):
            if self.step_count < self._total_steps:  # OneCycleLR refuses to step past its end
                self.sched.step()
        else:
            self.sched.step()

    def after_epoch(self, val_loss: float | None) -> None:
        if self.sched is None or self.per_step:
            return
        if isinstance(self.sched, ls.ReduceLROnPlateau):
            if val_loss is not None and np.isfinite(val_loss):
                self.sched.step(val_loss)
        else:
            self.sched.step()

    def rebase(self, lr: float) -> None:
        """A live lr edit: continue the schedule from the new base learning rate."""
        if self.sched is not None and hasattr(self.sched, "base_lrs"):
            self.sched.base_lrs = [lr for _ in self.sched.base_lrs]

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "sched": self.sched.state_dict() if self.sched is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state.get("step_count", 0))
        if self.sched is not None and state.get("sched") is not None:
            self.sched.load_state_dict(state["sched"])


def build_schedule(optimizer: torch.optim.Optimizer, config: ExperimentConfig, steps_per_epoch: int) -> LRSchedule:
    return LRSchedule(optimizer, config.schedule, steps_per_epoch, config.train.epochs, config.optim.lr)


def preview_schedule(config: ExperimentConfig, steps_per_epoch: int, epochs: int | None = None) -> np.ndarray:
    """The learning rate at every step of a run, without training (plateau: as if never triggered)."""
    epochs = epochs or config.train.epochs
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=config.optim.lr)
    out = np.empty(steps_per_epoch * epochs)
    with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()": no training here
        warnings.simplefilter("ignore")
        sched = LRSchedule(opt, config.schedule, steps_per_epoch, epochs, config.optim.lr)
        i = 0
        for _ in range(epochs):
            for _ in range(steps_per_epoch):
                out[i] = opt.param_groups[0]["lr"]
                i += 1
                sched.after_step()
            sched.after_epoch(None)
    return out
