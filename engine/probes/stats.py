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


Group = tuple[list[torch.Tensor], list[GrowingRange], list[str] | None]


def summarize(tensors: list[torch.Tensor], ranges: list[GrowingRange], bins: int,
              kinds: list[str] | None = None) -> LayerSummary:
    """Histogram + statistics of each tensor; with `kinds`, also activation statistics:
    saturated fraction (bounded kinds), dead-unit fraction (ReLU family) and the spread
    across units (0 when all units of the layer are identical: unbroken symmetry)."""
    return summarize_groups([(tensors, ranges, kinds)], bins)[0]


def summarize_groups(groups: list[Group], bins: int) -> list[LayerSummary]:
    """`summarize` for several groups of layers at once, with one device→host read (two
    when a layer's range has to be set or grown).

    This runs on the training thread every K steps: mean and std follow on the host (in
    float64) from each layer's sum and L2 norm, so a layer costs a handful of kernels."""
    tensors = [t for g in groups for t in g[0]]
    ranges = [r for g in groups for r in g[1]]
    kinds_all = [(g[2][i] if g[2] is not None else None) for g in groups for i in range(len(g[0]))]
    n = len(tensors)
    if n == 0:
        return [_empty_summary(0, bins, g[2] is not None) for g in groups]
    flat = [t.detach().reshape(-1) for t in tensors]
    flat = [f if f.dtype == torch.float32 else f.float() for f in flat]
    for i in range(n):
        kind = kinds_all[i] or ""
        if kind in BOUNDS and math.isnan(ranges[i].lo):
            ranges[i].lo, ranges[i].hi = BOUNDS[kind]
    live = [i for i in range(n) if flat[i].numel()]
    # Round 1 (optimistic): bin with each layer's current range and read its extremes along
    # with everything else, in one read. Ranges only grow, so after the first probes a
    # layer rarely leaves its range; those that do (or are new, or hold NaN/Inf) are
    # binned again in round 2.
    chunks: list[torch.Tensor] = []
    layout: list[tuple[int, str, int]] = []
    for i in live:
        f = flat[i]
        chunks.append(torch.stack(torch.aminmax(f)))
        layout.append((i, "minmax", 2))
        if not math.isnan(ranges[i].lo):
            chunks += _bin_stats(f, ranges[i].lo, ranges[i].hi, bins)
            layout.append((i, "binned", bins + 2))
        if kinds_all[i] is not None:
            chunks.append(_activation_stats(tensors[i].detach(), kinds_all[i]))
            layout.append((i, "extra", 3))
    got: dict[tuple[int, str], np.ndarray] = {}
    if chunks:
        packed = torch.cat([c.reshape(-1).float() for c in chunks]).cpu().double().numpy()
        pos = 0
        for i, what, size in layout:
            got[(i, what)] = packed[pos:pos + size]
            pos += size
    nonfinite = np.zeros(n)
    lims: list[tuple[float, float]] = []
    redo = []
    for i in range(n):
        f = flat[i]
        if not f.numel():
            lims.append((ranges[i].lo, ranges[i].hi) if not math.isnan(ranges[i].lo) else (0.0, 1.0))
            continue
        vmin, vmax = got[(i, "minmax")]
        if not (math.isfinite(vmin) and math.isfinite(vmax)):
            ok = torch.isfinite(f)      # rare path: drop NaN/Inf and count them
            f = flat[i] = f[ok]
            nonfinite[i] = float(ok.numel() - f.numel())
            vmin = vmax = math.nan
            if f.numel():
                mm = torch.aminmax(f)
                vmin, vmax = float(mm.min), float(mm.max)
        inside = (i, "binned") in got and nonfinite[i] == 0 and ranges[i].lo <= vmin and vmax <= ranges[i].hi
        if f.numel():
            lims.append(ranges[i].fit(vmin, vmax))
        else:
            lims.append((ranges[i].lo, ranges[i].hi) if not math.isnan(ranges[i].lo) else (0.0, 1.0))
        if not inside:
            got.pop((i, "binned"), None)
            if f.numel():
                redo.append(i)
    if redo:   # round 2: the layers whose range had to be set or grown
        chunks = [c for i in redo for c in _bin_stats(flat[i], lims[i][0], lims[i][1], bins)]
        packed = torch.cat([c.reshape(-1).float() for c in chunks]).cpu().double().numpy()
        for k, i in enumerate(redo):
            got[(i, "binned")] = packed[k * (bins + 2):(k + 1) * (bins + 2)]
    live = [i for i in range(n) if (i, "binned") in got]
    sizes = tuple(int(flat[i].numel()) for i in live)
    m = len(live)
    if m:
        h = np.stack([got[(i, "binned")][:bins] for i in live])
        sums_h = np.array([got[(i, "binned")][bins] for i in live])
        sq_h = np.array([got[(i, "binned")][bins + 1] for i in live]) ** 2
    extra_rows = [i for i in range(n) if (i, "extra") in got]
    extra_h = np.stack([got[(i, "extra")] for i in extra_rows]) if extra_rows else np.zeros((0, 3))
    # Scatter back into per-group summaries.
    results = []
    row_of = {i: k for k, i in enumerate(live)}
    act_row = {i: k for k, i in enumerate(extra_rows)}
    start = 0
    for tensors_g, _, kinds_g in groups:
        L = len(tensors_g)
        idxs = range(start, start + L)
        start += L
        out = _empty_summary(L, bins, kinds_g is not None)
        for j, i in enumerate(idxs):
            out.range[j] = lims[i]
            out.count[j] = flat[i].numel()
            out.nonfinite[j] = nonfinite[i]
            if i in row_of:
                k = row_of[i]
                cnt = float(sizes[k])
                out.hist[j] = h[k]
                mean = sums_h[k] / cnt
                out.mean[j] = mean
                out.std[j] = math.sqrt(max(sq_h[k] / cnt - mean * mean, 0.0))
                out.norm[j] = math.sqrt(max(sq_h[k], 0.0))
                if i in act_row:
                    for e, name in enumerate(("saturated", "dead", "unit_spread")):
                        out.extra[name][j] = extra_h[act_row[i], e]
        results.append(out)
    return results


def _bin_stats(f: torch.Tensor, lo: float, hi: float, bins: int) -> list[torch.Tensor]:
    """[counts per bin, sum, L2 norm] of a flat float tensor (values outside are clamped)."""
    # Bin index as torch.histc would give it (the top edge falls in the last bin). A range
    # near float32's limits (a diverging run) is binned in float64, where it cannot overflow;
    # the final integer clamp keeps any leftover NaN out of bincount's way.
    x = f.double() if max(abs(lo), abs(hi)) > 1e30 else f
    idx = (x - lo).mul_(bins / (hi - lo)).clamp_(0, bins - 0.5).to(torch.int32).clamp_(0, bins - 1)
    return [torch.bincount(idx, minlength=bins), f.sum().reshape(1), torch.linalg.vector_norm(f).reshape(1)]


def _empty_summary(n: int, bins: int, activations: bool) -> LayerSummary:
    nan = np.full(n, math.nan)
    s = LayerSummary(hist=np.zeros((n, bins), np.float32), range=np.full((n, 2), math.nan), mean=nan.copy(),
                     std=nan.copy(), norm=nan.copy(), count=np.zeros(n), nonfinite=np.zeros(n))
    if activations:
        s.extra = {name: nan.copy() for name in ("saturated", "dead", "unit_spread")}
    return s


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
