"""Weight initialization schemes (lecture §2).

Hidden layers get the configured scheme (Kaiming with the activation's gain); the output
layer, which no activation follows, starts small by default (model.output_init) so the
initial logits are near 0 and the initial loss is about ln C whatever the data's scale.
Hidden biases start at model.bias_init, the output bias at zero.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from engine.config import ModelConfig

_NonLinearity = Literal["sigmoid", "tanh", "relu", "leaky_relu"]


def _gain(cfg: ModelConfig, activation: str | None = None) -> float:
    nl: dict[str, _NonLinearity] = {
        "sigmoid": "sigmoid",
        "tanh": "tanh",
        "relu": "relu",
        "leaky_relu": "leaky_relu",
        "prelu": "leaky_relu",
    }
    act = cfg.activation if activation is None else activation
    param = cfg.leaky_slope if act == "leaky_relu" else cfg.prelu_init
    return nn.init.calculate_gain(nl[act], param if nl[act] == "leaky_relu" else None)


@torch.no_grad()
def init_linear(weight: torch.Tensor, cfg: ModelConfig, g: torch.Generator, activation: str | None = None) -> None:
    """Initialize one weight matrix (out × in) in place with the configured scheme; Kaiming
    uses the gain of the `activation` that follows it (default: the model-wide one)."""
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
        weight.normal_(0.0, _gain(cfg, activation) / math.sqrt(fan_in), generator=g)
    else:
        raise ValueError(f"unknown init '{scheme}'")


OUTPUT_SCALE = 0.03
"""The output layer's weight std under output_init=small, in units of 1/√fan_in (gain-1 LeCun init):
logits with a spread of about 0.03 (standardized inputs), so the initial loss is within a few % of ln C."""


@torch.no_grad()
def init_output(weight: torch.Tensor, cfg: ModelConfig, g: torch.Generator) -> None:
    """Initialize the output layer: small random weights, or the hidden layers' scheme
    (model.output_init=same). Zeros and constant always apply as they are: a random output
    layer would give the hidden units different gradients and break the symmetry they show."""
    if cfg.output_init == "same" or cfg.init in ("zeros", "constant"):
        init_linear(weight, cfg, g)
        return
    weight.normal_(0.0, OUTPUT_SCALE / math.sqrt(int(weight[0].numel())), generator=g)


def initialize(model: nn.Module, cfg: ModelConfig, g: torch.Generator) -> None:
    """Initialize every Linear/Conv weight, input to output: the scheme in the hidden layers,
    init_output in the last (output) Linear; hidden biases at model.bias_init, the output's at 0."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]
    # The activation after each hidden dense layer (conv blocks use the model-wide one).
    dense = [m for m in layers[:-1] if isinstance(m, nn.Linear)]
    acts = dict(zip(map(id, dense), cfg.activation_per_layer())) if len(dense) == len(cfg.hidden) else {}
    for i, m in enumerate(layers):
        output = i == len(layers) - 1 and isinstance(m, nn.Linear)
        if output:
            init_output(m.weight, cfg, g)
        else:
            init_linear(m.weight, cfg, g, acts.get(id(m)))
        if m.bias is not None:
            nn.init.constant_(m.bias, 0.0 if output else cfg.bias_init)
