"""The racers stepped by the real torch.optim optimizers from `build_optimizer`.

Same interface as BatchedOptimizers, so a Race can use either (`exact=True`): each racer
is a Parameter that is a view of one row of the race's position array, its gradient a
view of one row of the gradient array, and its velocity and effective step size are read
from the optimizer's own state after every step. Much slower than the batched stepper
(one optimizer.step() per racer and step; tests/benchmarks/bench_playground.py times
both); the tests check both agree.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.config import OptimConfig
from engine.optim import build_optimizer
from engine.playground.stepper import FAMILIES, family_of


class TorchOptimizers:
    """One torch.optim optimizer per racer; rows in `order` (grouped by family, as the batched stepper)."""

    def __init__(self, cfgs: list[OptimConfig]) -> None:
        self.cfgs = cfgs
        self.order = sorted(range(len(cfgs)), key=lambda i: FAMILIES.index(family_of(cfgs[i].name)))
        self.has_velocity = np.array(
            [
                c.name in ("momentum", "nesterov", "adam", "adamw") or (c.name == "rmsprop" and c.rmsprop_momentum > 0)
                for c in cfgs
            ]
        )

    def bind(self, p: np.ndarray, g: np.ndarray, lr: np.ndarray) -> None:
        self.lr = lr
        self.vel = np.zeros_like(p)
        self.eff = np.zeros_like(p)
        pt, gt = torch.from_numpy(p), torch.from_numpy(g)  # share memory with the race's arrays
        self.params, self.opts = [], []
        for row, i in enumerate(self.order):
            param = torch.nn.Parameter(pt[row])
            param.grad = gt[row]
            self.params.append(param)
            self.opts.append(build_optimizer([param], self.cfgs[i]))

    def step(self, t: int) -> None:
        """One lockstep (t is 1-based): every optimizer's step(), then velocity and step size from its state."""
        for row, (param, opt) in enumerate(zip(self.params, self.opts)):
            group = opt.param_groups[0]
            group["lr"] = float(self.lr[row, 0])
            opt.step()
            self.vel[row], self.eff[row] = _velocity_and_step_size(opt, param, group, t)


def _velocity_and_step_size(opt: torch.optim.Optimizer, param: torch.Tensor, g: dict, t: int):
    st = opt.state[param]
    lr = g["lr"]
    if isinstance(opt, torch.optim.SGD):
        buf = st.get("momentum_buffer")
        return (buf.numpy() if buf is not None and g["momentum"] > 0 else 0.0), lr
    if isinstance(opt, torch.optim.Adagrad):
        clr = lr / (1 + (t - 1) * g["lr_decay"])
        return 0.0, clr / (st["sum"].sqrt() + g["eps"]).numpy()
    if isinstance(opt, torch.optim.RMSprop):
        s = st["square_avg"]
        if g["centered"]:
            s = s - st["grad_avg"] * st["grad_avg"]
        vel = st["momentum_buffer"].numpy() if g["momentum"] > 0 else 0.0
        return vel, lr / (s.sqrt() + g["eps"]).numpy()
    # Adam / AdamW
    b1, b2 = g["betas"]
    v = st["max_exp_avg_sq"] if g["amsgrad"] else st["exp_avg_sq"]
    denom = v.sqrt() / math.sqrt(1 - b2**t) + g["eps"]
    return st["exp_avg"].numpy(), (lr / (1 - b1**t)) / denom.numpy()
