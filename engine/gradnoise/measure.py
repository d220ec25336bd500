"""Minibatch gradients against the full-batch gradient of a fixed subset, per layer.

For each batch size B, `draws` minibatches of B samples are drawn (without replacement)
from the subset of N samples; with g_B a minibatch gradient and G the subset's full-batch
gradient of one layer's weights,

  relative variance  E‖g_B − G‖² / ‖G‖²   (sampling theory: ≈ (σ²/B)(1 − B/N)/‖G‖², so 1/B)
  cosine             E cos(g_B, G)          (how well a step points along the full gradient)

The model is evaluated in eval mode (dropout off, batch norm on its running estimates), so
the spread is the sampling noise of the data alone; torch.autograd.grad leaves the
parameters' .grad alone, and nothing in the model changes.

`expected_noise` computes the same relative variance without drawing anything: from the N
per-sample gradients g_i (torch.func: vmap over grad), with S = (1/N) Σ ‖g_i − G‖², the mean
of B of them drawn without replacement has E‖g_B − G‖² = S (N − B) / (B (N − 1)) exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap


def weight_layers(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Each Linear/Conv layer's weight with a label ('dense 1 (32×2)', 'conv 1 (16×1×3×3)')."""
    out: list[tuple[str, torch.Tensor]] = []
    n_dense = n_conv = 0
    for m in model.modules():
        if isinstance(m, nn.Linear):
            n_dense += 1
            out.append((f"dense {n_dense} ({m.out_features}×{m.in_features})", m.weight))
        elif isinstance(m, nn.Conv2d):
            n_conv += 1
            out.append((f"conv {n_conv} ({'×'.join(map(str, m.weight.shape))})", m.weight))
    return out


def reference_subset(x: torch.Tensor, y: torch.Tensor, samples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed training subset whose full-batch gradient is the reference: `samples` of
    them (all when fewer), picked by `seed`, in their original order."""
    pick = torch.randperm(int(x.shape[0]), generator=torch.Generator().manual_seed(seed + 6))[:samples]
    pick = pick.sort().values.to(x.device)
    return x[pick], y[pick]


def gradient_noise(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_sizes: list[int],
    draws: int,
    generator: torch.Generator,
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(batch sizes used, relative variance (B, L), mean cosine (B, L)) over the weight
    layers of `model` (weight_layers order); batch sizes above len(x) are left out."""
    layers = weight_layers(model)
    params = [p for _, p in layers]
    n = int(x.shape[0])
    sizes = [int(b) for b in batch_sizes if 1 <= b <= n]
    was = model.training
    model.eval()
    try:

        def grads(idx: torch.Tensor | None) -> list[torch.Tensor]:
            xb, yb = (x, y) if idx is None else (x[idx], y[idx])
            loss = nn.functional.cross_entropy(model(xb), yb)
            return [g.detach().flatten() for g in torch.autograd.grad(loss, params, allow_unused=True)]

        full = grads(None)
        full_sq = torch.stack([g.square().sum() for g in full])
        full_norm = full_sq.sqrt()
        rel = np.zeros((len(sizes), len(params)))
        cos = np.zeros((len(sizes), len(params)))
        for i, b in enumerate(sizes):
            dev = torch.zeros(len(params), dtype=torch.float64)
            cs = torch.zeros(len(params), dtype=torch.float64)
            for _ in range(draws):
                idx = torch.randperm(n, generator=generator)[:b].to(x.device)
                g = grads(idx)
                diff = torch.stack([(a - f).square().sum() for a, f in zip(g, full)])
                dots = torch.stack([(a * f).sum() for a, f in zip(g, full)])
                norms = torch.stack([a.square().sum().sqrt() for a in g])
                dev += diff.double().cpu()
                cs += (dots / (norms * full_norm).clamp_min(1e-30)).double().cpu()
            rel[i] = (dev / draws / full_sq.double().cpu().clamp_min(1e-30)).numpy()
            cos[i] = (cs / draws).numpy()
        return sizes, rel, cos
    finally:
        model.train(was)


def expected_noise(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_sizes: list[int]) -> np.ndarray:
    """The exact E‖g_B − G‖² / ‖G‖² (B, L) that `gradient_noise` estimates by drawing, from the
    per-sample gradients of the N samples (eval mode, weight_layers order); a batch size
    above N is refused with ValueError."""
    n = int(x.shape[0])
    for b in batch_sizes:
        if not 1 <= b <= n:
            raise ValueError(f"batch size {b} is not in [1, {n}] (the subset has {n} samples)")
    names = {id(p): k for k, p in model.named_parameters()}
    keys = [names[id(w)] for _, w in weight_layers(model)]
    params = {k: p.detach() for k, p in model.named_parameters()}
    buffers = {k: b.detach() for k, b in model.named_buffers()}

    def loss(p: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return nn.functional.cross_entropy(out, yi.unsqueeze(0))

    was = model.training
    model.eval()
    try:
        per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    finally:
        model.train(was)
    out = np.zeros((len(batch_sizes), len(keys)))
    for j, k in enumerate(keys):
        g = per_sample[k].reshape(n, -1).double()
        full = g.mean(0)
        spread = float((g - full).square().sum(1).mean())
        full_sq = max(float(full.square().sum()), 1e-30)
        for i, b in enumerate(batch_sizes):
            out[i, j] = spread * (n - b) / (b * max(n - 1, 1)) / full_sq
    return out
