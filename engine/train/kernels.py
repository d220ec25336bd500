"""Compiled helpers for the trainer's per-step scalars on the CPU (numba; numpy/torch without it).

- `sum_squares_at`: the global gradient norm's square, every step, over the gradients where
  they lie (their addresses), summed in float64 (float32 values in float32 blocks of 1024,
  the blocks in float64): faster than torch's per-tensor norms for the small models it
  serves, and a plain float where those return tensors the flush would then have to stack.
- `l2_norm`: the same sum over one flat buffer, as a norm (the last good state's check).
- `correct_count`: the running training accuracy needs, once per report window, how many of
  the window's minibatch predictions were right: an argmax over a few classes for every
  sample. numpy does that one row at a time; one compiled pass over the window is cheaper,
  most of all once the training steps have pushed the predictions out of the caches
  (tests/benchmarks/bench_trainer.py times the trainer these serve).
- `loss_and_correct`: the summed cross-entropy and that count in one pass, for the epoch's
  evaluation passes. torch's CPU cross-entropy over a few classes takes about five times as
  long (its log-softmax along the rows of a (samples, 10) tensor runs row by row: 73 µs for
  512 digits samples, this about 20 µs with the count); it computes the same loss and
  differs from torch's kernel by rounding only."""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from engine.compiled import AVAILABLE as _NUMBA
from engine.compiled import jit, numba

AVAILABLE = _NUMBA

if AVAILABLE:

    @jit(fastmath={"reassoc", "contract"})
    def _sum_squares(x):  # pragma: no cover - compiled
        total = 0.0
        for j in range(x.shape[0]):
            d = np.float64(x[j])
            total += d * d
        return total

    @jit(fastmath={"reassoc", "contract"})
    def _sum_squares_f32(x):  # pragma: no cover - compiled
        """float32 squares summed in float32 over blocks of 1024 (the loop vectorizes; a
        float64 sum converts every value first, about half as fast), the blocks in float64:
        within a few 1e-9 of the float64 sum. Inf once a block passes float32's range."""
        total = np.float64(0.0)
        n = x.shape[0]
        full = n - n % 1024
        for s in range(0, full, 1024):
            block = np.float32(0.0)
            for j in range(1024):
                v = x[s + j]
                block += v * v
            total += block
        block = np.float32(0.0)
        for j in range(full, n):
            block += x[j] * x[j]
        return total + block

    from engine.compiled import float32_at as _float32_at

    @jit()
    def _sum_squares_at(addresses, sizes, blocked):  # pragma: no cover - compiled
        """Σ x² over the float32 arrays at `addresses` (lengths `sizes`): in float32 blocks
        (`_sum_squares_f32`) when `blocked`, else every square in float64."""
        total = 0.0
        for i in range(addresses.shape[0]):
            x = numba.carray(_float32_at(addresses[i]), (sizes[i],))
            total += _sum_squares_f32(x) if blocked else _sum_squares(x)
        return total

    @jit()
    def _correct(logits, labels):  # pragma: no cover - compiled
        """Rows whose argmax (numpy's: the first maximum; the first NaN if there is one)
        equals the label: no score above the label's, none equal to it before it, no NaN
        (or, for a NaN at the label, none before it). Compares every score of a row without
        branching on them, which runs about a third faster than tracking the maximum."""
        hits = 0
        c = logits.shape[1]
        for i in range(logits.shape[0]):
            k = labels[i]
            if k < 0 or k >= c:
                continue
            t = logits[i, k]
            ok = True
            if np.isnan(t):
                for j in range(k):
                    ok &= not np.isnan(logits[i, j])
            else:
                for j in range(c):
                    v = logits[i, j]
                    ok &= (v < t) | ((v == t) & (j >= k))
            hits += ok
        return hits


