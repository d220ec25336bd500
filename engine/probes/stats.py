"""Histograms and statistics of per-layer tensors, computed with torch on their device.

Each call handles a list of tensors (one per layer) with two device→host reads in all:
one for the value ranges (to grow the histogram ranges), one for every result.
Empty tensors, constant tensors and NaN/Inf values are handled and counted, never fatal.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.probes.layers import BOUNDS, RELU_LIKE

SAT_MARGIN = 0.01   # saturated: within 1% of the output span of a bound
SPREAD_SAMPLES = 32  # samples used for the spread across units (the symmetry indicator)


@dataclass
class GrowingRange:
    """A histogram range that only grows, so bins stay stable between growth events."""

    lo: float = math.nan
    hi: float = math.nan
    grown: int = 0

    def fit(self, vmin: float, vmax: float) -> tuple[float, float]:
        if not (math.isfinite(vmin) and math.isfinite(vmax)):
            if math.isnan(self.lo):
                return (0.0, 1.0)
            return (self.lo, self.hi)
        if math.isnan(self.lo):
            span = vmax - vmin
            pad = 0.05 * span if span > 0 else max(1e-3, 0.1 * abs(vmin))
            self.lo, self.hi = vmin - pad, vmax + pad
            return (self.lo, self.hi)
        if vmin < self.lo or vmax > self.hi:
            span = max(self.hi - self.lo, vmax - vmin, 1e-12)
            # Grow past the new extreme by a quarter span so it does not regrow every probe.
            if vmin < self.lo:
                self.lo = vmin - 0.25 * span
            if vmax > self.hi:
                self.hi = vmax + 0.25 * span
            self.grown += 1
        return (self.lo, self.hi)


@dataclass
class LayerSummary:
    """Host-side results for a list of layers (arrays over layers)."""

    hist: np.ndarray            # (L, bins) counts of finite values
    range: np.ndarray           # (L, 2) histogram range
    mean: np.ndarray            # (L,)
    std: np.ndarray             # (L,)
    norm: np.ndarray            # (L,) L2 norm of the finite values
    count: np.ndarray           # (L,) number of values
    nonfinite: np.ndarray       # (L,) number of NaN/Inf values
    extra: dict[str, np.ndarray] = field(default_factory=dict)   # saturated, dead, unit_spread...

    def as_dict(self) -> dict[str, np.ndarray]:
        d = {"hist": self.hist, "range": self.range, "mean": self.mean, "std": self.std, "norm": self.norm,
             "count": self.count, "nonfinite": self.nonfinite}
        d.update(self.extra)
        return d


def _unit_view(t: torch.Tensor) -> torch.Tensor:
    """(samples, units, positions): a unit is a feature (dense) or a channel (conv)."""
    if t.dim() == 0:
        return t.reshape(1, 1, 1)
    if t.dim() == 1:
        return t.reshape(t.shape[0], 1, 1)
    return t.reshape(t.shape[0], t.shape[1], -1)


def summarize(tensors: list[torch.Tensor], ranges: list[GrowingRange], bins: int,
              kinds: list[str] | None = None) -> LayerSummary:
    """Histogram + statistics of each tensor; with `kinds`, also activation statistics:
    saturated fraction (bounded kinds), dead-unit fraction (ReLU family) and the spread
    across units (0 when all units of the layer are identical: unbroken symmetry).

    Few, cheap kernels per layer (aminmax, sum, norm, one bincount) because this runs on
    the training thread: mean and std come from the sum and the norm."""
    n = len(tensors)
    flat = [t.detach().reshape(-1) for t in tensors]
    flat = [f if f.dtype == torch.float32 else f.float() for f in flat]
    # Pass 1: extremes of every layer, read in one go (NaN propagates, Inf shows).
    parts = []
    for f in flat:
        if f.numel() == 0:
            parts.append(torch.zeros(2, device=f.device, dtype=torch.float32))
        else:
            parts.append(torch.stack(torch.aminmax(f)))
    first = torch.stack(parts).cpu().double().numpy() if parts else np.zeros((0, 2))
    nonfinite = np.zeros(n)
    lims = []
    for i, f in enumerate(flat):
        vmin, vmax = first[i]
        if f.numel() and not (math.isfinite(vmin) and math.isfinite(vmax)):
            ok = torch.isfinite(f)      # rare path: drop NaN/Inf and count them
            f = flat[i] = f[ok]
            nonfinite[i] = float(ok.numel() - f.numel())
            if f.numel():
                mm = torch.aminmax(f)
                vmin, vmax = float(mm.min), float(mm.max)
        kind = kinds[i] if kinds else ""
        if kind in BOUNDS and math.isnan(ranges[i].lo):
            ranges[i].lo, ranges[i].hi = BOUNDS[kind]
        if f.numel():
            lims.append(ranges[i].fit(vmin, vmax))
        else:
            lims.append((ranges[i].lo, ranges[i].hi) if not math.isnan(ranges[i].lo) else (0.0, 1.0))
    # Pass 2: every result of every layer in one tensor, one read.
    n_extra = 3 if kinds is not None else 0
    width = bins + 2 + n_extra
    rows = []
    for i, f in enumerate(flat):
        lo, hi = lims[i]
        dev = f.device
        if f.numel() == 0:
            row = torch.full((width,), math.nan, device=dev)
            row[:bins] = 0
            rows.append(row)
            continue
        # Bin index as torch.histc would give it (the top edge falls in the last bin).
        idx = (f - lo).mul_(bins / (hi - lo)).clamp_(0, bins - 0.5).to(torch.int32)
        vals = [torch.bincount(idx, minlength=bins).float(), f.sum().reshape(1),
                torch.linalg.vector_norm(f).reshape(1)]
        if kinds is not None:
            vals.append(_activation_stats(tensors[i].detach(), kinds[i]))
        rows.append(torch.cat(vals))
    second = torch.stack(rows).cpu().double().numpy() if rows else np.zeros((0, width))
    count = np.array([f.numel() for f in flat], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        total, norm = second[:, bins], second[:, bins + 1]
        mean = total / count
        std = np.sqrt(np.maximum(norm * norm / count - mean * mean, 0.0))
    summary = LayerSummary(hist=second[:, :bins].astype(np.float32),
                           range=np.array(lims, dtype=np.float64).reshape(n, 2), mean=mean, std=std, norm=norm,
                           count=count, nonfinite=nonfinite)
    for j, name in enumerate(("saturated", "dead", "unit_spread")[:n_extra]):
        summary.extra[name] = second[:, bins + 2 + j]
    return summary


def _activation_stats(t: torch.Tensor, kind: str) -> torch.Tensor:
    """[saturated fraction, dead-unit fraction, relative spread across units] (NaN: not applicable)."""
    dev = t.device
    nan = torch.full((), math.nan, device=dev)
    u = _unit_view(t if t.dtype == torch.float32 else t.float())
    if kind in BOUNDS:
        lo, hi = BOUNDS[kind]
        m = SAT_MARGIN * (hi - lo)
        mid, half = (lo + hi) / 2, (hi - lo) / 2 - m
        sat = ((u - mid).abs() >= half).sum() / max(1, u.numel())
    else:
        sat = nan
    if kind in RELU_LIKE:
        dead = (u.amax(dim=(0, 2)) <= 0).sum() / max(1, u.shape[1])
    else:
        dead = nan
    if u.shape[1] > 1:
        # Largest deviation of any unit from unit 0, relative to the layer's mean |value|, on
        # the first SPREAD_SAMPLES samples: exactly 0 when every unit computes the same thing.
        per_unit = u[:SPREAD_SAMPLES]
        per_unit = per_unit if per_unit.shape[2] == 1 else per_unit.mean(dim=2, keepdim=True)
        dev_max = (per_unit - per_unit[:, :1]).abs_().amax()
        scale = per_unit.abs().mean()
        # A layer that outputs zeros everywhere (dead) has no meaningful spread.
        spread = torch.where(scale > 1e-12, dev_max / scale.clamp_min(1e-12), nan)
    else:
        spread = nan
    return torch.stack([sat.float(), dead.float(), spread.float()])
