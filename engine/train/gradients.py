"""The per-step gradient bookkeeping: clearing the gradients before backward and their global norm.

The gradients are set to None before each backward pass, as torch's own `zero_grad` does:
autograd then hands each parameter the gradient it computed, where an existing `.grad`
would cost an in-place add per parameter (and zeroing it another kernel); in whole runs of
tests/benchmarks/bench_trainer.py's model that is about 15 µs of a 450 µs step.

The global norm: on the CPU, for float32 gradients, one compiled call that reads every
gradient where it lies (a table of their addresses, refreshed each step, since each backward
makes new tensors) and returns a Python float; elsewhere, and the reference the tests compare
with, torch's per-tensor norms (`reference_grad_norm`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from engine.train.kernels import sum_squares_at


def reference_grad_norm(params: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """The global L2 norm of the parameters' gradients, tensor by tensor (a 0-d tensor)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros((), device=device)
    norms = torch._foreach_norm(grads)  # noqa: SLF001 - torch's fused per-tensor norm, no public form
    return torch.linalg.vector_norm(torch.stack(norms).float())


class StepGradients:
    """The gradients of a run's parameters: `clear(params)` before backward, then `norm()`
    (a float, for the CPU) or `norm_tensor()` (stays on the device)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._params: list[torch.nn.Parameter] = []
        self._owner: list[torch.nn.Parameter] | None = None
        # The compiled norm's tables (None: torch's norms): each gradient's address, filled
        # each step, and its length, fixed with the parameters.
        self._addresses: np.ndarray | None = None
        self._sizes: np.ndarray | None = None

    def _attach(self, params: list[torch.nn.Parameter]) -> None:
        self._owner = self._params = params
        self._addresses = self._sizes = None
        if params and all(p.device.type == "cpu" and p.dtype == torch.float32 for p in params):
            self._addresses = np.zeros(len(params), np.int64)
            self._sizes = np.array([p.numel() for p in params], np.int64)

    def clear(self, params: list[torch.nn.Parameter]) -> None:
        """Clear the gradients before a backward pass (set to None)."""
        if self._owner is not params:
            self._attach(params)
        for p in params:
            p.grad = None

    def norm(self) -> float:
        """The global gradient norm after backward, as a float (reads the device)."""
        addresses, sizes = self._addresses, self._sizes
        if addresses is not None and sizes is not None:
            for i, p in enumerate(self._params):
                g = p.grad
                # (None: a parameter the loss does not reach; a gradient that does not lie in
                # one dense run of float32 values: torch's norms, this step)
                if g is None or not g.is_contiguous() or g.dtype != torch.float32 or g.is_sparse:
                    break
                addresses[i] = g.data_ptr()
            else:
                total = sum_squares_at(addresses, sizes)
                if total is not None:
                    return math.sqrt(total)
        return float(reference_grad_norm(self._params, self.device).double())

    def norm_tensor(self) -> torch.Tensor:
        """The global gradient norm after backward, as a 0-d tensor on the device (no sync)."""
        return reference_grad_norm(self._params, self.device)
