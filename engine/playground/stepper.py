"""All racers stepped at once: torch.optim's update rules, vectorized over racers.

Why not one torch.optim optimizer per racer? On a 2-vector the work is nothing and the
overhead everything: a torch.optim step costs a hundred times the arithmetic it does
(`exact=True` races take that path; tests/benchmarks/bench_playground.py compares them).
Here the racers are rows of one (n, 2) float64 array, grouped by optimizer family, and
each family's rule is applied to its rows with a few element-wise numpy ops.

The rules are transcribed from torch.optim's single-tensor implementations (SGD with
momentum/dampening/Nesterov, Adagrad, RMSprop with centering/momentum, Adam/AdamW with
AMSGrad) with the same hyperparameters (`OptimConfig`). `engine.playground.reference`
runs the real optimizers from `build_optimizer`, and the tests require both to give the
same paths (relative difference < 1e-10) for every optimizer and option.
"""

from __future__ import annotations

import numpy as np

from engine.config import OptimConfig

FAMILIES = ("sgd", "adagrad", "rmsprop", "adam")


def family_of(name: str) -> str:
    return {
        "sgd": "sgd",
        "momentum": "sgd",
        "nesterov": "sgd",
        "adagrad": "adagrad",
        "rmsprop": "rmsprop",
        "adam": "adam",
        "adamw": "adam",
    }[name]


def _col(values) -> np.ndarray:
    """Per-row values broadcast to (k, 2) up front: on arrays this small numpy's
    broadcasting costs several times a same-shape op."""
    return np.repeat(np.asarray(values, dtype=np.float64).reshape(-1, 1), 2, axis=1)


class _Family:
    """The racers of one optimizer family: rows `rows` of the shared arrays (bound views)."""

    def __init__(self, rows: slice, cfgs: list[OptimConfig]) -> None:
        self.rows = rows
        self.k = len(cfgs)
        self.wd = _col([c.weight_decay for c in cfgs])
        self.any_wd = bool(np.any(self.wd))

    def bind(self, p: np.ndarray, g: np.ndarray, lr: np.ndarray, vel: np.ndarray, eff: np.ndarray) -> None:
        r = self.rows
        self.p, self.g, self.lr, self.vel, self.eff = p[r], g[r], lr[r], vel[r], eff[r]

    def step(self, t: int) -> None:
        """Advance every racer of the family by one step (t is 1-based)."""
        raise NotImplementedError


class _SGD(_Family):
    def __init__(self, rows: slice, cfgs: list[OptimConfig]) -> None:
        super().__init__(rows, cfgs)
        # build_optimizer: plain sgd has no momentum; nesterov forces dampening 0.
        self.mom = _col([0.0 if c.name == "sgd" else c.momentum for c in cfgs])
        self.damp1 = 1.0 - _col([c.dampening if c.name == "momentum" else 0.0 for c in cfgs])
        nesterov = _col([c.name == "nesterov" for c in cfgs])
        self.any_nesterov = bool(nesterov.any())
        # direction d = a*g + b*buf: nesterov g + momentum*buf; otherwise buf (= g for plain sgd)
        self.a, self.b = nesterov, np.where(nesterov > 0, self.mom, 1.0)
        self.has_velocity = (self.mom > 0).astype(np.float64)
        self.buf = np.zeros((self.k, 2))

    def step(self, t: int) -> None:
        p, g, lr, vel, eff = self.p, self.g, self.lr, self.vel, self.eff
        if self.any_wd:
            g = g + self.wd * p
        buf = self.buf
        if t == 1:
            buf[:] = g  # torch: buf = clone(grad) on the first step
        else:
            buf *= self.mom
            buf += self.damp1 * g
        d = self.a * g + self.b * buf if self.any_nesterov else buf
        p -= lr * d
        vel[:] = buf * self.has_velocity
        eff[:] = lr


class _Adagrad(_Family):
    def __init__(self, rows: slice, cfgs: list[OptimConfig]) -> None:
        super().__init__(rows, cfgs)
        self.lr_decay = _col([c.lr_decay for c in cfgs])
        self.any_decay = bool(self.lr_decay.any())
        self.eps = _col([c.eps for c in cfgs])
        self.sum = _col([c.initial_accumulator for c in cfgs])

    def step(self, t: int) -> None:
        p, g, lr, eff = self.p, self.g, self.lr, self.eff
        if self.any_wd:
            g = g + self.wd * p
        self.sum += g * g
        clr = lr / (1.0 + (t - 1) * self.lr_decay) if self.any_decay else lr
        np.divide(clr, np.sqrt(self.sum) + self.eps, out=eff)  # torch: p.addcdiv_(g, std, value=-clr)
        p -= eff * g


