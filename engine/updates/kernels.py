"""The optimizer-state statistics of a measurement in one compiled CPU call (numba).

On the CPU the statistics cost almost nothing to compute (a few thousand values per layer)
but a dozen torch calls each (fused norms, a stack per statistic, Adam's step per
parameter), a few microseconds apiece before they touch a value. `state_values` reads every
state tensor where it lies and computes each statistic in one pass, accumulating in float64:

  NORM   ‖a‖                              velocity, exp_avg
  RMS    √(Σa / n), a ≥ 0                  exp_avg_sq_rms, square_avg_rms, sum_rms
  ADAM   mean |(a / bc1) / (√(b / bc2) + ε)|  adam_step (times lr, by the caller)

engine/updates/measure.py's `state_stats` (torch) computes the same, and a test holds them
together; it stays the path for other devices, other dtypes, or without numba.
"""

from __future__ import annotations

import numpy as np

from engine.compiled import AVAILABLE as _NUMBA
from engine.compiled import jit as _jit
from engine.compiled import numba

AVAILABLE = _NUMBA
NORM, RMS, ADAM = 0, 1, 2

if AVAILABLE:
    from engine.compiled import float32_at as _float32_at

    @_jit(fastmath={"reassoc", "contract", "arcp"})
    def _adam(m, v, bc1, bc2, eps):  # pragma: no cover - compiled
        """Σ |(m / bc1) / (√(v / bc2) + ε)|, each term in float32 (as torch.optim computes it, up to rounding)."""
        scale1, scale2, e = np.float32(1.0 / bc1), np.float32(1.0 / bc2), np.float32(eps)
        total = 0.0
        for j in range(m.shape[0]):
            total += np.float64(abs((m[j] * scale1) / (np.sqrt(v[j] * scale2) + e)))
        return total

    @_jit(fastmath={"reassoc", "contract"})
    def _state_values(first, second, sizes, kinds, params, out):  # pragma: no cover - compiled
        for i in range(first.shape[0]):
            n = sizes[i]
            if n == 0:
                out[i] = np.nan
                continue
            a = numba.carray(_float32_at(first[i]), (n,))
            total = 0.0
            if kinds[i] == NORM:
                for j in range(n):
                    v = np.float64(a[j])
                    total += v * v
                out[i] = np.sqrt(total)
            elif kinds[i] == RMS:
                for j in range(n):
                    total += np.float64(a[j])
                out[i] = np.sqrt(total / n)
            else:
                b = numba.carray(_float32_at(second[i]), (n,))
                out[i] = _adam(a, b, params[i, 0], params[i, 1], params[i, 2]) / n


def state_values(
    first: np.ndarray, second: np.ndarray, sizes: np.ndarray, kinds: np.ndarray, params: np.ndarray
) -> np.ndarray:
    """One value per entry i: `kinds[i]` (NORM, RMS or ADAM) of the contiguous float32 CPU
    tensor at address `first[i]` with `sizes[i]` values (ADAM: with the second moment at
    `second[i]` and `params[i]` = bias corrections 1 − β₁ᵗ, 1 − β₂ᵗ and ε). The caller keeps
    the tensors alive and checks their layout; NaN for an empty one."""
    out = np.empty(first.shape[0])
    _state_values(first, second, sizes, kinds, params, out)
    return out
