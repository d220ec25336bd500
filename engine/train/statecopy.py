"""A reusable copy of a model's parameters and buffers: the trainer's last good state and
the state pending judgement (restored when a run diverges).

The floating-point tensors of one dtype (the first one met) live in one flat buffer, so
taking a copy is one foreach copy and, on the CPU, checking it for NaN/Inf is one compiled
pass over that buffer (engine/train/kernels.py) instead of a norm per tensor and a read of
each. The copy is taken once per report window, after the training steps have pushed the
trainer's code out of the caches, where every extra call costs several times its warm
price.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from engine.flat import flat_views
from engine.train.kernels import l2_norm


def all_finite(tensors: Sequence[torch.Tensor]) -> torch.Tensor | bool:
    """Whether every floating-point value in `tensors` is finite: a bool on the CPU, a 0-d
    bool tensor elsewhere (computed on the device, without a sync; read it with bool())."""
    floats = [t for t in tensors if t.is_floating_point() and t.numel()]
    if not floats:
        return True
    # The L2 norm per tensor: NaN or Inf when some value is, and Inf too when a float32 value
    # passes ~1e19 (its square overflows) — weights that large are no state to go back to
    # either. About 8 times cheaper than the largest magnitude (ord=inf) on the CPU.
    norms = torch._foreach_norm(floats, 2)  # noqa: SLF001 - torch's fused per-tensor norm, no public form
    if floats[0].is_cpu:  # reading CPU scalars costs less than stacking them
        return math.isfinite(sum([n.item() for n in norms]))
    return torch.isfinite(torch.stack([n.float() for n in norms]).sum())


class StateCopy:
    """A copy shaped like `like` (a list of tensors: parameters, then buffers). `tensors`
    are its tensors in that order (views of the flat buffer for the floating-point ones of
    its dtype, clones for the others)."""

    def __init__(self, like: Sequence[torch.Tensor]) -> None:
        floats = [t for t in like if t.is_floating_point()]
        self._flat: torch.Tensor | None = None
        self._host: np.ndarray | None = None  # the flat buffer seen by numpy (CPU float32/64)
        if floats:
            dtype, device = floats[0].dtype, floats[0].device
            inside = [t.dtype == dtype and t.device == device for t in like]
            self._flat = torch.empty(sum(t.numel() for t, i in zip(like, inside) if i), dtype=dtype, device=device)
            views = iter(flat_views(self._flat, [t for t, i in zip(like, inside) if i]))
            self.tensors = [next(views) if i else t.detach().clone() for t, i in zip(like, inside)]
            if device.type == "cpu" and dtype in (torch.float32, torch.float64):
                self._host = self._flat.numpy()
            self._rest = [t for t, i in zip(self.tensors, inside) if not i and t.is_floating_point()]
        else:
            self.tensors = [t.detach().clone() for t in like]
            self._rest = []
        self.copy_from(like)

    @torch.no_grad()
    def copy_from(self, src: Sequence[torch.Tensor]) -> None:
        """Take the values of `src` (shaped like this copy)."""
        if self.tensors:
            torch._foreach_copy_(self.tensors, list(src))

    def all_finite(self) -> torch.Tensor | bool:
        """Whether every floating-point value is finite (as `all_finite`): on the CPU one
        compiled pass over the flat buffer, its squares summed in float64: finite exactly
        when every float32 value is (a float64 value past ~1e154 counts as non-finite)."""
        flat = self._flat
        if self._host is None or flat is None:
            return all_finite(self.tensors)
        if not math.isfinite(l2_norm(flat, self._host)):
            return False
        return all_finite(self._rest) if self._rest else True