class _RMSprop(_Family):
    def __init__(self, rows: slice, cfgs: list[OptimConfig]) -> None:
        super().__init__(rows, cfgs)
        self.alpha = _col([c.alpha for c in cfgs])
        self.alpha1 = 1.0 - self.alpha
        self.eps = _col([c.eps for c in cfgs])
        self.mom = _col([c.rmsprop_momentum for c in cfgs])
        self.any_mom = bool(self.mom.any())
        self.centered = _col([c.centered for c in cfgs])
        self.any_centered = bool(self.centered.any())
        self.has_velocity = (self.mom > 0).astype(np.float64)
        self.sq = np.zeros((self.k, 2))
        self.gavg = np.zeros((self.k, 2))
        self.buf = np.zeros((self.k, 2))

    def step(self, t: int) -> None:
        p, g, lr, vel, eff = self.p, self.g, self.lr, self.vel, self.eff
        if self.any_wd:
            g = g + self.wd * p
        self.sq *= self.alpha
        self.sq += self.alpha1 * (g * g)
        s = self.sq
        if self.any_centered:
            self.gavg += self.alpha1 * (g - self.gavg)  # torch: grad_avg.lerp_(grad, 1 - alpha)
            s = s - self.centered * (self.gavg * self.gavg)
        avg = np.sqrt(s) + self.eps
        if self.any_mom:
            # with momentum 0 the buffer is exactly grad/avg, torch's plain RMSprop step
            self.buf *= self.mom
            self.buf += g / avg
            p -= lr * self.buf
            vel[:] = self.buf
            eff[:] = lr / avg
        else:
            np.divide(lr, avg, out=eff)
            p -= eff * g


class _Adam(_Family):
    def __init__(self, rows: slice, cfgs: list[OptimConfig]) -> None:
        super().__init__(rows, cfgs)
        self.b1 = _col([c.betas[0] for c in cfgs])
        self.b2 = _col([c.betas[1] for c in cfgs])
        self.b1c, self.b2c = 1.0 - self.b1, 1.0 - self.b2
        self.eps = _col([c.eps for c in cfgs])
        decoupled = _col([c.name == "adamw" for c in cfgs])
        self.wd_coupled = self.wd * (1.0 - decoupled)
        self.wd_decoupled = self.wd * decoupled
        self.any_decoupled = bool(self.wd_decoupled.any())
        self.any_coupled = bool(self.wd_coupled.any())
        self.amsgrad = _col([c.amsgrad for c in cfgs]) > 0
        self.any_amsgrad = bool(self.amsgrad.any())
        self.m = np.zeros((self.k, 2))
        self.v = np.zeros((self.k, 2))
        self.vmax = np.zeros((self.k, 2))
        self.one = np.ones((self.k, 2))
        self.b1t, self.b2t = self.one.copy(), self.one.copy()  # beta ** t as running products

    def step(self, t: int) -> None:
        p, g, lr, vel, eff = self.p, self.g, self.lr, self.vel, self.eff
        if self.any_decoupled:
            p *= 1.0 - lr * self.wd_decoupled  # AdamW: param.mul_(1 - lr * wd)
        if self.any_coupled:
            g = g + self.wd_coupled * p
        self.m += self.b1c * (g - self.m)  # torch: exp_avg.lerp_(grad, 1 - beta1)
        self.v *= self.b2
        self.v += self.b2c * (g * g)
        s = self.v
        if self.any_amsgrad:
            np.maximum(self.vmax, self.v, out=self.vmax)
            s = np.where(self.amsgrad, self.vmax, self.v)
        self.b1t *= self.b1
        self.b2t *= self.b2
        step_size = lr / (self.one - self.b1t)  # torch: lr / (1 - beta1 ** step)
        denom = np.sqrt(s) / np.sqrt(self.one - self.b2t) + self.eps
        np.divide(step_size, denom, out=eff)
        p -= eff * self.m
        vel[:] = self.m


_CLASSES = {"sgd": _SGD, "adagrad": _Adagrad, "rmsprop": _RMSprop, "adam": _Adam}


class BatchedOptimizers:
    """The optimizers of all racers as one stepper. Rows are racers in `order` (grouped by
    family); `step` updates the bound positions in place and writes each row's velocity (the
    momentum buffer / Adam's first moment; 0 where there is none) and effective
    per-coordinate step size (lr for SGD, lr/(√accumulator + ε) for the adaptive ones)."""

    def __init__(self, cfgs: list[OptimConfig]) -> None:
        fam = [family_of(c.name) for c in cfgs]
        self.order = sorted(range(len(cfgs)), key=lambda i: FAMILIES.index(fam[i]))
        self.families: list[_Family] = []
        start = 0
        for f in FAMILIES:
            members = [cfgs[i] for i in self.order if fam[i] == f]
            if members:
                rows = slice(start, start + len(members))
                self.families.append(_CLASSES[f](rows, members))
                start += len(members)
        self.has_velocity = np.array(
            [
                c.name in ("momentum", "nesterov", "adam", "adamw") or (c.name == "rmsprop" and c.rmsprop_momentum > 0)
                for c in cfgs
            ]
        )

    def bind(self, p: np.ndarray, g: np.ndarray, lr: np.ndarray) -> None:
        """Attach the (n, 2) position, gradient and learning-rate arrays (rows in `order`)
        that `step` reads and updates in place; velocity and step size go to self.vel/eff."""
        self.vel = np.zeros_like(p)
        self.eff = np.zeros_like(p)
        for fam in self.families:
            fam.bind(p, g, lr, self.vel, self.eff)

    def step(self, t: int) -> None:
        """One lockstep (t is 1-based)."""
        for fam in self.families:
            fam.step(t)
