"""Which modules of a network the probes watch, found by module type (never by position)."""

from __future__ import annotations

from torch import nn

from engine.probes.snapshot import ProbedLayer  # defined there: reading a session needs no torch

__all__ = ["ACTIVATION_KINDS", "BOUNDS", "RELU_LIKE", "ProbedLayer", "activation_layers", "weight_layers"]

# Activation modules and the name the views show for them.
ACTIVATION_KINDS: dict[type, str] = {
    nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh",
    nn.ReLU: "relu",
    nn.ReLU6: "relu6",
    nn.LeakyReLU: "leaky_relu",
    nn.PReLU: "prelu",
    nn.ELU: "elu",
    nn.GELU: "gelu",
    nn.SiLU: "silu",
    nn.Softplus: "softplus",
    nn.Hardtanh: "hardtanh",
    nn.Softsign: "softsign",
}
# Output bounds of the saturating activations: an output within 1% of the bound's span
# of either bound counts as saturated.
BOUNDS: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "hardtanh": (-1.0, 1.0),
    "softsign": (-1.0, 1.0),
}
# Units of these are "dead" when their output is never positive on the probe batch.
RELU_LIKE = frozenset({"relu", "relu6", "leaky_relu", "prelu"})


def activation_kind(module: nn.Module) -> str | None:
    for cls in type(module).__mro__:
        kind = ACTIVATION_KINDS.get(cls)
        if kind is not None:
            return kind
    return None


def activation_layers(model: nn.Module) -> list[tuple[ProbedLayer, nn.Module]]:
    """Every activation module of the model, in forward (registration) order."""
    out: list[tuple[ProbedLayer, nn.Module]] = []
    for name, m in model.named_modules():
        kind = activation_kind(m)
        if kind is not None:
            out.append((ProbedLayer(name, kind, len(out)), m))
    return out


def weight_layers(model: nn.Module) -> list[tuple[ProbedLayer, nn.Module]]:
    """Every module with a weight matrix or kernel (Linear, Conv...); 1-D weights (norms) are skipped."""
    out: list[tuple[ProbedLayer, nn.Module]] = []
    for name, m in model.named_modules():
        w = getattr(m, "weight", None)
        if isinstance(w, nn.Parameter) and w.dim() >= 2 and w.requires_grad:
            out.append((ProbedLayer(name, type(m).__name__.lower(), len(out)), m))
    return out
