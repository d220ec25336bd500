"""Read probes back from a RunRecord: the history the views replay and `descent info --json` prints."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from engine.session.record import RunRecord


def _clean(values: np.ndarray) -> list[float | None]:
    """JSON-safe list: NaN/Inf become null."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64).ravel()]


def probe_history(record: RunRecord) -> dict[str, Any] | None:
    """{'steps', 'layers', and 'act/hist', 'grad/norm'... arrays} of a run, or None if it has no probes."""
    if "probes/steps" not in record.arrays:
        return None
    out: dict[str, Any] = {
        "steps": np.asarray(record.arrays["probes/steps"]),
        "layers": record.meta.get("probes", {"activations": [], "weights": []}),
    }
    for key, arr in record.arrays.items():
        if key.startswith("probes/") and key != "probes/steps":
            out[key.removeprefix("probes/")] = np.asarray(arr)
    return out


def summarize_probes(record: RunRecord) -> dict[str, Any]:
    """Per-layer statistics at every probe step plus the diagnostics raised (plain JSON)."""
    out: dict[str, Any] = {"diagnostics": list(record.meta.get("diagnostics", []))}
    h = probe_history(record)
    if h is None:
        out["probes"] = None
        return out
    layers = h["layers"]
    acts = []
    for i, layer in enumerate(layers.get("activations", [])):
        entry = {"layer": layer.get("label", str(i)), "kind": layer.get("kind", "")}
        for stat in ("mean", "std", "saturated", "dead", "unit_spread", "nonfinite"):
            arr = h.get(f"act/{stat}")
            if arr is not None and arr.ndim == 2 and i < arr.shape[1]:
                entry[stat] = _clean(arr[:, i])
        grad = h.get("agrad/norm")
        if grad is not None and grad.ndim == 2 and i < grad.shape[1]:
            entry["grad_norm"] = _clean(grad[:, i])
        slope = h.get("prelu_slope")
        if layer.get("kind") == "prelu" and slope is not None and i < slope.shape[1]:
            entry["prelu_slope"] = _clean(slope[:, i])
        acts.append(entry)
    weights = []
    for i, layer in enumerate(layers.get("weights", [])):
        entry = {"layer": layer.get("label", str(i))}
        for src, name in (("weight/std", "weight_std"), ("grad/norm", "grad_norm"), ("update_ratio", "update_ratio")):
            arr = h.get(src)
            if arr is not None and arr.ndim == 2 and i < arr.shape[1]:
                entry[name] = _clean(arr[:, i])
        weights.append(entry)
    out["probes"] = {
        "steps": [int(s) for s in h["steps"]],
        "every": layers.get("every"),
        "probe_batch": layers.get("probe_batch"),
        "activations": acts,
        "weights": weights,
    }
    return out
