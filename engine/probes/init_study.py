"""The initialization study: every layer's activations at init, before any training step,
for a batch of real data (lecture §2; Glorot & Bengio 2010, figure of per-layer histograms)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.config import ExperimentConfig
from engine.data import DataBundle, load_data
from engine.model import build_model
from engine.probes.hook import probe_batch
from engine.probes.layers import activation_layers
from engine.probes.stats import GrowingRange, LayerSummary, summarize

SYMMETRY_TOL = 1e-5  # relative spread across units below this: the units are identical


@dataclass
class InitStudy:
    """Per-layer results at init: `summary` arrays over the hidden layers, input to output."""

    labels: list[str]
    summary: LayerSummary
    n_samples: int

    @property
    def std(self) -> np.ndarray:
        return self.summary.std

    @property
    def symmetric(self) -> np.ndarray:
        """True for layers whose units all compute the same thing (unbroken symmetry)."""
        spread = np.asarray(self.summary.extra["unit_spread"], dtype=float)
        # every unit outputs exactly 0 (zero init): no spread to measure, all units identical
        silent = np.isnan(spread) & (np.asarray(self.summary.std, dtype=float) == 0)
        return (spread < SYMMETRY_TOL) | silent


def init_study(
    config: ExperimentConfig,
    depth: int,
    width: int,
    init: str | None = None,
    activation: str | None = None,
    n_samples: int = 512,
    bins: int = 50,
    data: DataBundle | None = None,
) -> InitStudy:
    """Build a `depth`×`width` network of the config's family with the given init and
    activation and probe its activations on `n_samples` training samples (no training)."""
    if not 1 <= depth <= 16:
        raise ValueError(f"depth must be in [1, 16], got {depth}")
    if not 1 <= width <= 4096:
        raise ValueError(f"width must be in [1, 4096], got {width}")
    updates: dict = {
        "model.hidden": [int(width)] * int(depth),
        # per-layer lists are sized for the config's own depth: the study uses the model-wide settings
        "model.dropout_layers": [],
        "model.batch_norm_layers": [],
        "model.activation_layers": [],
    }
    if init is not None:
        updates["model.init"] = init
    if activation is not None:
        updates["model.activation"] = activation
    cfg = config.with_updates(updates)
    data = data if data is not None else load_data(cfg)
    model = build_model(cfg.model, data.n_features, data.n_classes, cfg.seed)
    model.eval()
    layers = activation_layers(model)
    x, _ = probe_batch(data.x_train.cpu(), data.y_train.cpu(), n_samples, cfg.seed)
    outs: list[torch.Tensor] = [torch.zeros(0)] * len(layers)

    def make(i: int):
        def fwd(_m, _inp, out) -> None:
            outs[i] = out.detach()

        return fwd

    handles = [m.register_forward_hook(make(i)) for i, (_, m) in enumerate(layers)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    kinds = [layer.kind for layer, _ in layers]
    summary = summarize(outs, [GrowingRange() for _ in layers], bins, kinds)
    for i, out in enumerate(outs):
        bulk_histogram(summary, i, out, bins)
    return InitStudy([layer.label for layer, _ in layers], summary, int(x.shape[0]))


def bulk_histogram(summary: LayerSummary, i: int, values: torch.Tensor, bins: int) -> None:
    """Layer i's histogram over the bulk of its values (the 0.5-99.5% quantiles, padded 5%)
    instead of their min..max: a layer whose spread collapsed shows its shape, not one spike
    in a range a few extreme values set. The statistics (std, saturation...) keep every value."""
    v = values.detach().flatten().float()
    v = v[torch.isfinite(v)]
    if v.numel() < 2:
        return
    if v.numel() > 1_000_000:  # quantile's input limit is far above; this keeps it quick
        v = v[torch.randperm(v.numel(), generator=torch.Generator().manual_seed(0))[:1_000_000]]
    lo, hi = torch.quantile(v, torch.tensor([0.005, 0.995])).tolist()
    if not hi > lo:
        return
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    summary.hist[i] = torch.histc(v, bins, lo, hi).numpy()
    summary.range[i] = (lo, hi)
