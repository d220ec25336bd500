"""Probes: histograms and statistics per layer, at init and during training (issue 5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from engine.config import ExperimentConfig
from engine.events import EventChannel
from engine.experiment import build_trainer
from engine.probes import GrowingRange, ProbeHook, ProbeSnapshot, activation_layers, summarize, summarize_probes
from engine.probes.init_study import init_study
from engine.session import record_of


def digits_cfg(**updates) -> ExperimentConfig:
    base = {
        "data.name": "digits",
        "device": "cpu",
        "train.epochs": 1,
        "train.threads": 1,
        "metrics.enabled": False,
        "diagnostics.enabled": False,
    }
    base.update(updates)
    return ExperimentConfig().with_updates(base)


@pytest.fixture(scope="module")
def digits_data():
    from engine.data import load_data

    return load_data(digits_cfg())


@pytest.mark.parametrize("init,check", [("normal", lambda r: r < 0.10), ("xavier_uniform", lambda r: r > 0.50)])
def test_small_gaussian_collapses_and_xavier_keeps_spread(digits_data, init, check):
    # Glorot & Bengio's figure: 5 tanh layers of width 256 on real data, at init.
    cfg = digits_cfg(**{"model.init_std": 0.01})
    study = init_study(cfg, depth=5, width=256, init=init, activation="tanh", data=digits_data)
    assert len(study.labels) == 5
    ratio = study.std[-1] / study.std[0]
    assert check(ratio), f"{init}: last/first activation std = {ratio:.4f}"


def test_constant_init_keeps_units_identical_after_training():
    cfg = digits_cfg(
        **{
            "model.init": "constant",
            "model.init_constant": 0.05,
            "model.activation": "tanh",
            "model.hidden": [16, 16],
            "probes.every": 5,
            "optim.name": "sgd",
            "optim.lr": 0.1,
        }
    )
    t = build_trainer(cfg)
    t.run(max_steps=15)
    hook = next(h for h in t.hooks if isinstance(h, ProbeHook))
    assert hook.latest.step == 15
    spread = hook.latest.act.unit_spread
    assert np.all(spread < 1e-5), spread
    # The direct check: every unit of each hidden layer gives the same activation.
    outs = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: outs.append(o.detach())) for _, m in activation_layers(t.model)]
    with torch.no_grad():
        t.model(t.data.x_train[:50])
    for h in hooks:
        h.remove()
    for o in outs:
        assert torch.allclose(o, o[:, :1].expand_as(o), atol=1e-6)
    # A random init breaks the symmetry.
    t2 = build_trainer(cfg.with_updates({"model.init": "xavier_uniform"}))
    t2.run(max_steps=5)
    assert np.all(next(h for h in t2.hooks if isinstance(h, ProbeHook)).latest.act.unit_spread > 0.05)


@pytest.mark.usefixtures("probe_path")
def test_histogram_counts_and_statistics_match_numpy():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 40, generator=g) * 3 + 1
    b = torch.tanh(torch.randn(300, 17, generator=g) * 2)
    c = torch.relu(torch.randn(300, 9, generator=g))
    ranges = [GrowingRange() for _ in range(3)]
    s = summarize([a, b, c], ranges, 32, ["gelu", "tanh", "relu"])
    for i, t in enumerate([a, b, c]):
        x = t.numpy().astype(np.float64).ravel()
        assert s.hist[i].sum() == x.size
        assert s.mean[i] == pytest.approx(x.mean(), rel=1e-4, abs=1e-6)
        assert s.std[i] == pytest.approx(x.std(), rel=1e-3)
        lo, hi = s.range[i]
        ref, _ = np.histogram(x, bins=32, range=(lo, hi))
        # Same bins as numpy up to values on a bin edge (float32 rounding).
        assert np.abs(ref - s.hist[i]).sum() <= 2
    # tanh: saturated = |y| >= 0.98 (within 1% of the span of a bound).
    assert s.extra["saturated"][1] == pytest.approx(float((b.abs() >= 0.98).float().mean()), abs=1e-6)
    dead_ref = float((c.amax(0) <= 0).float().mean())
    assert s.extra["dead"][2] == pytest.approx(dead_ref)
    assert math.isnan(s.extra["saturated"][2]) and math.isnan(s.extra["dead"][1])


@pytest.mark.usefixtures("probe_path")
def test_range_grows_and_keeps_counts():
    r = [GrowingRange()]
    s1 = summarize([torch.linspace(-1, 1, 101)], r, 10)
    lo1, hi1 = s1.range[0]
    s2 = summarize([torch.linspace(-5, 1, 101)], r, 10)
    lo2, hi2 = s2.range[0]
    assert lo2 < -5 < lo1 and hi2 == hi1 and r[0].grown == 1
    assert s2.hist[0].sum() == 101
    s3 = summarize([torch.linspace(-1, 1, 11)], r, 10)  # smaller values: the range stays
    assert tuple(s3.range[0]) == (lo2, hi2)


@pytest.mark.usefixtures("probe_path")
def test_bad_layers_are_reported_not_fatal():
    x = torch.randn(20, 8)
    x[3, 2] = float("nan")
    x[5, 1] = float("inf")
    empty = torch.zeros(20, 0)
    const = torch.full((20, 6), 0.7)
    s = summarize([x, empty, const], [GrowingRange() for _ in range(3)], 16, ["relu", "relu", "sigmoid"])
    assert s.nonfinite[0] == 2 and s.hist[0].sum() == x.numel() - 2
    assert s.count[1] == 0 and s.hist[1].sum() == 0 and math.isnan(s.mean[1])
    assert s.hist[2].sum() == 120 and s.std[2] == pytest.approx(0.0, abs=1e-6) and s.mean[2] == pytest.approx(0.7)
    assert s.extra["unit_spread"][2] == pytest.approx(0.0, abs=1e-7)


def test_zero_width_layer_in_a_model_is_probed_without_crash():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(64, 0)
            self.act = nn.ReLU()
            self.b = nn.Linear(64, 10)
            self.act2 = nn.Tanh()

        def forward(self, x):
            self.act(self.a(x))
            return self.act2(self.b(x))

    cfg = digits_cfg(**{"probes.every": 2, "network.enabled": False})  # the network view draws MLPs and CNNs
    t = build_trainer(cfg)
    t.model = Odd()
    t.params = [p for p in t.model.parameters()]  # the trainer takes new parameters for a new model
    t.optimizer = torch.optim.SGD(t.params, lr=0.1)
    t.run(max_steps=4)
    hook = next(h for h in t.hooks if isinstance(h, ProbeHook))
    assert [s.step for s in hook.snapshots] == [0, 2, 4]
    assert hook.latest.act.count[0] == 0 and hook.latest.act.count[1] > 0


def test_probe_events_schedule_export_and_summary(tmp_path):
    ch = EventChannel(10_000)
    cfg = digits_cfg(**{"probes.every": 7, "model.activation": "prelu", "model.hidden": [12, 8]})
    t = build_trainer(cfg, emit=ch.put)
    t.run(max_steps=21)
    snaps = [e for e in ch.drain() if isinstance(e, ProbeSnapshot)]
    assert [s.step for s in snaps] == [0, 7, 14, 21]
    first, last = snaps[0], snaps[-1]
    assert first.act.hist.shape == (2, cfg.probes.bins)
    assert first.act.hist[0].sum() == cfg.probes.batch_size * 12  # probe batch × units
    assert np.isnan(first.grad.norm).all() and np.isfinite(last.grad.norm).all()
    assert np.isfinite(last.agrad.norm).all() and (last.update_ratio > 0).all()
    assert last.prelu_slope[0] != pytest.approx(0.25, abs=1e-9)  # learned
    rec = record_of(t)
    assert rec.arrays["probes/steps"].tolist() == [0, 7, 14, 21]
    assert rec.arrays["probes/act/hist"].shape == (4, 2, cfg.probes.bins)
    from engine.session import load_session, save_session
    from engine.session.record import Session

    path = tmp_path / "s.descent"
    save_session(Session(runs=[rec]), path)
    back = load_session(path).runs[0]
    s1, s2 = summarize_probes(rec), summarize_probes(back)
    assert s1 == s2
    acts = s1["probes"]["activations"]
    assert [a["kind"] for a in acts] == ["prelu", "prelu"]
    assert len(acts[0]["std"]) == 4 and acts[0]["grad_norm"][0] is None and acts[0]["grad_norm"][1] > 0
    assert len(s1["probes"]["weights"]) == 3 and len(s1["probes"]["weights"][0]["update_ratio"]) == 4


def test_snapshot_count_is_bounded():
    cfg = digits_cfg(**{"probes.every": 1, "probes.max_snapshots": 10, "model.hidden": [8]})
    t = build_trainer(cfg)
    t.run(max_steps=60)
    hook = next(h for h in t.hooks if isinstance(h, ProbeHook))
    assert len(hook.snapshots) <= 11 and hook.every >= 4
    steps = [s.step for s in hook.snapshots]
    assert steps[0] == 0 and steps == sorted(steps)


def test_probes_off_means_no_probe_hook():
    t = build_trainer(digits_cfg(**{"probes.enabled": False}))
    assert not any(isinstance(h, ProbeHook) for h in t.hooks)


def test_info_json_has_per_layer_probe_stats_diagnostics_and_metrics(tmp_path):
    import json

    from engine.commands.info import describe
    from engine.session import load_session, save_session
    from engine.session.record import Session

    t = build_trainer(
        digits_cfg(
            **{"probes.every": 10, "metrics.enabled": True, "diagnostics.enabled": True, "model.hidden": [16, 16]}
        )
    )
    t.run()
    path = tmp_path / "r.descent"
    save_session(Session(runs=[record_of(t, "r")]), path)
    info = json.loads(json.dumps(describe(load_session(path))))  # strict JSON round trip
    run = info["runs"][0]
    probes = run["probes"]
    assert probes["steps"] == [0, 10, 20, 23]
    assert [a["layer"] for a in probes["activations"]] == ["relu 1", "relu 2"]
    for a in probes["activations"]:
        assert len(a["mean"]) == len(a["std"]) == len(a["dead"]) == 4 and all(v >= 0 for v in a["std"])
        assert a["grad_norm"][0] is None and a["grad_norm"][1] > 0
    assert run["diagnostics"][0]["kind"] == "initial_loss"
    assert run["classification"]["epochs"] == [1] and 0 <= run["classification"]["accuracy"][0] <= 1


def test_activation_curves_and_saturated_regions():
    from engine.probes.activation_curves import activation_curve, saturated_regions, zero_gradient_regions

    x = np.linspace(-6, 6, 121)
    f, df = activation_curve("sigmoid", x)
    s = 1 / (1 + np.exp(-x))
    assert np.allclose(f, s) and np.allclose(df, s * (1 - s))
    f, df = activation_curve("tanh", x)
    assert np.allclose(df, 1 - np.tanh(x) ** 2)
    f, df = activation_curve("leaky_relu", x, slope=0.2)
    assert np.allclose(f, np.where(x > 0, x, 0.2 * x)) and np.allclose(df[x < 0], 0.2) and np.allclose(df[x > 0], 1)
    f, df = activation_curve("prelu", x, slope=0.25)
    assert np.allclose(df[x < 0], 0.25)
    (lo, a), (b, hi) = saturated_regions("sigmoid")
    assert 1 / (1 + np.exp(-b)) == pytest.approx(0.99) and a == -b
    (_, a), (b, _) = saturated_regions("tanh")
    assert np.tanh(b) == pytest.approx(0.98)
    # Inside the shaded regions f′ is below 4% of its peak: learning stalls there.
    (_, _), (bs, _) = saturated_regions("sigmoid")
    assert activation_curve("sigmoid", np.array([bs + 0.01]))[1][0] < 0.04 * 0.25
    assert activation_curve("tanh", np.array([b + 0.01]))[1][0] < 0.04
    assert saturated_regions("relu") == [] and zero_gradient_regions("relu") == [(-math.inf, 0.0)]
    with pytest.raises(ValueError, match="unknown activation"):
        activation_curve("swish2", x)
    with pytest.raises(ValueError, match="slope"):
        activation_curve("leaky_relu", x, slope=2.0)


@pytest.mark.usefixtures("probe_path")
def test_huge_values_near_float32_limits_are_binned():
    # A diverging run's weights: values near float32's limits must not break the histogram.
    x = torch.tensor([-3.0e38, -1.0, 0.0, 2.0, 3.0e38])
    s = summarize([x], [GrowingRange()], 8)
    assert s.hist[0].sum() == 5 and s.hist[0][0] >= 1 and s.hist[0][-1] >= 1
