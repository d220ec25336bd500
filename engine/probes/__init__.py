"""Probes: what happens inside the network (per-layer histograms and statistics)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.probes.hook import ProbeHook, probe_batch
    from engine.probes.layers import ProbedLayer, activation_layers, weight_layers
    from engine.probes.snapshot import GROUPS, LayerStats, ProbedLayers, ProbeSnapshot
    from engine.probes.stats import GrowingRange, LayerSummary, summarize
    from engine.probes.summary import summarize_probes

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ProbeHook": "engine.probes.hook",
        "probe_batch": "engine.probes.hook",
        "ProbedLayer": "engine.probes.layers",
        "activation_layers": "engine.probes.layers",
        "weight_layers": "engine.probes.layers",
        "GROUPS": "engine.probes.snapshot",
        "LayerStats": "engine.probes.snapshot",
        "ProbedLayers": "engine.probes.snapshot",
        "ProbeSnapshot": "engine.probes.snapshot",
        "GrowingRange": "engine.probes.stats",
        "LayerSummary": "engine.probes.stats",
        "summarize": "engine.probes.stats",
        "summarize_probes": "engine.probes.summary",
    },
)

__all__ = [
    "ProbeHook",
    "probe_batch",
    "ProbedLayer",
    "activation_layers",
    "weight_layers",
    "GrowingRange",
    "LayerSummary",
    "summarize",
    "GROUPS",
    "LayerStats",
    "ProbedLayers",
    "ProbeSnapshot",
    "summarize_probes",
]
