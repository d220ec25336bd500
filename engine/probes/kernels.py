"""Compiled CPU kernels for the probes' statistics and histograms (numba).

On the CPU a probe's cost is not arithmetic but the number of tensor operations: each torch
call costs several microseconds before it touches a value, and a probe of every layer needs
a few dozen of them (reductions per size class, five binning steps, the bincount, the
activation statistics). `summarize` does all of it for every layer in one call (much
faster than the torch path on small models: tests/benchmarks/bench_probes.py) and
releases the GIL while it runs.

Layers are read where they lie: each is a contiguous float32 CPU tensor, passed by address
(`summarize` checks that, and the caller copies any layer that is not). Per layer, in one
call: sum, L2 norm, mean and std of the finite values (accumulated in float64); the
count of NaN/Inf values, which are left out of everything; the histogram range, set or grown
exactly as `GrowingRange.fit` does (the extremes are only looked for when a value lies
outside the range, or there is none yet); the counts, a value binned as
``(x - lo) * (bins / (hi - lo))`` in float64, clamped into the end bins (the top edge goes to
the last bin, as torch.histc), truncated; and for activation layers the saturated fraction,
the dead-unit fraction and the spread across units, as `stats._activation_parts` defines them.
The torch path in `stats.py` (a GPU run's) computes the same, and tests hold them together.

Compiled on first use and cached on disk (numba's `cache=True`): a machine's first probe pays
the compilation, later processes load the compiled code from the cache.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch

from engine.compiled import AVAILABLE as _NUMBA
from engine.compiled import jit as _jit
from engine.compiled import numba

AVAILABLE = _NUMBA


def disable(reason: str) -> None:
    """Stop using the kernels in this process (they failed to compile or to run): the probes
    take their torch path from now on."""
    global AVAILABLE
    if AVAILABLE:
        AVAILABLE = False
        warnings.warn(
            f"probes: compiled kernels disabled, using the torch path ({reason})", RuntimeWarning, stacklevel=2
        )


if AVAILABLE:
    # Bin indices: the values are finite, so no-NaN/Inf math (vectorizable min/max) is exact here;
    # no reassociation or contraction, so every value is binned the same wherever it sits.
    @_jit(fastmath={"nnan", "ninf", "nsz"})
    def _bin_index(x, base, per_unit, top, idx):  # pragma: no cover - compiled
        for j in range(x.shape[0]):
            b = (np.float64(x[j]) - base) * per_unit
            b = max(b, 0.0)
            b = min(b, top)
            idx[j] = np.int32(b)

    @_jit()
    def _count(idx, n, scratch):  # pragma: no cover - compiled
        # Four interleaved sub-histograms: consecutive values in one bin do not wait on each other.
        m = n - n % 4
        for j in range(0, m, 4):
            scratch[0, idx[j]] += 1
            scratch[1, idx[j + 1]] += 1
            scratch[2, idx[j + 2]] += 1
            scratch[3, idx[j + 3]] += 1
        for j in range(m, n):
            scratch[0, idx[j]] += 1


# -- one probe in one call ---------------------------------------------------------------------
if AVAILABLE:
    from engine.compiled import float32_at as _float32_at


# Columns of the per-layer results of `summarize` (MIN and MAX only where the range had to be
# set or grown, NaN otherwise).
(
    MIN,
    MAX,
    SUM,
    NORM,
    COUNT,
    NONFINITE,
    SATURATED,
    DEAD,
    SPREAD,
    HAS_HIST,
    MEAN,
    STD,
    RANGE_LO,
    RANGE_HI,
    DELTA,
    PREVIOUS,
) = range(16)
RESULTS = 16
PREV_ERROR = "summarize: `prev` must be a flat float32 array covering every compared layer"
# Per-layer activation flags (`kind` argument).
BOUNDED, RELU_LIKE = 1, 2

if AVAILABLE:
    # Extremes of values known to be finite (their sums are): no-NaN math lets them use
    # vector registers, and min/max are exact whatever the order.
    @_jit(fastmath={"nnan", "ninf", "nsz"})
    def _extremes(x):  # pragma: no cover - compiled
        vmin, vmax = x[0], x[0]
        for j in range(x.shape[0]):
            vmin = min(vmin, x[j])
            vmax = max(vmax, x[j])
        return np.float64(vmin), np.float64(vmax)

    @_jit(fastmath={"reassoc", "contract"})
    def _sum2(x, lo, hi):  # pragma: no cover - compiled
        """Sum and sum of squares, and how many values lie outside [lo, hi] (none while the
        range is NaN): in one vectorized pass, so the extremes are only looked for when a
        range has to be set or grown."""
        total = squares = 0.0
        outside = 0
        for j in range(x.shape[0]):
            d = np.float64(x[j])
            total += d
            squares += d * d
            outside += (d < lo) | (d > hi)
        return total, squares, outside

    @_jit()
    def _finite_stats(x):  # pragma: no cover - compiled
        """The careful pass for a layer holding NaN/Inf: statistics of its finite values."""
        vmin, vmax = np.inf, -np.inf
        total = squares = 0.0
        bad = 0
        for j in range(x.shape[0]):
            v = np.float64(x[j])
            if np.isfinite(v):
                vmin = min(vmin, v)
                vmax = max(vmax, v)
                total += v
                squares += v * v
            else:
                bad += 1
        return vmin, vmax, total, squares, bad

    @_jit()
    def _count_finite(x, base, per_unit, top, scratch):  # pragma: no cover - compiled
        for j in range(x.shape[0]):
            v = np.float64(x[j])
            if np.isfinite(v):
                b = min(max((v - base) * per_unit, 0.0), top)
                scratch[0, int(b)] += 1

    @_jit()
    def _fit(lo, hi, grown, layer, vmin, vmax):  # pragma: no cover - compiled
        """GrowingRange.fit for finite extremes (engine/probes/stats.py), on arrays."""
        if np.isnan(lo[layer]):
            span = vmax - vmin
            pad = 0.05 * span if span > 0 else max(1e-3, 0.1 * abs(vmin))
            lo[layer], hi[layer] = vmin - pad, vmax + pad
        elif vmin < lo[layer] or vmax > hi[layer]:
            span = max(hi[layer] - lo[layer], vmax - vmin, 1e-12)
            if vmin < lo[layer]:
                lo[layer] = vmin - 0.25 * span
            if vmax > hi[layer]:
                hi[layer] = vmax + 0.25 * span
            grown[layer] += 1

    @_jit()
    def _range(lo, hi, layer, row):  # pragma: no cover - compiled
        """The histogram range reported: (0, 1) while a layer has none."""
        if np.isnan(lo[layer]):
            row[RANGE_LO], row[RANGE_HI] = 0.0, 1.0
        else:
            row[RANGE_LO], row[RANGE_HI] = lo[layer], hi[layer]

    @_jit()
    def _activation(x, shape, kind, mid, half, spread_samples, out):  # pragma: no cover - compiled
        """Saturated fraction (bounded kinds), dead-unit fraction (ReLU family: a unit whose
        output is never positive; NaN counts as alive) and the spread across units."""
        samples, units, positions = shape[0], shape[1], shape[2]
        u = x.reshape((samples, units, positions))
        if kind == BOUNDED:
            sat = 0
            for j in range(x.shape[0]):
                if abs(np.float32(x[j]) - np.float32(mid)) >= np.float32(half):
                    sat += 1
            out[SATURATED] = sat / max(1, x.shape[0])
        if kind == RELU_LIKE:
            dead = 0
            for c in range(units):
                alive = False
                for s in range(samples):
                    for p in range(positions):
                        v = u[s, c, p]
                        if not (v <= 0):  # positive, or NaN
                            alive = True
                            break
                    if alive:
                        break
                if not alive:
                    dead += 1
            out[DEAD] = dead / max(1, units)
        if units > 1:
            rows = min(samples, spread_samples)
            dev_max = total = 0.0
            nan = False
            for s in range(rows):
                first = 0.0
                for c in range(units):
                    m = 0.0
                    for p in range(positions):
                        m += np.float64(u[s, c, p])
                    m /= positions
                    if c == 0:
                        first = m
                    d = abs(m - first)
                    if np.isnan(m) or np.isnan(d):
                        nan = True
                    else:
                        dev_max = max(dev_max, d)
                        total += abs(m)
            scale = total / (rows * units)
            out[SPREAD] = dev_max / scale if (scale > 1e-12 and not nan) else np.nan

    @_jit(fastmath={"reassoc", "contract"})
    def _delta(x, prev, out):  # pragma: no cover - compiled
        d2 = p2 = 0.0
        for j in range(x.shape[0]):
            a, b = np.float64(x[j]), np.float64(prev[j])
            d2 += (a - b) * (a - b)
            p2 += b * b
        out[DELTA], out[PREVIOUS] = np.sqrt(d2), np.sqrt(p2)

    @_jit()
    def _summarize(
        addresses, sizes, lo, hi, grown, kinds, shapes, mids, halves, spread_samples, prev, prev_starts, hist, out
    ):  # pragma: no cover - compiled
        for layer in range(addresses.shape[0]):
            if prev_starts[layer] >= 0 and prev_starts[layer] + sizes[layer] > prev.shape[0]:
                return -1  # the earlier values do not cover this layer: nothing read
        bins = hist.shape[1]
        top = bins - 0.5
        changed = 0
        scratch = np.zeros((4, bins), np.int64)
        idx = np.empty(sizes.max() if sizes.shape[0] else 0, np.int32)
        for layer in range(addresses.shape[0]):
            n = sizes[layer]
            # Each layer is read where it lies (no copy into a work buffer); an empty one may
            # have no storage, so nothing is read from it.
            x = numba.carray(_float32_at(addresses[layer]), (n,)) if n else np.zeros(0, np.float32)
            row = out[layer]
            row[:] = np.nan
            if prev_starts[layer] >= 0:  # the norm of the change since a previous copy, and its own
                _delta(x, prev[prev_starts[layer] : prev_starts[layer] + n], row)
            if n == 0:
                row[COUNT] = row[NONFINITE] = row[HAS_HIST] = 0.0
                _range(lo, hi, layer, row)
                continue
            # A NaN or ±Inf makes a sum non-finite (float32 values cannot overflow float64 sums).
            total, squares, outside = _sum2(x, lo[layer], hi[layer])
            bad = 0
            vmin = vmax = np.nan  # needed only to set or grow the range
            if not (np.isfinite(total) and np.isfinite(squares)):
                vmin, vmax, total, squares, bad = _finite_stats(x)
            elif outside or np.isnan(lo[layer]):
                vmin, vmax = _extremes(x)
            row[NONFINITE] = bad
            row[COUNT] = n - bad
            row[HAS_HIST] = 0.0
            if bad == n:
                _range(lo, hi, layer, row)
                continue  # nothing finite: no histogram, no statistics
            row[MIN], row[MAX], row[SUM], row[NORM] = vmin, vmax, total, np.sqrt(squares)
            mean = total / (n - bad)
            row[MEAN] = mean
            row[STD] = np.sqrt(max(squares / (n - bad) - mean * mean, 0.0))
            if not np.isnan(vmin):
                _fit(lo, hi, grown, layer, vmin, vmax)
                changed += 1
            _range(lo, hi, layer, row)
            per_unit = bins / (hi[layer] - lo[layer])
            scratch[:, :] = 0
            if bad:
                _count_finite(x, lo[layer], per_unit, top, scratch)
            else:
                _bin_index(x, lo[layer], per_unit, top, idx)
                _count(idx, n, scratch)
            for i in range(bins):
                hist[layer, i] = scratch[0, i] + scratch[1, i] + scratch[2, i] + scratch[3, i]
            row[HAS_HIST] = 1.0
            if kinds[layer] >= 0:
                _activation(x, shapes[layer], kinds[layer], mids[layer], halves[layer], spread_samples, row)
        return changed


def summarize(
    layers: Sequence[torch.Tensor],
    lo: np.ndarray,
    hi: np.ndarray,
    grown: np.ndarray,
    kinds: np.ndarray,
    shapes: np.ndarray,
    mids: np.ndarray,
    halves: np.ndarray,
    spread_samples: int,
    bins: int,
    prev: np.ndarray | None = None,
    prev_starts: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Every layer's statistics, range (lo, hi, grown: updated in place as GrowingRange.fit
    does; `grown` a float64 array like them) and histogram, in one call: ((layers, bins)
    counts as float32, as the torch path gives them (exact up to 2**24 per bin),
    (layers, RESULTS) results, and how many layers' ranges were set or may have grown: 0
    when lo, hi and grown are untouched).
    `layers`: tensors, read in place where they are contiguous float32 CPU tensors (the
    kernel reads raw memory, so anything else is copied into that form first).
    `kinds[i]`: -1 for a layer that is not an activation, else 0, BOUNDED or RELU_LIKE;
    `shapes[i]`: its (samples, units, positions). With `prev` (a flat float32 array) and
    `prev_starts[i] >= 0`, layer i also gets ||x - previous|| and ||previous|| (DELTA,
    PREVIOUS), its previous values being prev[prev_starts[i]:][:size]."""
    layers = [
        t
        if t.dtype == torch.float32 and t.is_cpu and t.is_contiguous()
        else t.detach().to("cpu", torch.float32).contiguous()
        for t in layers
    ]
    addresses = np.array([t.data_ptr() for t in layers], dtype=np.int64)
    sizes = np.array([t.numel() for t in layers], dtype=np.int64)
    hist = np.zeros((len(layers), bins), np.float32)
    out = np.empty((len(layers), RESULTS))
    if prev is None or prev_starts is None:
        prev, prev_starts = np.zeros(0, np.float32), np.full(len(layers), -1, np.int64)
    elif prev.dtype != np.float32 or prev.ndim != 1:
        raise ValueError(PREV_ERROR)
    changed = _summarize(
        addresses, sizes, lo, hi, grown, kinds, shapes, mids, halves, spread_samples, prev, prev_starts, hist, out
    )
    if changed < 0:  # (the kernel checks the extent before it reads anything)
        raise ValueError(PREV_ERROR)
    return hist, out, changed
