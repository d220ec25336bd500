"""Probes: what happens inside the network (per-layer histograms and statistics)."""

from engine.probes.hook import ProbeHook, probe_batch
from engine.probes.layers import ProbedLayer, activation_layers, weight_layers
from engine.probes.stats import GrowingRange, LayerSummary, summarize
from engine.probes.summary import probe_history, summarize_probes

__all__ = [
    "ProbeHook",
    "probe_batch",
    "ProbedLayer",
    "activation_layers",
    "weight_layers",
    "GrowingRange",
    "LayerSummary",
    "summarize",
    "probe_history",
    "summarize_probes",
]
