"""A run's recorded series at full resolution."""

from __future__ import annotations

import numpy as np


class Series:
    """A growing float series kept as numpy chunks (appending is O(1)); single values are
    gathered in a list until the series is read (one float per epoch costs no array)."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._tail: list[float] = []  # values appended one at a time, after the chunks
        self._cache: np.ndarray | None = None

    def _fold(self) -> None:
        self._chunks.append(np.array(self._tail, dtype=np.float64))
        self._tail = []

    def extend(self, values) -> None:
        if self._tail:
            self._fold()
        self._chunks.append(np.asarray(values, dtype=np.float64).ravel())
        self._cache = None

    def append(self, value: float) -> None:
        self._tail.append(float(value))
        self._cache = None

    def array(self) -> np.ndarray:
        if self._tail:
            self._fold()
        if self._cache is None:
            self._cache = np.concatenate(self._chunks) if self._chunks else np.zeros(0)
            self._chunks = [self._cache]
        return self._cache

    def __len__(self) -> int:
        return sum(len(c) for c in self._chunks) + len(self._tail)
