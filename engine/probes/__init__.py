"""Probes: what happens inside the network (per-layer histograms and statistics)."""

from engine.probes.hook import ProbeHook, probe_batch
from engine.probes.layers import ProbedLayer, activation_layers, weight_layers
from engine.probes.snapshot import GROUPS, LayerStats, ProbedLayers, ProbeSnapshot
from engine.probes.stats import GrowingRange, LayerSummary, summarize
from engine.probes.summary import summarize_probes

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
