"""Sharpness: the top eigenvalue of the loss Hessian, by power iteration on
Hessian-vector products (torch.func: forward-over-reverse, jvp of grad).

Gradient descent with step size lr is stable on a quadratic only while λ_max < 2/lr
(Cohen et al. 2021, "edge of stability"); the view plots λ_max against 2/lr.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jvp

from engine.landscape.params import LandscapeError, ParamLayout


def hvp_function(model: nn.Module, x: torch.Tensor, y: torch.Tensor, params: torch.Tensor | None = None):
    """v ↦ H v for the mean cross-entropy at `params` (flat; default: the model's weights),
    model in eval mode (batch norm on running statistics)."""
    model = copy.deepcopy(model).eval()
    layout = ParamLayout.of(model)
    buffers = dict(model.named_buffers())
    if params is None:
        named = dict(model.named_parameters())
        params = torch.cat([named[n].detach().reshape(-1) for n in layout.names])
    params = params.to(x.device, torch.float32)

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, (layout.split(flat), buffers), (x,)), y)

    g = grad(loss_of)

    def hvp(v: torch.Tensor) -> torch.Tensor:
        return jvp(g, (params,), (v,))[1]
    return hvp, params.numel()


def top_hessian_eigenvalue(model: nn.Module, x: torch.Tensor, y: torch.Tensor, iters: int = 100,
                           tol: float = 1e-7, v0: torch.Tensor | None = None, seed: int = 0,
                           params: torch.Tensor | None = None) -> tuple[float, torch.Tensor, int]:
    """(largest eigenvalue, its unit eigenvector, iterations used). Power iteration finds the
    eigenvalue of largest magnitude; when that one is negative, a second run on H − λI
    finds the largest. Pass the previous eigenvector as v0 to warm-start."""
    hvp, n = hvp_function(model, x, y, params)
    if n == 0:
        raise LandscapeError("the model has no trainable parameters")
    lam, v, used = _power(hvp, n, x.device, iters, tol, v0, seed)
    if lam < 0:
        mu, v2, used2 = _power(lambda u: hvp(u) - lam * u, n, x.device, iters, tol, None, seed + 1)
        return mu + lam, v2, used + used2
    return lam, v, used


def _power(op, n: int, device, iters: int, tol: float, v0, seed: int) -> tuple[float, torch.Tensor, int]:
    if v0 is not None and v0.numel() == n and float(v0.norm()) > 0:
        v = v0.to(device, torch.float32).clone()
    else:
        v = torch.randn(n, generator=torch.Generator().manual_seed(seed)).to(device)
    v /= v.norm()
    lam = 0.0
    for k in range(1, iters + 1):
        w = op(v)
        new = float(v @ w)
        nw = float(w.norm())
        if not torch.isfinite(torch.tensor(nw)) or nw == 0.0:
            return new, v, k
        v = w / nw
        if k > 1 and abs(new - lam) <= tol * max(1.0, abs(new)):
            return new, v, k
        lam = new
    return lam, v, iters
