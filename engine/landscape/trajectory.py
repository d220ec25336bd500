"""A bounded store of parameter snapshots: float32 on the CPU, thinned by 2 when full."""

from __future__ import annotations

import numpy as np
import torch

MAX_BYTES = 256 * 1024**2  # whatever max_snapshots says, the store never exceeds this


class TrajectoryBuffer:
    """Snapshots every `every` steps; when `capacity` rows are used, every other row is
    dropped and the interval doubles, so memory stays bounded and the path keeps its shape."""

    def __init__(self, n_params: int, every: int, capacity: int) -> None:
        self.n_params = n_params
        self.every = max(1, every)
        cap_by_bytes = max(8, MAX_BYTES // max(1, 4 * n_params))
        self.capacity = max(4, min(capacity, cap_by_bytes))
        self._data = np.zeros((self.capacity, n_params), dtype=np.float32)
        self._steps = np.zeros(self.capacity, dtype=np.int64)
        self.count = 0
        self.thinned = 0

    def wants(self, step: int) -> bool:
        return step % self.every == 0

    def add(self, step: int, params: torch.Tensor | np.ndarray, replace: bool = False) -> None:
        """Store a snapshot; a second one at the same step is ignored, or replaces the
        first with `replace` (weights changed without a step, e.g. best weights restored)."""
        if self.count and self._steps[self.count - 1] == step:
            if replace:
                vec = params.detach().float().cpu().numpy() if isinstance(params, torch.Tensor) else np.asarray(params)
                self._data[self.count - 1] = vec.reshape(-1)
            return
        if self.count >= self.capacity:
            self._thin()
        vec = params.detach().float().cpu().numpy() if isinstance(params, torch.Tensor) else np.asarray(params)
        self._data[self.count] = vec.reshape(-1)
        self._steps[self.count] = step
        self.count += 1

    def _thin(self) -> None:
        # Keep rows 0, 2, 4, ...: the init (row 0) always survives.
        keep = np.arange(0, self.count, 2)
        k = len(keep)
        self._data[:k] = self._data[keep]
        self._steps[:k] = self._steps[keep]
        self.count = k
        self.every *= 2
        self.thinned += 1

    @property
    def steps(self) -> np.ndarray:
        return self._steps[: self.count].copy()

    @property
    def params(self) -> np.ndarray:
        """(count, n_params) float32 view of the snapshots (do not keep across adds)."""
        return self._data[: self.count]

    def __len__(self) -> int:
        return self.count
