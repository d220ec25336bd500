"""The probe history of one run on the GUI side, filled from live payloads or a saved record."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.probes import probe_history

GROUPS = ("act", "agrad", "grad", "weight")
GROUP_TITLES = {
    "act": "Activations",
    "agrad": "Back-propagated gradients ∂L/∂a",
    "grad": "Weight gradients ∂L/∂W",
    "weight": "Weights",
}
GROUP_LAYERS = {"act": "activations", "agrad": "activations", "grad": "weights", "weight": "weights"}


class ProbeStore:
    """Snapshots in step order; `stat(group, key)` stacks one statistic as (snapshots, layers)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.steps: list[int] = []
        self.snaps: list[dict[str, Any]] = []
        self.layers: dict[str, Any] = {"activations": [], "weights": []}
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.snaps)

    def add(self, data: dict[str, Any]) -> None:
        """One live probe payload (topic "probes")."""
        self.layers = data.get("layers", self.layers)
        if self.steps and data["step"] <= self.steps[-1]:
            return  # a repeated final probe
        self.steps.append(int(data["step"]))
        self.snaps.append({k: data[k] for k in (*GROUPS, "update_ratio", "prelu_slope") if k in data})
        self._cache.clear()

    def load_record(self, record) -> bool:
        """Replace the history with a saved run's; False if it has no probes."""
        self.clear()
        h = probe_history(record)
        if h is None:
            return False
        self.layers = h["layers"]
        for i, step in enumerate(h["steps"]):
            snap: dict[str, Any] = {}
            for g in GROUPS:
                snap[g] = {
                    k.split("/", 1)[1]: v[i]
                    for k, v in h.items()
                    if isinstance(v, np.ndarray) and k.startswith(g + "/")
                }
            for k in ("update_ratio", "prelu_slope"):
                if k in h:
                    snap[k] = h[k][i]
            self.steps.append(int(step))
            self.snaps.append(snap)
        return True

    def labels(self, group: str) -> list[str]:
        return [layer.get("label", str(i)) for i, layer in enumerate(self.layers.get(GROUP_LAYERS[group], []))]

    def kinds(self, group: str) -> list[str]:
        return [layer.get("kind", "") for layer in self.layers.get(GROUP_LAYERS[group], [])]

    def stat(self, group: str, key: str) -> np.ndarray:
        """(snapshots, layers) array of one statistic; NaN where missing."""
        ck = (group, key)
        if ck not in self._cache:
            rows = []
            layer_group = group if group in GROUP_LAYERS else ("weight" if group == "update_ratio" else "act")
            n = len(self.labels(layer_group))
            for s in self.snaps:
                v = s.get(group, {}).get(key) if group in GROUPS else s.get(group)
                rows.append(np.asarray(v, dtype=np.float64) if v is not None else np.full(n, np.nan))
            self._cache[ck] = np.stack(rows) if rows else np.zeros((0, n))
        return self._cache[ck]

    def hist(self, group: str, index: int, layer: int) -> tuple[np.ndarray, float, float]:
        """Counts and range of one layer's histogram at snapshot `index`."""
        g = self.snaps[index][group]
        lo, hi = g["range"][layer]
        return np.asarray(g["hist"][layer], dtype=np.float64), float(lo), float(hi)


def rebin(counts: np.ndarray, lo: float, hi: float, new_lo: float, new_hi: float, bins: int) -> np.ndarray:
    """Move a histogram onto other bins by interpolating its cumulative counts (mass is kept
    inside the overlap of the two ranges)."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return np.zeros(bins)
    edges = np.linspace(lo, hi, len(counts) + 1)
    cdf = np.concatenate([[0.0], np.cumsum(counts)])
    new = np.interp(np.linspace(new_lo, new_hi, bins + 1), edges, cdf, left=0.0, right=float(cdf[-1]))
    return np.diff(new)
