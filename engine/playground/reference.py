"""An independent reference race, the tests' oracle: each racer alone, in a plain loop of
its own (gradient, noise, `build_optimizer`'s torch.optim step(), LRSchedule stepped with
the loss), sharing no code with Race's loop. Race (batched or exact=True) must reproduce
these paths. Slow: it is not used by the app.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from engine.optim import build_optimizer
from engine.optim.schedules import LRSchedule
from engine.playground.config import PlaygroundConfig
from engine.playground.functions import get_function
from engine.playground.race import DIVERGE_LIMIT


def reference_paths(cfg: PlaygroundConfig, steps: int | None = None) -> list[dict[str, np.ndarray]]:
    """Per racer: positions (T+1, 2), losses (T+1,), gradients/velocities (T, 2), from torch.optim.
    A racer that diverges stops (its arrays are shorter)."""
    fn = get_function(cfg.function)
    T = cfg.steps if steps is None else steps
    noise = np.random.default_rng(cfg.seed).standard_normal((cfg.steps, 2)) * cfg.sigma if cfg.sigma > 0 else None
    out = []
    for racer in cfg.racers:
        p = torch.nn.Parameter(torch.tensor(cfg.start_point, dtype=torch.float64))
        opt = build_optimizer([p], racer.optim)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = LRSchedule(opt, racer.schedule, steps_per_epoch=1, epochs=cfg.steps, base_lr=racer.optim.lr)
        pos, loss, grads, vels = [p.detach().numpy().copy()], [], [], []
        with torch.no_grad():
            loss.append(float(fn.value(p[0], p[1], torch, cfg.params)))
        for t in range(T):
            with torch.no_grad():
                gx, gy = fn.grad(p[0], p[1], torch, cfg.params)
                g = torch.stack([gx, gy])
                if noise is not None:
                    g = g + torch.from_numpy(noise[t])
            p.grad = g.clone()
            opt.step()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with torch.no_grad():
                    value = float(fn.value(p[0], p[1], torch, cfg.params))
                sched.after_step()
                sched.after_epoch(value)
            x = p.detach().numpy().copy()
            if not (np.isfinite(value) and np.all(np.abs(x) < DIVERGE_LIMIT)):
                break
            st = opt.state[p]
            v = st.get("momentum_buffer", st.get("exp_avg"))
            vels.append(v.numpy().copy() if v is not None else np.zeros(2))
            grads.append(g.numpy().copy())
            pos.append(x)
            loss.append(value)
        out.append(
            {
                "positions": np.array(pos),
                "losses": np.array(loss),
                "gradients": np.array(grads).reshape(-1, 2),
                "velocities": np.array(vels).reshape(-1, 2),
            }
        )
    return out