if AVAILABLE:

    @jit()
    def _loss_correct(logits, labels):  # pragma: no cover - compiled
        """Σ over rows of logsumexp(row) − row[label] and how many rows `_correct` counts;
        a label outside the classes stops it with a count of -1. Each row's exponentials in
        its own dtype (float32's exp is about twice as fast as float64's), summed in it and
        the rest in float64; NaN or +Inf in a row gives NaN, as torch's log-softmax does."""
        total = 0.0
        c = logits.shape[1]
        for i in range(logits.shape[0]):
            k = labels[i]
            if k < 0 or k >= c:
                return np.nan, -1
            m = logits[i, 0]
            for j in range(1, c):
                m = max(m, logits[i, j])
            s = m - m  # 0 in the logits' dtype (NaN for an infinite maximum: the loss is NaN then)
            for j in range(c):
                s += np.exp(logits[i, j] - m)
            total += np.float64(m) + np.log(np.float64(s)) - np.float64(logits[i, k])
        return total, _correct(logits, labels)


def _disable(what: str, e: Exception) -> None:
    global AVAILABLE
    AVAILABLE = False
    warnings.warn(
        f"trainer: compiled {what} disabled, using torch/numpy ({type(e).__name__}: {e})", RuntimeWarning, stacklevel=3
    )


def sum_squares_at(addresses: np.ndarray, sizes: np.ndarray) -> float | None:
    """Σ x² over the contiguous float32 CPU tensors whose `data_ptr()`s are `addresses` (int64)
    and whose lengths are `sizes` (int64), in float64; the caller keeps the tensors alive.
    None without the compiled kernel (the caller uses torch then)."""
    if AVAILABLE:
        try:
            total = _sum_squares_at(addresses, sizes, True)
            if total != math.inf:
                return total
            # a block's sum passed float32's range (or a value is ±Inf): again in float64
            return _sum_squares_at(addresses, sizes, False)
        except Exception as e:  # noqa: BLE001 - a compiler that fails on this machine: torch from now on
            _disable("gradient norm", e)
    return None


def l2_norm(flat: torch.Tensor, view: np.ndarray | None) -> float:
    """||flat||: `view` is flat's numpy view (float32 or float64, on the CPU) or None."""
    if AVAILABLE and view is not None:
        try:
            if view.itemsize == 4:
                total = _sum_squares_f32(view)
                if total != math.inf:
                    return math.sqrt(total)
                # a block's sum passed float32's range (or a value is ±Inf): again in float64
            return math.sqrt(_sum_squares(view))
        except Exception as e:  # noqa: BLE001 - a compiler that fails on this machine: torch from now on
            _disable("gradient norm", e)
    return float(torch.linalg.vector_norm(flat, dtype=torch.float64))  # float64 as the kernel: no overflow


def correct_count(logits: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> int:
    """How many rows of `logits` (samples × classes) have their argmax equal to `labels`:
    compiled for float32/float64 on the CPU, torch for a tensor elsewhere (or of another
    dtype), numpy without numba."""
    if isinstance(logits, torch.Tensor):
        assert isinstance(labels, torch.Tensor)  # the trainer's logits and labels are both tensors
        if not logits.is_cpu or logits.dtype not in (torch.float32, torch.float64):
            return int((logits.argmax(1) == labels).sum())
        logits, labels = logits.detach().numpy(), labels.numpy()
    if AVAILABLE and logits.ndim == 2 and logits.shape[1] and logits.shape[0] == labels.shape[0]:
        try:
            return int(_correct(logits, labels))
        except Exception as e:  # noqa: BLE001 - a compiler that fails on this machine: numpy from now on
            _disable("accuracy count", e)
    return int(np.count_nonzero(logits.argmax(1) == labels))


def loss_and_correct(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, int]:
    """The summed cross-entropy of `logits` (samples × classes, no gradient needed) against
    `labels`, and how many rows' argmax equals the label (as `correct_count`): compiled for
    float32/float64 CPU tensors, torch's cross_entropy elsewhere (and for a label outside
    the classes, which torch reports)."""
    if AVAILABLE and logits.is_cpu and logits.dtype in (torch.float32, torch.float64) and logits.dim() == 2:
        if logits.shape[1] and logits.shape[0] == labels.shape[0] and labels.dtype == torch.int64:
            try:
                total, hits = _loss_correct(logits.detach().numpy(), labels.numpy())
            except Exception as e:  # noqa: BLE001 - a compiler that fails on this machine: torch from now on
                _disable("evaluation loss", e)
            else:
                if hits >= 0:
                    return float(total), int(hits)
    loss = torch.nn.functional.cross_entropy(logits.detach(), labels, reduction="sum")
    return float(loss), correct_count(logits, labels)
