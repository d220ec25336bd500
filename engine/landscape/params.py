"""Flat views of a model's parameters: one float32 vector per point of weight space.

Surfaces, directions, trajectories and projections all work on flat vectors; this
module is the one place that knows how a vector maps back to named parameter tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


class LandscapeError(ValueError):
    """A landscape request that cannot be honoured; the message says why, in one line."""


@dataclass(frozen=True)
class ParamLayout:
    """Names, shapes and offsets of a model's trainable parameters in the flat vector."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]

    @classmethod
    def of(cls, model: nn.Module) -> ParamLayout:
        names, shapes, offsets, pos = [], [], [], 0
        for n, p in model.named_parameters():
            if not p.requires_grad:
                continue
            names.append(n)
            shapes.append(tuple(p.shape))
            offsets.append(pos)
            pos += p.numel()
        return cls(tuple(names), tuple(shapes), tuple(offsets))

    @property
    def size(self) -> int:
        if not self.names:
            return 0
        return self.offsets[-1] + int(np.prod(self.shapes[-1], dtype=np.int64))

    def slice(self, name: str) -> slice:
        i = self.names.index(name)
        return slice(self.offsets[i], self.offsets[i] + int(np.prod(self.shapes[i], dtype=np.int64)))

    def split(self, vec: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named views of a flat vector (..., P) → {name: (..., *shape)}; no copy."""
        lead = vec.shape[:-1]
        return {n: vec[..., self.slice(n)].reshape(*lead, *s) for n, s in zip(self.names, self.shapes)}

    def is_bias_like(self, name: str) -> bool:
        """Biases and batch-norm/PReLU parameters: every 0-D or 1-D parameter."""
        return len(self.shapes[self.names.index(name)]) <= 1


def flat_params(model: nn.Module, layout: ParamLayout | None = None) -> torch.Tensor:
    """The model's trainable parameters as one detached float32 vector on the CPU."""
    layout = layout or ParamLayout.of(model)
    params = dict(model.named_parameters())
    if not layout.names:
        return torch.zeros(0)
    return torch.cat([params[n].detach().reshape(-1) for n in layout.names]).float().cpu()


def flat_from_state(state: dict[str, torch.Tensor] | dict[str, np.ndarray], layout: ParamLayout) -> torch.Tensor:
    """A flat vector from a state dict (tensors or numpy arrays), in the layout's order."""
    parts = []
    for n, s in zip(layout.names, layout.shapes):
        if n not in state:
            raise LandscapeError(f"saved weights lack parameter '{n}'")
        t = torch.as_tensor(np.asarray(state[n]) if not isinstance(state[n], torch.Tensor) else state[n])
        if tuple(t.shape) != s:
            raise LandscapeError(f"saved parameter '{n}' has shape {tuple(t.shape)}, the model expects {s}")
        parts.append(t.detach().reshape(-1).float().cpu())
    return torch.cat(parts) if parts else torch.zeros(0)


def load_flat(model: nn.Module, vec: torch.Tensor, layout: ParamLayout | None = None) -> None:
    """Copy a flat vector into the model's parameters in place."""
    layout = layout or ParamLayout.of(model)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, v in layout.split(vec).items():
            params[n].copy_(v.to(params[n].device, params[n].dtype))


def check_finite(vec: torch.Tensor, what: str = "weights") -> None:
    """Refuse non-finite weights (a diverged run) with a one-line message."""
    if not bool(torch.isfinite(vec).all()):
        raise LandscapeError(
            f"the {what} contain NaN or inf (the run diverged): a loss surface there means nothing — "
            "lower the learning rate and restart"
        )
