"""Sharpness: the top eigenvalue of the loss Hessian, by power iteration on
Hessian-vector products computed with torch.func.

Gradient descent with step size lr is stable on a quadratic only while λ_max < 2/lr
(Cohen et al. 2021, "edge of stability"); the view plots λ_max against 2/lr.

Two ways to get H·v with torch.func (the Hessian is symmetric, so v·H = H·v):
- "vjp" (default, reverse-over-reverse): torch.func.vjp of torch.func.grad of the loss of
  functional_call, built once per power iteration; each product is one backward pass
  through the stored graph (Pearlmutter's trick, the same graph as autograd's double
  backward, bitwise-equal results).
- "jvp" (forward-over-reverse): torch.func.jvp(grad(loss), (params,), (v,)), which re-runs
  the forward and backward pass for every product.
On the CPU "vjp" costs about what autograd's double backward does and less than "jvp"
(tests/benchmarks/device_check.py times all three); all three agree to 1e-7
(tests/engine/landscape).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jvp, vjp

from engine.landscape.params import LandscapeError

HVP_METHODS = ("vjp", "jvp")


def hvp_function(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, method: str = "vjp"
) -> tuple[Callable[[torch.Tensor], torch.Tensor], int]:
    """(v ↦ H v on flat vectors, number of trainable parameters) for the mean cross-entropy
    at the model's weights, model in eval mode (batch norm on running statistics, dropout
    off); the model itself (its weights, .grad and mode) is untouched."""
    if method not in HVP_METHODS:
        raise LandscapeError(f"unknown Hessian-vector method '{method}' (expected one of {', '.join(HVP_METHODS)})")
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    fixed = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    fixed.update(dict(model.named_buffers()))
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    if not names:
        raise LandscapeError("the model has no trainable parameters")
    shapes = [params[n].shape for n in names]
    sizes = [params[n].numel() for n in names]
    was_training = model.training
    model.eval()

    def loss_of(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, ({**p, **fixed},), (x,)), y)

    def unflat(v: torch.Tensor) -> dict[str, torch.Tensor]:
        return {n: t.reshape(s) for n, t, s in zip(names, v.split(sizes), shapes)}

    def flat(d: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([d[n].reshape(-1) for n in names]).detach()

    if method == "vjp":
        try:
            with torch.enable_grad():
                pullback = vjp(grad(loss_of), params)[1]
        finally:
            model.train(was_training)

        def hvp(v: torch.Tensor) -> torch.Tensor:
            return flat(pullback(unflat(v))[0])
    else:
        model.train(was_training)
        g = grad(loss_of)

        def hvp(v: torch.Tensor) -> torch.Tensor:
            was = model.training
            model.eval()
            try:
                with torch.enable_grad():
                    return flat(jvp(g, (params,), (unflat(v),))[1])
            finally:
                model.train(was)

    return hvp, sum(sizes)


def top_hessian_eigenvalue(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    iters: int = 100,
    tol: float = 1e-7,
    v0: torch.Tensor | None = None,
    seed: int = 0,
    method: str = "vjp",
) -> tuple[float, torch.Tensor, int]:
    """(largest eigenvalue, its unit eigenvector, iterations used). Power iteration finds the
    eigenvalue of largest magnitude; when that one is negative, a second run on H − λI
    finds the largest. Pass the previous eigenvector as v0 to warm-start."""
    hvp, n = hvp_function(model, x, y, method)
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
