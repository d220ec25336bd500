"""Explicit weight penalties: L2 (λ/2·Σw²) and L1 (λ·Σ|w|) on the weights of the dense
and conv layers (not biases, not batch-norm scales).

The penalty's gradient (λ·w, λ·sign w) is added to the data gradient right after the
backward pass: exactly the gradient of data loss + penalty, without building the penalty
into the autograd graph every step. With plain SGD this equals weight decay; with
Adam the penalty gradient is rescaled per parameter while AdamW's decay is not
(Loshchilov & Hutter 2019) — why both are offered. The curves keep the data loss; the
penalty itself is recorded once per epoch as `epoch/penalty`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.train.context import RunContext


def penalized_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weight tensors the penalties apply to: Linear and Conv weights."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


@torch.no_grad()
def penalty_value(weights: list[torch.Tensor], l2: float, l1: float) -> float:
    """λ2/2·Σw² + λ1·Σ|w| (one host read)."""
    total = torch.zeros((), device=weights[0].device, dtype=torch.float64)
    if l2:
        total += 0.5 * l2 * sum(w.double().pow(2).sum() for w in weights)
    if l1:
        total += l1 * sum(w.double().abs().sum() for w in weights)
    return float(total)


class PenaltyHook(TrainerHook):
    """Adds the L1/L2 penalty gradient after backward; records the penalty per epoch."""

    name = "penalty"

    def __init__(self, l2: float, l1: float) -> None:
        self.l2, self.l1 = float(l2), float(l1)
        self.weights: list[torch.Tensor] = []

    def setup(self, ctx: RunContext) -> None:
        self.weights = penalized_weights(ctx.model)

    @torch.no_grad()
    def after_backward(self, ctx: RunContext) -> None:
        pairs = [(w, w.grad) for w in self.weights if w.grad is not None]
        if not pairs:
            return
        ws = [w for w, _ in pairs]
        gs = [g for _, g in pairs]
        if self.l2:
            torch._foreach_add_(gs, ws, alpha=self.l2)
        if self.l1:
            torch._foreach_add_(gs, torch._foreach_sign(ws), alpha=self.l1)  # noqa: SLF001 - fused kernel, no public form

    def on_epoch_end(self, ctx: RunContext, metrics: Mapping[str, float]) -> None:
        ctx.record_epoch("penalty", penalty_value(self.weights, self.l2, self.l1))
