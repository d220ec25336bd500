"""Saved probes as plain JSON: the per-layer statistics `descent info --json` prints."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.probes.snapshot import from_record

if TYPE_CHECKING:
    from engine.session.record import RunRecord


def _clean(values: np.ndarray) -> list[float | None]:
    """JSON-safe list: NaN/Inf become null."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64).ravel()]


def summarize_probes(record: RunRecord) -> dict[str, Any]:
    """Per-layer statistics at every probe step (plain JSON); "probes" is None without
    probes, {"error": ...} when the saved ones are malformed."""
    out: dict[str, Any] = {}
    try:
        snaps = from_record(record)
    except ValueError as e:
        out["probes"] = {"error": str(e)}
        return out
    if not snaps:
        out["probes"] = None
        return out
    layers = snaps[-1].layers

    def column(values: list[np.ndarray | None], i: int) -> list[float | None]:
        return _clean(np.array([v[i] for v in values if v is not None]))

    acts = []
    for i, layer in enumerate(layers.activations):
        entry: dict[str, Any] = {"layer": layer.label, "kind": layer.kind}
        for stat in ("mean", "std", "saturated", "dead", "unit_spread", "nonfinite"):
            values = [getattr(s.act, stat) for s in snaps]
            if all(v is not None for v in values):
                entry[stat] = column(values, i)
        entry["grad_norm"] = column([s.agrad.norm for s in snaps], i)
        if layer.kind == "prelu":
            entry["prelu_slope"] = column([s.prelu_slope for s in snaps], i)
        acts.append(entry)
    weights = []
    for i, layer in enumerate(layers.weights):
        weights.append(
            {
                "layer": layer.label,
                "weight_std": column([s.weight.std for s in snaps], i),
                "grad_norm": column([s.grad.norm for s in snaps], i),
                "update_ratio": column([s.update_ratio for s in snaps], i),
            }
        )
    out["probes"] = {
        "steps": [s.step for s in snaps],
        "every": snaps[-1].every,
        "probe_batch": layers.probe_batch,
        "activations": acts,
        "weights": weights,
    }
    return out
