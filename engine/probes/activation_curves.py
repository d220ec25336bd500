"""f and f′ of the activation functions (lecture §1), with their saturated regions, for the
activation explorer. Derivatives come from autograd on the same torch modules the models use."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.probes.activation_regions import (  # the explorer's names, kept importable from here
    EXPLORER_ACTIVATIONS,
    saturated_regions,
    zero_gradient_regions,
)

__all__ = [
    "EXPLORER_ACTIVATIONS",
    "activation_curve",
    "activation_module",
    "saturated_regions",
    "zero_gradient_regions",
]


def activation_module(name: str, slope: float = 0.01) -> nn.Module:
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(slope)
    if name == "prelu":
        return nn.PReLU(num_parameters=1, init=slope)
    raise ValueError(f"unknown activation '{name}' (choose from {', '.join(EXPLORER_ACTIVATIONS)})")


def activation_curve(name: str, x: np.ndarray, slope: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """(f(x), f′(x)) evaluated with torch; `slope` is leaky ReLU's α or PReLU's current α."""
    if not 0.0 <= slope <= 1.0:
        raise ValueError(f"slope must be in [0, 1], got {slope}")
    m = activation_module(name, slope)
    t = torch.as_tensor(np.asarray(x, dtype=np.float64)).requires_grad_(True)
    y = m.double()(t)
    (g,) = torch.autograd.grad(y.sum(), t)
    return y.detach().numpy(), g.numpy()
