"""Build a torch.optim optimizer from the config, and edit a running one."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from engine.config import OptimConfig


def build_optimizer(params: Iterable[torch.nn.Parameter] | Iterable[dict], cfg: OptimConfig) -> torch.optim.Optimizer:
    """The configured optimizer with every hyperparameter passed through."""
    n = cfg.name
    if n == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.0, weight_decay=cfg.weight_decay)
    if n == "momentum":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, dampening=cfg.dampening, weight_decay=cfg.weight_decay
        )
    if n == "nesterov":
        # torch requires dampening == 0 for Nesterov momentum.
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, dampening=0.0, nesterov=True, weight_decay=cfg.weight_decay
        )
    if n == "adagrad":
        return torch.optim.Adagrad(
            params,
            lr=cfg.lr,
            lr_decay=cfg.lr_decay,
            weight_decay=cfg.weight_decay,
            initial_accumulator_value=cfg.initial_accumulator,
            eps=cfg.eps,
        )
    if n == "rmsprop":
        return torch.optim.RMSprop(
            params,
            lr=cfg.lr,
            alpha=cfg.alpha,
            eps=cfg.eps,
            weight_decay=cfg.weight_decay,
            momentum=cfg.rmsprop_momentum,
            centered=cfg.centered,
        )
    if n in ("adam", "adamw"):
        cls = torch.optim.Adam if n == "adam" else torch.optim.AdamW
        return cls(
            params,
            lr=cfg.lr,
            betas=(cfg.betas[0], cfg.betas[1]),
            eps=cfg.eps,
            weight_decay=cfg.weight_decay,
            amsgrad=cfg.amsgrad,
        )
    raise ValueError(f"unknown optimizer '{n}'")


def apply_live_edit(optimizer: torch.optim.Optimizer, key: str, value: float, schedule=None) -> bool:
    """Apply an lr/momentum/weight-decay edit to a running optimizer; True if it applied."""
    field = key.split(".")[-1]
    applied = False
    for group in optimizer.param_groups:
        if field == "lr":
            group["lr"] = value
            group.setdefault("initial_lr", value)
            group["initial_lr"] = value
            applied = True
        elif field == "momentum":
            # SGD's momentum coefficient (plain SGD keeps 0: it has no velocity buffer).
            if isinstance(optimizer, torch.optim.SGD) and group["momentum"] > 0:
                group["momentum"] = value
                applied = True
        elif field == "weight_decay" and "weight_decay" in group:
            group["weight_decay"] = value
            applied = True
    if applied and field == "lr" and schedule is not None:
        schedule.rebase(value)
    return applied


def optimizer_state_summary(optimizer: torch.optim.Optimizer) -> dict[str, float]:
    """Hyperparameters of the first param group as plain floats (for status and sessions)."""
    g = optimizer.param_groups[0]
    out: dict[str, float] = {}
    for k, v in g.items():
        if k == "params":
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = float(v)
    return out
