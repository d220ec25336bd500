"""Probes summarize every layer of a probe in one batched pass (one bincount, one device→host
read): layers of different sizes, a NaN or a growing range in one layer only, a layout reused
across probes — each layer must come out as if it had been summarized alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from engine.model.modes import mode_dependent
from engine.probes import GrowingRange, summarize
from engine.probes.stats import BinLayout, summarize_groups

BINS = 24
pytestmark = pytest.mark.usefixtures("probe_path")  # every test on the compiled and the torch path


def _layers(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(50, 40, generator=g) * 3 + 1,  # dense, wide
        torch.randn(50, 7, generator=g) * 0.01,  # dense, narrow, tiny values
        torch.randn(50, 6, 5, 5, generator=g),  # conv feature maps (same size as the next)
        torch.randn(30, 25, generator=g) - 4,  # a weight of that same size, far from 0
        torch.randn(13, generator=g),  # a bias-like vector
        torch.tensor(2.5),
    ]  # a single value


def _alone(t: torch.Tensor, kind: str | None = None) -> dict[str, np.ndarray]:
    return summarize([t], [GrowingRange()], BINS, [kind] if kind else None).as_dict()


def test_layers_of_different_sizes_come_out_as_if_summarized_alone():
    layers = _layers()
    together = summarize(layers, [GrowingRange() for _ in layers], BINS).as_dict()
    for i, t in enumerate(layers):
        alone = _alone(t)
        assert np.array_equal(together["hist"][i], alone["hist"][0]), i
        for key in ("range", "mean", "std", "norm", "count", "nonfinite"):
            assert np.allclose(together[key][i], alone[key][0], rtol=1e-6, atol=1e-12, equal_nan=True), (i, key)
        # ... and as numpy bins them, up to values on a bin edge (float32 rounding).
        x = t.numpy().astype(np.float64).ravel()
        ref, _ = np.histogram(x, bins=BINS, range=tuple(together["range"][i]))
        assert together["hist"][i].sum() == x.size
        assert np.abs(ref - together["hist"][i]).sum() <= 2, i
        assert together["mean"][i] == pytest.approx(x.mean(), rel=1e-4, abs=1e-6)
        assert together["std"][i] == pytest.approx(x.std(), rel=1e-3, abs=1e-7)
        assert together["norm"][i] == pytest.approx(np.linalg.norm(x), rel=1e-5)


def test_a_nan_in_one_layer_leaves_the_others_untouched():
    layers = _layers(1)
    clean = summarize(layers, [GrowingRange() for _ in layers], BINS).as_dict()
    dirty = [t.clone() for t in layers]
    dirty[2][0, 0, 0, 0] = float("nan")
    dirty[2][3, 1, 2, 2] = float("-inf")
    s = summarize(dirty, [GrowingRange() for _ in layers], BINS).as_dict()
    assert s["nonfinite"].tolist() == [0, 0, 2, 0, 0, 0]
    assert s["count"][2] == layers[2].numel() - 2 and s["hist"][2].sum() == layers[2].numel() - 2
    finite = dirty[2][torch.isfinite(dirty[2])].double()
    assert s["mean"][2] == pytest.approx(float(finite.mean()), rel=1e-5)
    for i in (0, 1, 3, 4, 5):  # same size as the NaN layer (3) or not: exactly as without the NaN
        assert np.array_equal(s["hist"][i], clean["hist"][i]), i
        for key in ("range", "mean", "std", "norm", "count"):
            assert s[key][i] == pytest.approx(clean[key][i], rel=1e-7), (i, key)


def test_a_layer_that_is_all_nan_is_reported_empty_and_the_rest_is_binned():
    layers = [torch.full((10, 4), float("nan")), torch.ones(10, 4), torch.arange(40.0).reshape(10, 4)]
    s = summarize(layers, [GrowingRange() for _ in layers], BINS, ["relu", "sigmoid", "relu"])
    assert s.nonfinite.tolist() == [40, 0, 0] and s.count.tolist() == [0, 40, 40]
    assert s.hist[0].sum() == 0 and math.isnan(s.mean[0]) and math.isnan(s.extra["dead"][0])
    assert s.hist[1].sum() == 40 and s.hist[1][-1] == 40  # sigmoid outputs at its bound: the last bin
    assert s.extra["saturated"][1] == 1.0 and s.extra["unit_spread"][1] == 0.0
    assert s.hist[2].sum() == 40 and s.extra["dead"][2] == 0.0


def test_a_range_grows_in_one_layer_only_and_the_layout_is_reused():
    g = torch.Generator().manual_seed(2)
    base = [torch.randn(64, 32, generator=g), torch.randn(64, 32, generator=g), torch.randn(500, generator=g)]
    ranges = [GrowingRange() for _ in base]
    layout = BinLayout()
    (first,), _ = summarize_groups([(base, ranges, None)], BINS, layout=layout)
    before = [(r.lo, r.hi) for r in ranges]
    moved = [base[0], base[1] * 10, base[2] * 0.5]  # layer 1 leaves its range; 2 shrinks (stays)
    (second,), _ = summarize_groups([(moved, ranges, None)], BINS, layout=layout)
    assert [r.grown for r in ranges] == [0, 1, 0]
    assert (ranges[0].lo, ranges[0].hi) == before[0] and (ranges[2].lo, ranges[2].hi) == before[2]
    assert ranges[1].lo < float(moved[1].min()) and ranges[1].hi > float(moved[1].max())
    assert np.array_equal(second.hist[0], first.hist[0])
    for i, t in enumerate(moved):
        assert second.hist[i].sum() == t.numel()
        ref, _ = np.histogram(t.numpy().astype(np.float64), bins=BINS, range=tuple(second.range[i]))
        assert np.abs(ref - second.hist[i]).sum() <= 2, i
    # Layers come and go (a probe without gradients, then with): the layout follows.
    extra = [torch.randn(7, 3, generator=g)]
    (third, fourth), _ = summarize_groups([(moved, ranges, None), (extra, [GrowingRange()], None)], BINS, layout=layout)
    assert np.array_equal(third.hist, second.hist) and fourth.hist[0].sum() == 21


def test_activation_statistics_of_layers_of_different_shapes():
    g = torch.Generator().manual_seed(3)
    conv = torch.relu(torch.randn(40, 5, 4, 4, generator=g))
    conv[:, 2] = 0.0  # one dead channel of five
    dense = torch.tanh(torch.randn(40, 9, generator=g) * 3)
    same = torch.full((40, 6), 0.3)  # every unit identical
    s = summarize([conv, dense, same], [GrowingRange() for _ in range(3)], BINS, ["relu", "tanh", "sigmoid"])
    assert s.extra["dead"][0] == pytest.approx(0.2)
    assert s.extra["saturated"][1] == pytest.approx(float((dense.abs() >= 0.98).float().mean()))
    assert math.isnan(s.extra["dead"][1]) and math.isnan(s.extra["saturated"][0])
    assert s.extra["unit_spread"][2] == 0.0 and s.extra["unit_spread"][0] > 0.1
    per_unit = conv[:32].mean(dim=(2, 3)).double()  # the spread of a conv layer is over channel means
    ref = float((per_unit - per_unit[:, :1]).abs().max() / per_unit.abs().mean())
    assert s.extra["unit_spread"][0] == pytest.approx(ref, rel=1e-5)


def test_tensors_read_along_come_back_with_the_summaries():
    t = torch.randn(20, 5)
    along = [torch.tensor([1.5, -2.0, 3.25]), torch.tensor([7.0], dtype=torch.float64)]
    (s,), host = summarize_groups([([t], [GrowingRange()], None)], BINS, read_along=along)
    assert s.hist[0].sum() == 100
    assert host[0].tolist() == [1.5, -2.0, 3.25] and host[1].tolist() == [7.0]


def test_eval_switch_is_skipped_only_where_it_cannot_change_the_output():
    class Custom(nn.Module):
        def forward(self, x):
            return x * 2 if self.training else x

    assert not mode_dependent(nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)))
    assert mode_dependent(nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)))
    assert mode_dependent(nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5)))
    assert mode_dependent(nn.Sequential(nn.Linear(4, 3), Custom()))  # unknown code: assume it can


def test_large_work_buffers_are_released_between_probes_with_the_same_results(monkeypatch):
    import engine.probes.stats as stats
    from engine.probes import kernels

    layers = _layers(4)
    if kernels.AVAILABLE:  # the compiled CPU path reads the layers in place: no work buffer at all
        layout = BinLayout()
        summarize_groups([(layers, [GrowingRange() for _ in layers], None)], BINS, layout=layout)
        assert layout.value_buffer.numel() == 0
    monkeypatch.setattr(kernels, "AVAILABLE", False)  # the torch path (a GPU run's) has them
    kept_ranges, kept_layout = [GrowingRange() for _ in layers], BinLayout()
    kept = [summarize_groups([(layers, kept_ranges, None)], BINS, layout=kept_layout)[0][0] for _ in range(2)]
    assert kept_layout.value_buffer.numel() == sum(t.numel() for t in layers)  # small: kept
    monkeypatch.setattr(stats, "KEEP_BUFFERS", 100)
    ranges, layout = [GrowingRange() for _ in layers], BinLayout()
    for want in kept:
        (got,), _ = summarize_groups([(layers, ranges, None)], BINS, layout=layout)
        assert layout.value_buffer.numel() == 0  # large: dropped
        assert np.array_equal(got.hist, want.hist) and np.allclose(got.std, want.std)
