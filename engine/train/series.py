"""A run's recorded series at full resolution."""

from __future__ import annotations

import numpy as np


class Series:
    """A growing float series kept as numpy chunks (appending is O(1))."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._cache: np.ndarray | None = None

    def extend(self, values) -> None:
        self._chunks.append(np.asarray(values, dtype=np.float64).ravel())
        self._cache = None

    def append(self, value: float) -> None:
        self.extend([value])

    def array(self) -> np.ndarray:
        if self._cache is None:
            self._cache = np.concatenate(self._chunks) if self._chunks else np.zeros(0)
            self._chunks = [self._cache]
        return self._cache

    def __len__(self) -> int:
        return sum(len(c) for c in self._chunks)
