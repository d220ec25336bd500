"""Histograms and statistics of per-layer tensors, computed with torch on their device.

A probe summarizes every layer of every group (activations, gradients, weights) at once,
so its cost is a few kernels per probe rather than a handful per layer: all values are
concatenated and binned in one pass with ONE bincount (each layer's bin indices offset by
its position, each layer keeping its own stable range), the reductions torch runs fastest
per contiguous tensor (min/max, sum) run on each layer, the L2 norms in one foreach call,
and every result comes back to the host in ONE device→host copy (two when a layer's range
has to be set or grown). Empty tensors, constant tensors and NaN/Inf values are handled
and counted, never fatal.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.probes.layers import BOUNDS, RELU_LIKE

SAT_MARGIN = 0.01   # saturated: within 1% of the output span of a bound
SPREAD_SAMPLES = 32  # samples used for the spread across units (the symmetry indicator)
WIDE_RANGE = 1e30    # a histogram range beyond this (a diverging run) is binned in float64
ACTIVATION_EXTRAS = ("saturated", "dead", "unit_spread")


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


class BinLayout:
    """Work buffers for binning a concatenation of layers with one bincount: the values, their
    bin indices and each value's layer offset. Kept by the caller between probes: they
    depend only on the layers' sizes, which stay the same from probe to probe, so they are
    allocated once per run instead of once per probe."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._buffers: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def buffers(self, sizes: Sequence[int], bins: int, device: torch.device,
                dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(values, indices, offsets) for layers of these sizes."""
        key = (tuple(sizes), bins, str(device), dtype)
        if key != self._key or self._buffers is None:
            total = int(sum(sizes))
            per_layer = torch.arange(len(sizes), dtype=torch.int32, device=device) * (bins + 1)
            offsets = per_layer.repeat_interleave(torch.tensor(list(sizes), device=device), output_size=total)
            self._buffers = (torch.empty(total, dtype=dtype, device=device),
                             torch.empty(total, dtype=torch.int32, device=device), offsets)
            self._key = key
        return self._buffers


class _HostRead:
    """Device tensors to read back together: one concatenation, one device→host copy."""

    def __init__(self) -> None:
        self.scalars: list[torch.Tensor] = []     # 0-d floating tensors
        self.arrays: list[torch.Tensor] = []      # any floating tensors (flattened)
        self.counts: torch.Tensor | None = None   # integer tensor (kept exact in float64)

    def scalar(self, t: torch.Tensor) -> int:
        self.scalars.append(t)
        return len(self.scalars) - 1

    def array(self, t: torch.Tensor) -> int:
        self.arrays.append(t)
        return len(self.arrays) - 1

    def read(self) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """(counts, scalars, arrays) on the host, in float64."""
        floats = ([torch.stack([s.float() for s in self.scalars])] if self.scalars else []) \
            + [a.reshape(-1).float() for a in self.arrays]
        parts = [self.counts.reshape(-1).double()] if self.counts is not None else []
        if floats:
            parts.append((torch.cat(floats) if len(floats) > 1 else floats[0]).double())
        if not parts:
            return np.zeros(0), np.zeros(0), []
        host = (torch.cat(parts) if len(parts) > 1 else parts[0]).cpu().numpy()
        pos = 0
        counts = np.zeros(0)
        if self.counts is not None:
            counts = host[:self.counts.numel()]
            pos = self.counts.numel()
        scalars = host[pos:pos + len(self.scalars)]
        pos += len(self.scalars)
        arrays = []
        for a in self.arrays:
            arrays.append(host[pos:pos + a.numel()])
            pos += a.numel()
        return counts, scalars, arrays


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
    return summarize_groups([(tensors, ranges, kinds)], bins)[0][0]


def summarize_groups(groups: list[Group], bins: int, *, layout: BinLayout | None = None,
                     read_along: Sequence[torch.Tensor] = ()) -> tuple[list[LayerSummary], list[np.ndarray]]:
    """`summarize` for several groups of layers at once, with one device→host read (two
    when a layer's range has to be set or grown).

    `layout` (kept by the caller between probes) saves rebuilding the binning layout;
    `read_along` are other device tensors the caller needs on the host: they come back (as
    flat float64 arrays) in the same copy, so a probe synchronizes with the device once."""
    tensors = [t for g in groups for t in g[0]]
    ranges = [r for g in groups for r in g[1]]
    kinds_all = [(g[2][i] if g[2] is not None else None) for g in groups for i in range(len(g[0]))]
    n = len(tensors)
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
    read = _HostRead()
    for i in live:
        mm = torch.aminmax(flat[i])
        read.scalar(mm.min)
        read.scalar(mm.max)
        read.scalar(flat[i].sum())
    for v in torch._foreach_norm([flat[i] for i in live]) if live else ():
        read.scalar(v)
    binned = [i for i in live if not math.isnan(ranges[i].lo)]
    if binned:
        read.counts = _bin_counts([flat[i] for i in binned], [(ranges[i].lo, ranges[i].hi) for i in binned], bins,
                                  layout or BinLayout())
    act_at = {i: _activation_parts(tensors[i].detach(), kinds_all[i], read) for i in live if kinds_all[i] is not None}
    along_at = [read.array(t.detach()) for t in read_along]
    counts, scal, arrays = read.read()
    m = len(live)
    extremes = scal[:3 * m].reshape(m, 3)     # min, max, sum of each live layer
    hist = np.zeros((n, bins), np.float32)
    sums, squares = np.full(n, math.nan), np.full(n, math.nan)
    sums[live] = extremes[:, 2]
    squares[live] = scal[3 * m:4 * m] ** 2
    hist[binned] = counts.reshape(len(binned), bins)
    has_hist = np.zeros(n, bool)
    has_hist[binned] = True
    nonfinite = np.zeros(n)
    lims = [(r.lo, r.hi) if not math.isnan(r.lo) else (0.0, 1.0) for r in ranges]
    redo = []
    for k, i in enumerate(live):
        f = flat[i]
        vmin, vmax = extremes[k, 0], extremes[k, 1]
        if not (math.isfinite(vmin) and math.isfinite(vmax)):
            ok = torch.isfinite(f)      # rare path: drop NaN/Inf and count them
            f = flat[i] = f[ok]
            nonfinite[i] = float(ok.numel() - f.numel())
            vmin = vmax = math.nan
            if f.numel():
                mm = torch.aminmax(f)
                vmin, vmax = float(mm.min), float(mm.max)
        inside = has_hist[i] and nonfinite[i] == 0 and ranges[i].lo <= vmin and vmax <= ranges[i].hi
        if f.numel():
            lims[i] = ranges[i].fit(vmin, vmax)
        if not inside:
            has_hist[i] = False
            if f.numel():
                redo.append(i)
    if redo:   # round 2: the layers whose range had to be set or grown, or that held NaN/Inf
        again = _HostRead()
        again.counts = _bin_counts([flat[i] for i in redo], [lims[i] for i in redo], bins, BinLayout())
        for i in redo:
            again.scalar(flat[i].sum())
        for v in torch._foreach_norm([flat[i] for i in redo]):
            again.scalar(v)
        counts2, scal2, _ = again.read()
        hist[redo] = counts2.reshape(len(redo), bins)
        sums[redo] = scal2[:len(redo)]
        squares[redo] = scal2[len(redo):] ** 2
        has_hist[redo] = True
    hist[~has_hist] = 0
    count = np.array([f.numel() for f in flat], dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        mean = np.where(has_hist, sums / np.maximum(count, 1), math.nan)
        std = np.where(has_hist, np.sqrt(np.maximum(squares / np.maximum(count, 1) - mean * mean, 0.0)), math.nan)
        norm = np.where(has_hist, np.sqrt(np.maximum(squares, 0.0)), math.nan)
    lims_arr = np.array(lims, dtype=np.float64).reshape(n, 2)
    results = []
    start = 0
    for tensors_g, _, kinds_g in groups:
        sl = slice(start, start + len(tensors_g))
        out = LayerSummary(hist=hist[sl].copy(), range=lims_arr[sl].copy(), mean=mean[sl].copy(), std=std[sl].copy(),
                           norm=norm[sl].copy(), count=count[sl].copy(), nonfinite=nonfinite[sl].copy())
        if kinds_g is not None:
            out.extra = {name: np.full(len(tensors_g), math.nan) for name in ACTIVATION_EXTRAS}
            for j, i in enumerate(range(sl.start, sl.stop)):
                if has_hist[i] and i in act_at:
                    for name, value in _activation_values(act_at[i], scal, arrays).items():
                        out.extra[name][j] = value
        results.append(out)
        start = sl.stop
    return results, [arrays[k] for k in along_at]


def _bin_counts(flats: list[torch.Tensor], lims: list[tuple[float, float]], bins: int,
                layout: BinLayout) -> torch.Tensor:
    """(layers, bins) counts of each flat float tensor in its own range, all in one pass.

    Values outside a range are clamped into its end bins; NaN goes to a spare slot per layer
    that is dropped. Bin index as torch.histc would give it (the top edge falls in the last
    bin). A range near float32's limits (a diverging run) is binned in float64, where it
    cannot overflow."""
    wide = any(max(abs(lo), abs(hi)) > WIDE_RANGE for lo, hi in lims)
    sizes = [f.numel() for f in flats]
    pos, idx, offsets = layout.buffers(sizes, bins, flats[0].device, torch.float64 if wide else torch.float32)
    torch.cat(flats, out=pos) if pos.dtype == flats[0].dtype else pos.copy_(torch.cat(flats))
    views = pos.split(sizes)
    # Each layer's own range: (x - lo) · bins / (hi - lo), one foreach call for all layers.
    torch._foreach_sub_(views, [lo for lo, _ in lims])
    torch._foreach_mul_(views, [bins / (hi - lo) for lo, hi in lims])
    pos.clamp_(0, bins - 0.5).nan_to_num_(nan=bins + 0.25)
    idx.copy_(pos).add_(offsets)    # float → int truncates: the bin within the layer, then its slot
    slots = len(flats) * (bins + 1)
    if idx.device.type == "cpu":
        counts = torch.bincount(idx, minlength=slots)
    else:   # CUDA's bincount reads its input's extremes back to the host: a sync per call
        counts = torch.zeros(slots, dtype=torch.int64, device=idx.device)
        counts.index_add_(0, idx, torch.ones_like(idx, dtype=torch.int64))
    return counts.view(len(flats), bins + 1)[:, :bins]


def _activation_parts(t: torch.Tensor, kind: str, read: _HostRead) -> dict[str, int | tuple[int, int]]:
    """Queue on `read` what the activation statistics of one layer need; returns where."""
    u = _unit_view(t if t.dtype == torch.float32 else t.float())
    at: dict[str, int | tuple[int, int]] = {"numel": u.numel()}
    if kind in BOUNDS:
        lo, hi = BOUNDS[kind]
        m = SAT_MARGIN * (hi - lo)
        mid, half = (lo + hi) / 2, (hi - lo) / 2 - m
        at["saturated"] = read.scalar(u.sub(mid).abs_().ge_(half).sum())
    if kind in RELU_LIKE:
        at["dead"] = read.array(u.amax(dim=(0, 2)))    # each unit's largest output on the batch
    if u.shape[1] > 1:
        # Largest deviation of any unit from unit 0, relative to the layer's mean |value|, on
        # the first SPREAD_SAMPLES samples: exactly 0 when every unit computes the same thing.
        per_unit = u[:SPREAD_SAMPLES]
        per_unit = per_unit[:, :, 0] if per_unit.shape[2] == 1 else per_unit.mean(dim=2)
        dev_max = torch.linalg.vector_norm(per_unit - per_unit[:, :1], ord=math.inf)
        abs_sum = torch.linalg.vector_norm(per_unit, ord=1)
        at["spread"] = (read.scalar(dev_max), read.scalar(abs_sum))
        at["spread_numel"] = per_unit.numel()
    return at


def _activation_values(at: dict, scal: np.ndarray, arrays: list[np.ndarray]) -> dict[str, float]:
    """[saturated fraction, dead-unit fraction, relative spread across units] (NaN: not applicable)."""
    sat = scal[at["saturated"]] / max(1, at["numel"]) if "saturated" in at else math.nan
    if "dead" in at:
        unit_max = arrays[at["dead"]]
        dead = float(np.count_nonzero(unit_max <= 0)) / max(1, unit_max.size)
    else:
        dead = math.nan
    spread = math.nan
    if "spread" in at:
        dev_max, abs_sum = scal[at["spread"][0]], scal[at["spread"][1]]
        scale = abs_sum / at["spread_numel"]
        # A layer that outputs zeros everywhere (dead) has no meaningful spread.
        spread = dev_max / scale if scale > 1e-12 else math.nan
    return dict(zip(ACTIVATION_EXTRAS, (sat, dead, spread)))


def _empty_summary(n: int, bins: int, activations: bool) -> LayerSummary:
    nan = np.full(n, math.nan)
    s = LayerSummary(hist=np.zeros((n, bins), np.float32), range=np.full((n, 2), math.nan), mean=nan.copy(),
                     std=nan.copy(), norm=nan.copy(), count=np.zeros(n), nonfinite=np.zeros(n))
    if activations:
        s.extra = {name: nan.copy() for name in ACTIVATION_EXTRAS}
    return s
