"""The MLP builder: Linear layers with the chosen activation between them."""
from __future__ import annotations

import torch
from torch import nn

from engine.config import ModelConfig
from engine.model.init import initialize


def make_activation(cfg: ModelConfig) -> nn.Module:
    """One activation module; PReLU has a single learnable slope per layer."""
    name = cfg.activation
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(cfg.leaky_slope)
    if name == "prelu":
        return nn.PReLU(num_parameters=1, init=cfg.prelu_init)
    raise ValueError(f"unknown activation '{name}'")


class MLP(nn.Sequential):
    """Flatten → [Linear → activation] × depth → Linear (logits)."""

    def __init__(self, n_in: int, hidden: list[int], n_out: int, cfg: ModelConfig) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        width = n_in
        for h in hidden:
            layers.append(nn.Linear(width, h))
            layers.append(make_activation(cfg))
            width = h
        layers.append(nn.Linear(width, n_out))
        super().__init__(*layers)

    def linear_layers(self) -> list[nn.Linear]:
        return [m for m in self if isinstance(m, nn.Linear)]


def build_model(cfg: ModelConfig, n_in: int, n_classes: int, seed: int) -> nn.Module:
    """Build and initialize the model deterministically from the seed."""
    g = torch.Generator().manual_seed(seed)
    model = MLP(n_in, list(cfg.hidden), n_classes, cfg)
    initialize(model, cfg, g)
    return model
