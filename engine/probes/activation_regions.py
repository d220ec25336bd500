"""The activation explorer's activations and their flat regions, without torch: the window
builds the explorer before the engine has loaded (engine.probes.activation_curves draws f, f′)."""

from __future__ import annotations

import math

SAT_MARGIN = 0.01  # saturated: within 1% of the output span of a bound
EXPLORER_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "prelu")


def saturated_regions(name: str) -> list[tuple[float, float]]:
    """Input intervals where the output is within 1% of the output span of a bound (the
    probes' definition of saturated): there f′ ≈ 0 and learning stalls."""
    if name == "sigmoid":
        a = math.log((1 - SAT_MARGIN) / SAT_MARGIN)  # σ(a) = 0.99
        return [(-math.inf, -a), (a, math.inf)]
    if name == "tanh":
        a = math.atanh(1 - 2 * SAT_MARGIN)  # tanh(a) = 0.98 (1% of the span of 2)
        return [(-math.inf, -a), (a, math.inf)]
    return []


def zero_gradient_regions(name: str) -> list[tuple[float, float]]:
    """Where f′ is exactly 0 (ReLU for x < 0: a unit that stays there is dead)."""
    return [(-math.inf, 0.0)] if name == "relu" else []
