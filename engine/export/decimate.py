"""Curves decimated for pictures: per pixel column, the first, lowest, highest and last point.

An SVG or PDF is a picture: a curve of 100 000 steps drawn into 1 600 pixel columns looks the
same with a handful of points per column, and the file stays small. CSV and session files
keep every value; only vector pictures use this.
"""

from __future__ import annotations

import numpy as np


def minmax_decimate(x: np.ndarray, y: np.ndarray, x0: float, x1: float, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """`x`, `y` reduced to at most 4 points per pixel column of the range [x0, x1] drawn `columns`
    wide (each column's first, minimum, maximum and last point, in their order), so the drawn
    line covers the same pixels. Points left and right of the range collapse into one column
    each; non-finite points are kept as they break the line. `x` must not decrease (a path that
    turns back is returned unchanged)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(x)
    columns = max(1, int(columns))
    if n <= 4 * columns or not (np.isfinite(x0) and np.isfinite(x1) and x1 > x0):
        return x, y
    fx = np.isfinite(x)
    if not fx.all() or np.any(np.diff(x) < 0):
        return x, y
    col = np.clip(np.floor((x - x0) / (x1 - x0) * columns), -1, columns).astype(np.int64)
    bad = ~np.isfinite(y)
    # a non-finite value is a segment of its own, so that the break in the line stays where it was
    key = np.where(bad, -2 - np.arange(n), col)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], n]
    seg = np.repeat(np.arange(len(starts)), ends - starts)
    # each segment's first minimum and first maximum: sort by (segment, value); lexsort is stable
    by_low = np.lexsort((np.where(bad, 0.0, y), seg))
    by_high = np.lexsort((np.where(bad, 0.0, -y), seg))
    idx = np.unique(np.r_[starts, ends - 1, by_low[starts], by_high[starts]])
    return x[idx], y[idx]
