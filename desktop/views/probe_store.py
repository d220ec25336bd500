"""The probe history of one run on the GUI side: ProbeSnapshots, from a live run or a saved
record alike (`for s in from_record(record): store.add(s)`)."""

from __future__ import annotations

import numpy as np

from engine.probes.snapshot import GROUP_LAYERS, GROUPS, ProbedLayers, ProbeSnapshot

GROUP_TITLES = {
    "act": "Activations",
    "agrad": "Back-propagated gradients ∂L/∂a",
    "grad": "Weight gradients ∂L/∂W",
    "weight": "Weights",
}
NO_LAYERS = ProbedLayers((), (), 0, 0)


class ProbeStore:
    """Snapshots in step order; `stat(group, key)` stacks one statistic as (snapshots, layers)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.steps: list[int] = []
        self.snaps: list[ProbeSnapshot] = []
        self.layers: ProbedLayers = NO_LAYERS
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.snaps)

    def add(self, snap: ProbeSnapshot) -> None:
        """One snapshot, live or replayed; a repeated step (the final probe) is skipped."""
        self.layers = snap.layers
        if self.steps and snap.step <= self.steps[-1]:
            return
        self.steps.append(snap.step)
        self.snaps.append(snap)
        self._cache.clear()

    def labels(self, group: str) -> list[str]:
        return self.layers.labels(group)

    def kinds(self, group: str) -> list[str]:
        return self.layers.kinds(group)

    def stat(self, group: str, key: str) -> np.ndarray:
        """(snapshots, layers) array of one statistic of a group, or of "update_ratio" or
        "prelu_slope" (key ignored); NaN where a snapshot lacks it."""
        ck = (group, key)
        if ck not in self._cache:
            layer_group = group if group in GROUP_LAYERS else ("weight" if group == "update_ratio" else "act")
            n = len(self.labels(layer_group))
            rows = []
            for s in self.snaps:
                v = getattr(s.group(group), key, None) if group in GROUPS else getattr(s, group)
                rows.append(np.asarray(v, dtype=np.float64) if v is not None else np.full(n, np.nan))
            self._cache[ck] = np.stack(rows) if rows else np.zeros((0, n))
        return self._cache[ck]

    def hist(self, group: str, index: int, layer: int) -> tuple[np.ndarray, float, float]:
        """Counts and range of one layer's histogram at snapshot `index`."""
        g = self.snaps[index].group(group)
        lo, hi = g.range[layer]
        return np.asarray(g.hist[layer], dtype=np.float64), float(lo), float(hi)


def rebin(counts: np.ndarray, lo: float, hi: float, new_lo: float, new_hi: float, bins: int) -> np.ndarray:
    """Move a histogram onto other bins by interpolating its cumulative counts (mass is kept
    inside the overlap of the two ranges)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return np.zeros(bins)
    edges = np.linspace(lo, hi, len(counts) + 1)
    cdf = np.concatenate([[0.0], np.cumsum(counts)])
    new = np.interp(np.linspace(new_lo, new_hi, bins + 1), edges, cdf, left=0.0, right=float(cdf[-1]))
    return np.diff(new)
