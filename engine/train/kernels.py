"""Compiled helper for the trainer's per-window read-back on the CPU (numba; numpy without it).

The running training accuracy needs, once per report window, how many of the window's
minibatch predictions were right: an argmax over a few classes for every sample. numpy
does that one row at a time (about 70 µs for 23 batches of 64 once the training steps have
pushed it out of the caches); one compiled pass costs a fraction of that."""
from __future__ import annotations

import warnings

import numpy as np

from engine.compiled import AVAILABLE as _NUMBA, jit

AVAILABLE = _NUMBA

if AVAILABLE:
    @jit()
    def _correct(logits, labels):   # pragma: no cover - compiled
        """Rows whose argmax (numpy's: the first maximum; the first NaN if there is one)
        equals the label."""
        hits = 0
        for i in range(logits.shape[0]):
            best = 0
            top = logits[i, 0]
            if not np.isnan(top):
                for j in range(1, logits.shape[1]):
                    v = logits[i, j]
                    if np.isnan(v):
                        best = j
                        break
                    if v > top:
                        best, top = j, v
            if best == labels[i]:
                hits += 1
        return hits


def correct_count(logits: np.ndarray, labels: np.ndarray) -> int:
    """How many rows of `logits` (samples × classes) have their argmax equal to `labels`."""
    global AVAILABLE
    if AVAILABLE and logits.ndim == 2 and logits.shape[1] and logits.shape[0] == labels.shape[0]:
        try:
            return int(_correct(logits, labels))
        except Exception as e:   # a compiler that fails on this machine: numpy from now on
            AVAILABLE = False
            warnings.warn(f"trainer: compiled accuracy kernel disabled, using numpy ({type(e).__name__}: {e})",
                          RuntimeWarning, stacklevel=2)
    return int(np.count_nonzero(logits.argmax(1) == labels))
