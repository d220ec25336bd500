"""The per-step gradient bookkeeping: zeroing before backward and the global gradient norm.

Fast path: every parameter's `.grad` is a view of one flat buffer, so zeroing them is one
kernel and the global norm is one more (on the CPU the compiled `l2_norm` of
engine/train/kernels.py, a Python float). Autograd accumulates into an existing `.grad` in
place, so once the views are attached backward() writes straight into the buffer.

Plain path, used when the parameters do not share one dtype and device, and the reference
the tests compare with: gradients set to None before backward, the norm from torch's
per-tensor norms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engine.flat import flat_views
from engine.train.kernels import l2_norm


def reference_grad_norm(params: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """The global L2 norm of the parameters' gradients, tensor by tensor (a 0-d tensor)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros((), device=device)
    norms = torch._foreach_norm(grads)  # noqa: SLF001 - torch's fused per-tensor norm, no public form
    return torch.linalg.vector_norm(torch.stack(norms).float())


class GradientBuffer:
    """The gradients of a run's parameters: `zero(params)` before backward, then `norm()`
    (a float, for the CPU) or `norm_tensor()` (stays on the device)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._owner: list[torch.nn.Parameter] | None = None
        self.flat: torch.Tensor | None = None
        self._views: list[torch.Tensor] = []
        self._host: np.ndarray | None = None  # the flat buffer seen by numpy (CPU float32/64)
        self._params: list[torch.nn.Parameter] = []

    def _attach(self, params: list[torch.nn.Parameter]) -> None:
        self._owner = self._params = params
        self.flat, self._views, self._host = None, [], None
        if not params or len({(p.dtype, p.device) for p in params}) != 1:
            return  # the plain path
        self.flat = torch.zeros(sum(p.numel() for p in params), dtype=params[0].dtype, device=params[0].device)
        self._views = flat_views(self.flat, params)
        if self.flat.device.type == "cpu" and self.flat.dtype in (torch.float32, torch.float64):
            self._host = self.flat.numpy()

    def zero(self, params: list[torch.nn.Parameter]) -> None:
        """Zero the gradients before a backward pass (the buffer is rebuilt when the list of
        parameters is another one: a new or reloaded model)."""
        if self._owner is not params:
            self._attach(params)
        flat = self.flat
        if flat is None:
            for p in params:
                p.grad = None
            return
        flat.zero_()
        for p, v in zip(params, self._views):
            if p.grad is not v:  # someone set it to None or replaced it: re-attach the view
                p.grad = v

    def norm(self) -> float:
        """The global gradient norm after backward, as a float (reads the device)."""
        if self.flat is None:
            return float(reference_grad_norm(self._params, self.device))
        return l2_norm(self.flat, self._host)

    def norm_tensor(self) -> torch.Tensor:
        """The global gradient norm after backward, as a 0-d tensor on the device (no sync)."""
        if self.flat is None:
            return reference_grad_norm(self._params, self.device)
        return torch.linalg.vector_norm(self.flat)
