"""Weight initialization schemes (lecture §2). Biases start at zero for every scheme."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from engine.config import ModelConfig

_NonLinearity = Literal["sigmoid", "tanh", "relu", "leaky_relu"]


def _gain(cfg: ModelConfig) -> float:
    nl: dict[str, _NonLinearity] = {
        "sigmoid": "sigmoid",
        "tanh": "tanh",
        "relu": "relu",
        "leaky_relu": "leaky_relu",
        "prelu": "leaky_relu",
    }
    param = cfg.leaky_slope if cfg.activation == "leaky_relu" else cfg.prelu_init
    return nn.init.calculate_gain(nl[cfg.activation], param if nl[cfg.activation] == "leaky_relu" else None)


@torch.no_grad()
def init_linear(weight: torch.Tensor, cfg: ModelConfig, g: torch.Generator) -> None:
    """Initialize one weight matrix (out × in) in place with the configured scheme."""
    fan_out, fan_in = weight.shape[0], int(weight[0].numel())
    scheme = cfg.init
    if scheme == "zeros":
        weight.zero_()
    elif scheme == "constant":
        weight.fill_(cfg.init_constant)
    elif scheme == "normal":
        weight.normal_(0.0, cfg.init_std, generator=g)
    elif scheme == "uniform":
        weight.uniform_(-cfg.init_std, cfg.init_std, generator=g)
    elif scheme == "xavier_uniform":
        # Glorot & Bengio (2010): U(-a, a) with a = sqrt(6 / (n_in + n_out)).
        a = math.sqrt(6.0 / (fan_in + fan_out))
        weight.uniform_(-a, a, generator=g)
    elif scheme == "xavier_normal":
        weight.normal_(0.0, math.sqrt(2.0 / (fan_in + fan_out)), generator=g)
    elif scheme == "kaiming":
        # He et al. (2015), fan-in mode, gain of the configured activation.
        weight.normal_(0.0, _gain(cfg) / math.sqrt(fan_in), generator=g)
    else:
        raise ValueError(f"unknown init '{scheme}'")


def initialize(model: nn.Module, cfg: ModelConfig, g: torch.Generator) -> None:
    """Initialize every Linear/Conv weight with the scheme; zero the biases."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            init_linear(m.weight, cfg, g)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
