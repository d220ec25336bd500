"""Histograms and statistics of per-layer tensors, computed with torch on their device.

A probe summarizes every layer of every group (activations, their gradients, weight
gradients, weights) at once, so it costs a few kernels per probe rather than a handful per
layer: all values are copied into one buffer where layers of equal size form a matrix
(min, max, sum and norm are row reductions, each layer's own range a broadcast), binned
with ONE bincount (each layer's bin indices offset by its position), and every result comes
back to the host in ONE device→host copy (two when a layer's range has to be set or grown).
Empty tensors, constant tensors and NaN/Inf values are handled and counted, never fatal.
On the CPU, where numba is installed, one compiled kernel (kernels.py) does all of it instead,
reading each layer where it lies.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from engine.flat import flat_views
from engine.probes import kernels
from engine.probes.activation_regions import SAT_MARGIN
from engine.probes.layers import BOUNDS, RELU_LIKE

SPREAD_SAMPLES = 32  # samples used for the spread across units (the symmetry indicator)
WIDE_RANGE = 1e30  # a histogram range beyond this (a diverging run) is binned in float64
KEEP_BUFFERS = 1 << 22  # values: a probe's work buffers up to this size are kept between probes
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

    hist: np.ndarray  # (L, bins) counts of finite values
    range: np.ndarray  # (L, 2) histogram range
    mean: np.ndarray  # (L,)
    std: np.ndarray  # (L,)
    norm: np.ndarray  # (L,) L2 norm of the finite values
    count: np.ndarray  # (L,) number of values
    nonfinite: np.ndarray  # (L,) number of NaN/Inf values
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # saturated, dead, unit_spread...

    def as_dict(self) -> dict[str, np.ndarray]:
        d = {
            "hist": self.hist,
            "range": self.range,
            "mean": self.mean,
            "std": self.std,
            "norm": self.norm,
            "count": self.count,
            "nonfinite": self.nonfinite,
        }
        d.update(self.extra)
        return d


class BinLayout:
    """How a probe lays its layers out in one work buffer; kept by the caller between probes.

    Layers of equal size (a weight and its gradient, equal-width layers) sit next to each
    other, so each size class is one (layers × values) matrix: its min, max, sum and norm are
    row reductions and its per-layer ranges a broadcast, whatever the number of layers. The
    buffers depend only on the layers' sizes, which stay the same from probe to probe; the
    range parameters change only when a range grows."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self.order: list[int] = []  # buffer row → index of the layer
        self.inverse = np.zeros(0, np.int64)  # index of the layer → buffer row
        self.values: list[torch.Tensor] = []  # (rows, size) views of the value buffer
        self.rows: list[tuple[int, int]] = []  # (first row, rows) of each size class
        self.value_buffer = self.index_buffer = torch.empty(0)
        self.slot_offsets = torch.empty(0, dtype=torch.int32)  # per value: the first slot of its layer
        self._lims_key: tuple | None = None
        self._params: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._redo: BinLayout | None = None
        self._flat: dict[tuple, _FlatPlan] = {}

    @property
    def redo(self) -> BinLayout:
        """The layout for the layers binned again when their range grows (usually one)."""
        if self._redo is None:
            self._redo = BinLayout()
        return self._redo

    def plan(self, sizes: Sequence[int], bins: int, device: torch.device, dtype: torch.dtype) -> None:
        key = (tuple(sizes), bins, str(device), dtype)
        if key == self._key and self.values:
            return
        self.order = sorted(range(len(sizes)), key=lambda i: (-sizes[i], i))
        self.inverse = np.argsort(np.array(self.order, dtype=np.int64))
        total = int(sum(sizes))
        self.value_buffer = torch.empty(total, dtype=dtype, device=device)
        self.index_buffer = torch.empty(total, dtype=torch.int32, device=device)
        self.values, self.rows = [], []
        row = start = 0
        for size, members in itertools.groupby(self.order, key=lambda i: sizes[i]):
            rows = len(list(members))
            self.rows.append((row, rows))
            self.values.append(self.value_buffer[start : start + rows * size].view(rows, size))
            row, start = row + rows, start + rows * size
        self.slot_offsets = torch.repeat_interleave(
            torch.arange(len(sizes), dtype=torch.int32, device=device).mul_(bins + 1),
            torch.tensor([sizes[i] for i in self.order], device=device),
            output_size=total,
        )
        self._key = key
        self._lims_key = None

    def plan_flat(self, groups: list[Group], tensors: Sequence[torch.Tensor], bins: int) -> _FlatPlan:
        """The CPU path's plan: the per-layer constants the compiled kernel takes (it reads
        the layers in place, so there is no work buffer); rebuilt only when layers change."""
        key = (
            tuple([t.shape for t in tensors]),
            tuple([tuple(g[2]) if g[2] is not None else len(g[0]) for g in groups]),
            bins,
        )
        plan = self._flat.get(key)
        if plan is None:
            # A few layouts alternate (a probe without gradients; one on an epoch's short last
            # batch, whose activation gradients have fewer rows): keep the last four.
            if len(self._flat) >= 4:
                self._flat.pop(next(iter(self._flat)))
            kinds = [kind for g in groups for kind in (g[2] if g[2] is not None else [None] * len(g[0]))]
            plan = self._flat[key] = _FlatPlan(key, tensors, kinds)
        return plan

    def release(self) -> None:
        """Drop the work buffers if they are large (a big convolutional net's probe): memory
        then is only held during a probe, at the price of allocating them every probe."""
        if self.value_buffer.numel() > KEEP_BUFFERS:
            self.values = []
            self.value_buffer = self.index_buffer = torch.empty(0)
            self.slot_offsets = torch.empty(0, dtype=torch.int32)

    def params(self, lims: Sequence[tuple[float, float]], bins: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per size class, each row's (range start, bins per unit) as (rows, 1) columns;
        rebuilt (one small host→device copy) only when a range changes."""
        key = tuple(lims[i] for i in self.order)
        if key != self._lims_key:
            table = torch.tensor(
                [[lo, bins / (hi - lo)] for lo, hi in key],
                dtype=self.value_buffer.dtype,
                device=self.value_buffer.device,
            )
            self._params = [(table[row : row + rows, :1], table[row : row + rows, 1:]) for row, rows in self.rows]
            self._lims_key = key
        return self._params


class _FlatPlan:
    """Per-layer constants of the compiled CPU path (see BinLayout.plan_flat)."""

    def __init__(self, key: tuple, tensors: Sequence[torch.Tensor], kinds: Sequence[str | None]) -> None:
        self.key = key
        sizes = [t.numel() for t in tensors]
        self.sizes = np.array(sizes, dtype=np.int64)
        n = len(sizes)
        self.kinds = np.full(n, -1, np.int64)
        self.shapes = np.ones((n, 3), np.int64)
        self.mids = np.zeros(n)
        self.halves = np.zeros(n)
        self._previous: dict[int, tuple[slice, np.ndarray, int]] = {}
        # Layers of a bounded activation start with the activation's output range.
        self.bounded = [(i, *BOUNDS[kind]) for i, kind in enumerate(kinds) if kind in BOUNDS]
        for i, (t, kind) in enumerate(zip(tensors, kinds)):
            if kind is None or not sizes[i]:
                continue
            self.kinds[i] = kernels.BOUNDED if kind in BOUNDS else kernels.RELU_LIKE if kind in RELU_LIKE else 0
            self.shapes[i] = _unit_view(t.detach()).shape
            if kind in BOUNDS:
                lo, hi = BOUNDS[kind]
                self.mids[i] = (lo + hi) / 2
                self.halves[i] = (hi - lo) / 2 - SAT_MARGIN * (hi - lo)

    def previous_layout(self, groups: list[Group], g: int) -> tuple[slice, np.ndarray, int]:
        """For `previous` values of group g: its rows, each layer's start in the flat copy of
        the group (-1 for the layers of other groups) and the copy's size (kept per group:
        the plan's key fixes how the layers fall into groups)."""
        cached = self._previous.get(g)
        if cached is None:
            first = sum(len(gr[0]) for gr in groups[:g])
            rows = slice(first, first + len(groups[g][0]))
            starts = np.full(len(self.sizes), -1, np.int64)
            sizes = self.sizes[rows]
            starts[rows] = np.cumsum(sizes) - sizes
            cached = self._previous[g] = (rows, starts, int(sizes.sum()))
        return cached


class _HostRead:
    """Device tensors read back together. On a GPU: one concatenation into float64 (exact for
    counts) and one device→host copy. On the CPU there is nothing to copy: each tensor is
    read through a numpy view of its own memory."""

    def __init__(self) -> None:
        self.parts: list[torch.Tensor] = []  # float32, concatenated as they are
        self.others: list[torch.Tensor] = []  # other dtypes (counts, float64), converted one by one

    def add(self, t: torch.Tensor) -> int:
        """Queue a tensor; its flat float64 values come back at this index of `read()`."""
        t = t if t.dim() == 1 else t.reshape(-1)
        if t.dtype == torch.float32:
            self.parts.append(t)
            return len(self.parts) - 1
        self.others.append(t)
        return -len(self.others)  # negative: counted from the end

    def read(self) -> list[np.ndarray]:
        tensors = self.parts + self.others[::-1]
        if not tensors:
            return []
        if tensors[0].device.type == "cpu":
            return [_host(t) for t in tensors]
        chunks = ([torch.cat(self.parts).double()] if self.parts else []) + [t.double() for t in reversed(self.others)]
        host = (torch.cat(chunks) if len(chunks) > 1 else chunks[0]).cpu().numpy()
        out = []
        start = 0
        for t in tensors:
            out.append(host[start : start + t.numel()])
            start += t.numel()
        return out


def _host(t: torch.Tensor) -> np.ndarray:
    """A CPU tensor's values as a flat float64 array (a copy: the tensor may be reused)."""
    return np.array(t.reshape(-1).numpy(), dtype=np.float64)


class _LayerStats:
    """Histogram counts, min, max, sum and L2 norm of flat float layers, each binned in its
    own range: a few kernels per size class and one bincount for every layer together.

    The values are copied into the layout's work buffer; `reductions()` must come before
    `bin()`, which turns the buffer into bin indices in place."""

    def __init__(self, flats: list[torch.Tensor], bins: int, layout: BinLayout, wide: bool = False) -> None:
        # A range near float32's limits (a diverging run) is binned in float64, where it cannot overflow.
        layout.plan([f.numel() for f in flats], bins, flats[0].device, torch.float64 if wide else torch.float32)
        self.layout, self.bins, self.n = layout, bins, len(flats)
        torch.cat([flats[i] for i in layout.order], out=layout.value_buffer)

    def reductions(self) -> torch.Tensor:
        """(4, layers) min, max, sum and L2 norm, in the buffer's row order. (amin and amax
        apart: aminmax over rows is many times slower on CPU.)"""
        # Sums in float64: the variance comes from E[x²] − E[x]², which float32 would spoil
        # for a layer far from 0 (a bias around 100 with a spread of 1).
        parts = [
            torch.stack(
                [
                    values.amin(dim=1).double(),
                    values.amax(dim=1).double(),
                    values.sum(dim=1, dtype=torch.float64),
                    torch.linalg.vector_norm(values, dim=1, dtype=torch.float64),
                ]
            )
            for values in self.layout.values
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def bin(self, lims: list[tuple[float, float]], nan: bool = True) -> torch.Tensor:
        """Per-layer counts, (layers × (bins + 1)) slots, the last of each a NaN slot that is
        dropped; `nan=False` when the values are known to hold no NaN."""
        layout, bins = self.layout, self.bins
        for values, (lo, per_unit) in zip(layout.values, layout.params(lims, bins)):
            values.sub_(lo).mul_(per_unit)  # (x - lo) · bins / (hi - lo), as torch.histc bins
        # Values outside a range are clamped into its end bins (the top edge into the last).
        layout.value_buffer.clamp_(0, bins - 0.5)
        if nan:
            layout.value_buffer.nan_to_num_(nan=bins + 0.25)
        idx = layout.index_buffer
        idx.copy_(layout.value_buffer)  # float → int truncates: the bin ...
        idx.add_(layout.slot_offsets)  # ... in the layer's own slots
        slots = self.n * (bins + 1)
        if idx.device.type == "cpu":
            counts = torch.bincount(idx, minlength=slots)
        else:  # CUDA's bincount reads its input's extremes back to the host: a sync per call
            counts = torch.zeros(slots, dtype=torch.int64, device=idx.device)
            counts.index_add_(0, idx, torch.ones_like(idx, dtype=torch.int64))
        layout.release()
        return counts

    def hist(self, counts: np.ndarray) -> np.ndarray:
        """(layers, bins) counts in the layers' order."""
        return counts.reshape(self.n, self.bins + 1)[self.layout.inverse, : self.bins]

    def stats(self, flat_stats: np.ndarray) -> np.ndarray:
        """(layers, 4) min, max, sum, norm in the layers' order."""
        return flat_stats.reshape(4, self.n).T[self.layout.inverse]


def _summarize_compiled(
    groups: list[Group],
    bins: int,
    layout: BinLayout,
    read_along: Sequence[torch.Tensor],
    previous: tuple[int, torch.Tensor] | None = None,
) -> tuple[list[LayerSummary], list[np.ndarray]]:
    """`summarize_groups` on the CPU: a single compiled kernel (engine/probes/kernels.py)
    reads every layer in place and computes every statistic, range and histogram; NaN/Inf
    values are dropped and counted as on the torch path.

    A probe calls this between training steps, when little of it is in the caches, so it
    keeps to a handful of calls: everything that depends only on the layers' shapes is
    planned once (`BinLayout.plan_flat`), the ranges travel as one table."""
    tensors = [t for g in groups for t in g[0]]
    ranges = [r for g in groups for r in g[1]]
    plan = layout.plan_flat(groups, tensors, bins)
    for i, lo, hi in plan.bounded:
        r = ranges[i]
        if math.isnan(r.lo):
            r.lo, r.hi = lo, hi
    n = len(ranges)
    table = np.array([r.lo for r in ranges] + [r.hi for r in ranges] + [r.grown for r in ranges], np.float64)
    table = table.reshape(3, n)  # rows lo, hi, grown
    prev: np.ndarray | None = None
    prev_starts = None
    if previous is not None:  # the group's earlier values, compared in the same pass
        rows, prev_starts, total = plan.previous_layout(groups, previous[0])
        earlier = previous[1]
        if earlier.requires_grad or earlier.dtype != torch.float32 or earlier.dim() != 1 or not earlier.is_cpu:
            earlier = earlier.detach().reshape(-1).to("cpu", torch.float32)
        prev = earlier.numpy()
        if prev.shape[0] != total:
            raise ValueError(f"previous values: {prev.shape[0]} for layers of {total} values")
    try:
        hist, res, changed = kernels.summarize(
            tensors,
            table[0],
            table[1],
            table[2],
            plan.kinds,
            plan.shapes,
            plan.mids,
            plan.halves,
            SPREAD_SAMPLES,
            bins,
            prev,
            prev_starts,
        )
    except Exception as e:  # noqa: BLE001 - a compiler that fails on this machine: the torch path, never a lost run
        kernels.disable(f"{type(e).__name__}: {e}")
        return summarize_groups(groups, bins, layout=layout, read_along=read_along, previous=previous)
    # The kernel sets a range (where there was none) or grows it (and counts that) in the
    # table; usually it changes none.
    if changed:
        lo_hi_grown: list[list[float]] = table.tolist()
        for r, a, b, k in zip(ranges, *lo_hi_grown):
            r.lo, r.hi, r.grown = a, b, int(k)
    cols = res.T.copy()  # one contiguous row per result: each group's part is a plain slice
    lims = res[:, kernels.RANGE_LO : kernels.RANGE_HI + 1].copy()
    results = []
    start = 0
    for tensors_g, _, kinds_g in groups:
        sl = slice(start, start + len(tensors_g))
        out = LayerSummary(
            hist=hist[sl],
            range=lims[sl],
            mean=cols[kernels.MEAN, sl],
            std=cols[kernels.STD, sl],
            norm=cols[kernels.NORM, sl],
            count=cols[kernels.COUNT, sl],
            nonfinite=cols[kernels.NONFINITE, sl],
        )
        if kinds_g is not None:
            out.extra = dict(zip(ACTIVATION_EXTRAS, cols[kernels.SATURATED : kernels.SPREAD + 1, sl]))
        results.append(out)
        start = sl.stop
    along = [_host(t.detach()) for t in read_along]
    if previous is not None:
        along.append(np.concatenate([res[rows, kernels.DELTA], res[rows, kernels.PREVIOUS]]))
    return results, along


def _unit_view(t: torch.Tensor) -> torch.Tensor:
    """(samples, units, positions): a unit is a feature (dense) or a channel (conv)."""
    if t.dim() == 0:
        return t.reshape(1, 1, 1)
    if t.dim() == 1:
        return t.reshape(t.shape[0], 1, 1)
    return t.reshape(t.shape[0], t.shape[1], -1)


Group = tuple[list[torch.Tensor], list[GrowingRange], list[str] | None]


def summarize(
    tensors: list[torch.Tensor], ranges: list[GrowingRange], bins: int, kinds: list[str] | None = None
) -> LayerSummary:
    """Histogram + statistics of each tensor; with `kinds`, also activation statistics:
    saturated fraction (bounded kinds), dead-unit fraction (ReLU family) and the spread
    across units (0 when all units of the layer are identical: unbroken symmetry)."""
    return summarize_groups([(tensors, ranges, kinds)], bins)[0][0]


def summarize_groups(
    groups: list[Group],
    bins: int,
    *,
    layout: BinLayout | None = None,
    read_along: Sequence[torch.Tensor] = (),
    previous: tuple[int, torch.Tensor] | None = None,
) -> tuple[list[LayerSummary], list[np.ndarray]]:
    """`summarize` for several groups of layers at once, with one device→host read on a GPU
    (two when a layer's range has to be set or grown).

    `layout` (kept by the caller between probes) saves re-planning the work buffer;
    `read_along` are other device tensors the caller needs on the host: they come back (as
    flat float64 arrays) in the same copy, so a probe synchronizes with the device once.

    `previous` = (g, flat): earlier values of group g's layers, laid out one after the other
    in one flat tensor; then the last read-along array holds ||x - previous|| of each of
    those layers followed by ||previous|| of each (a probe's update-to-weight ratios)."""
    if kernels.AVAILABLE and any(g[0] for g in groups):
        first = next(t for g in groups for t in g[0])
        if first.device.type == "cpu":
            return _summarize_compiled(groups, bins, layout or BinLayout(), read_along, previous)
    tensors = [t.detach() if t.requires_grad else t for g in groups for t in g[0]]
    ranges = [r for g in groups for r in g[1]]
    kinds_all = [kind for g in groups for kind in (g[2] if g[2] is not None else [None] * len(g[0]))]
    n = len(tensors)
    flat = [t.reshape(-1) if t.dtype == torch.float32 else t.reshape(-1).float() for t in tensors]
    for r, kind in zip(ranges, kinds_all):
        if kind in BOUNDS and math.isnan(r.lo):
            r.lo, r.hi = BOUNDS[kind]
    layout = layout or BinLayout()
    live = [i for i in range(n) if flat[i].numel()]
    read = _HostRead()
    lims = [(r.lo, r.hi) if not math.isnan(r.lo) else (0.0, 1.0) for r in ranges]
    lims_arr = np.array(lims, dtype=np.float64).reshape(n, 2)
    stats = np.full((n, 4), math.nan)  # min, max, sum, norm
    hist = np.zeros((n, bins), np.float32)
    if live:
        # Round 1 (optimistic): bin with each layer's current range and read its extremes
        # along with everything else, in one read. Ranges only grow, so after the first
        # probes a layer rarely leaves its range; those that do (or are new, or hold
        # NaN/Inf) are binned again in round 2. Layers with no range yet are binned in (0, 1).
        wide = any(max(abs(lo), abs(hi)) > WIDE_RANGE for lo, hi in (lims[i] for i in live))
        layer_stats = _LayerStats([flat[i] for i in live], bins, layout, wide)
        stats_at = read.add(layer_stats.reductions())
        counts_at = read.add(layer_stats.bin([lims[i] for i in live]))
    act_at = {i: _activation_parts(tensors[i], kind, read) for i in live if (kind := kinds_all[i]) is not None}
    along_at = [read.add(t.detach()) for t in read_along]
    if previous is not None:
        layers = [t.detach() for t in groups[previous[0]][0]]
        views = flat_views(previous[1], layers)
        diffs = torch._foreach_sub(layers, views)  # noqa: SLF001 - torch's fused kernel, no public equivalent
        along_at.append(read.add(torch.stack(torch._foreach_norm([*diffs, *views]))))  # noqa: SLF001 - fused kernel
    host = read.read()
    if live:
        hist[live] = layer_stats.hist(host[counts_at])
        stats[live] = layer_stats.stats(host[stats_at])
    ranged = np.array([not math.isnan(r.lo) for r in ranges], bool)
    with np.errstate(invalid="ignore"):
        # NaN extremes (NaN/Inf values, empty layers) are never inside.
        has_hist = ranged & (lims_arr[:, 0] <= stats[:, 0]) & (stats[:, 1] <= lims_arr[:, 1])
    nonfinite = np.zeros(n)
    redo = []
    for i in np.flatnonzero(~has_hist).tolist():
        f = flat[i]
        if not f.numel():
            continue
        vmin, vmax = float(stats[i, 0]), float(stats[i, 1])
        if not (math.isfinite(vmin) and math.isfinite(vmax)):
            ok = torch.isfinite(f)  # rare path: drop NaN/Inf and count them
            f = flat[i] = f[ok]
            nonfinite[i] = float(ok.numel() - f.numel())
            vmin = vmax = math.nan
            if f.numel():
                mm = torch.aminmax(f)
                vmin, vmax = float(mm.min), float(mm.max)
        if f.numel():
            lims_arr[i] = ranges[i].fit(vmin, vmax)
            redo.append(i)
    if redo:  # round 2: the layers whose range had to be set or grown, or that held NaN/Inf
        # Their min, max, sum and norm from round 1 stand, unless NaN/Inf values were dropped.
        cleaned = bool(nonfinite[redo].any())
        again = _HostRead()
        redo_stats = _LayerStats(
            [flat[i] for i in redo],
            bins,
            layout.redo,
            wide=any(max(abs(lims_arr[i, 0]), abs(lims_arr[i, 1])) > WIDE_RANGE for i in redo),
        )
        redo_at = again.add(redo_stats.reductions()) if cleaned else None
        counts_at = again.add(redo_stats.bin([tuple(lims_arr[i]) for i in redo], nan=False))
        redo_host = again.read()
        hist[redo] = redo_stats.hist(redo_host[counts_at])
        if redo_at is not None:
            stats[redo] = redo_stats.stats(redo_host[redo_at])
        has_hist[redo] = True
    count = np.array([f.numel() for f in flat], dtype=np.float64)
    missing = ~has_hist
    if missing.any():
        hist[missing] = 0
        stats[missing] = math.nan
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        mean = stats[:, 2] / count
        std = np.sqrt(np.maximum(stats[:, 3] * stats[:, 3] / count - mean * mean, 0.0))
        norm = np.abs(stats[:, 3])
    results = []
    start = 0
    for tensors_g, _, kinds_g in groups:
        sl = slice(start, start + len(tensors_g))
        out = LayerSummary(
            hist=hist[sl],
            range=lims_arr[sl],
            mean=mean[sl],
            std=std[sl],
            norm=norm[sl],
            count=count[sl],
            nonfinite=nonfinite[sl],
        )
        if kinds_g is not None:
            extra = np.full((len(ACTIVATION_EXTRAS), len(tensors_g)), math.nan)
            for j, i in enumerate(range(sl.start, sl.stop)):
                if has_hist[i] and i in act_at:
                    extra[:, j] = _activation_values(act_at[i], host)
            out.extra = dict(zip(ACTIVATION_EXTRAS, extra))
        results.append(out)
        start = sl.stop
    return results, [host[k] for k in along_at]


def _activation_parts(t: torch.Tensor, kind: str, read: _HostRead) -> dict[str, Any]:
    """Queue on `read` what the activation statistics of one layer need; returns where.
    A few small reductions per layer; the fractions and ratios follow on the host."""
    t = t if t.dtype == torch.float32 else t.float()
    u = t if t.dim() == 2 else _unit_view(t)  # (samples, units[, positions])
    at: dict[str, Any] = {"numel": u.numel()}
    if kind in BOUNDS:
        lo, hi = BOUNDS[kind]
        m = SAT_MARGIN * (hi - lo)
        mid, half = (lo + hi) / 2, (hi - lo) / 2 - m
        at["saturated"] = read.add(u.sub(mid).abs_().ge_(half).sum())
    if kind in RELU_LIKE:
        at["dead"] = read.add(u.amax(dim=0) if u.dim() == 2 else u.amax(dim=(0, 2)))
    if u.shape[1] > 1:
        # Spread: the largest deviation of any unit from unit 0, relative to the layer's mean
        # |value|, on the first SPREAD_SAMPLES samples (exactly 0 when every unit computes the
        # same thing); these few values go to the host, where it is a handful of numpy calls.
        per_unit = u[:SPREAD_SAMPLES]
        at["spread"] = read.add(per_unit if u.dim() == 2 else per_unit.mean(dim=2))
        at["units"] = u.shape[1]
    return at


def _spread(per_unit: np.ndarray) -> float:
    """The largest deviation of any unit from unit 0, relative to the mean |value|."""
    deviation = per_unit - per_unit[:, :1]
    dev_max = max(float(deviation.max()), -float(deviation.min()))
    scale = float(np.abs(per_unit).sum()) / per_unit.size
    # A layer that outputs zeros everywhere (dead) has no meaningful spread.
    return dev_max / scale if scale > 1e-12 else math.nan


def _activation_values(at: dict[str, Any], host: list[np.ndarray]) -> tuple[float, float, float]:
    """(saturated fraction, dead-unit fraction, relative spread across units); NaN: not applicable."""
    sat = float(host[at["saturated"]][0]) / max(1, at["numel"]) if "saturated" in at else math.nan
    dead = math.nan
    if "dead" in at:
        unit_max = host[at["dead"]]  # each unit's largest output on the probe batch
        dead = float(np.count_nonzero(unit_max <= 0)) / max(1, unit_max.size)
    spread = math.nan
    if "spread" in at:
        spread = _spread(host[at["spread"]].reshape(-1, at["units"]))
    return sat, dead, spread
