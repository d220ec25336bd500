"""Gradient noise: minibatch gradients against the full-batch gradient of a fixed subset,
per layer and batch size; opt-in, saved in sessions, off by default."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.config import ExperimentConfig
from engine.experiment import build_trainer, enabled_features
from engine.gradnoise import GradientNoiseSnapshot, gradient_noise
from engine.gradnoise.snapshot import from_record
from engine.session import load_session, record_of, save_session
from engine.session.record import Session


def test_relative_variance_falls_as_one_over_b_and_the_cosine_rises():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    x, y = torch.randn(1024, 5), torch.randint(0, 3, (1024,))
    sizes, rel, cos = gradient_noise(model, x, y, [4, 16, 64, 2048], 32, torch.Generator().manual_seed(1))
    assert sizes == [4, 16, 64]  # 2048 > N: left out
    assert rel.shape == cos.shape == (3, 2)
    # sampling theory: E‖g_B − G‖² ∝ (1/B)(1 − B/N): ×4 the batch, about ÷4 the variance
    ratio = rel[0] / rel[1]
    expect = (1 / 4 * (1 - 4 / 1024)) / (1 / 16 * (1 - 16 / 1024))
    assert np.all(np.abs(ratio / expect - 1) < 0.35), ratio
    assert np.all(np.diff(cos, axis=0) > 0) and np.all(cos[-1] > cos[0] + 0.2)
    # an independent check of one value: the variance of the full set's own gradient is 0
    _, rel_n, cos_n = gradient_noise(model, x[:64], y[:64], [64], 2, torch.Generator())
    assert np.allclose(rel_n, 0, atol=1e-10) and np.allclose(cos_n, 1)


def test_off_by_default_and_saved_in_sessions_when_on(tmp_path):
    base = {"data.name": "moons", "device": "cpu", "train.threads": 1, "train.epochs": 2, "data.n_samples": 200}
    cfg = ExperimentConfig().with_updates(base)
    t = build_trainer(cfg)
    assert "gradient_noise" not in [f.name for f in enabled_features(cfg, t.data)]
    on = cfg.with_updates(
        {"probes.gradient_noise": True, "probes.gradient_noise_every": 3, "probes.gradient_noise_batch_sizes": [4, 32]}
    )
    events: list = []
    t = build_trainer(on, emit=events.append)
    t.run()
    snaps = [e for e in events if isinstance(e, GradientNoiseSnapshot)]
    assert [s.step for s in snaps] == [0, 3, 6] and snaps[0].batch_sizes == (4, 32)
    assert snaps[0].layers == ("dense 1 (32×2)", "dense 2 (32×32)", "dense 3 (2×32)")
    assert np.all(snaps[0].rel_var[0] > snaps[0].rel_var[1])  # B = 4 noisier than B = 32
    save_session(Session(runs=[record_of(t)]), tmp_path / "g.descent")
    saved = from_record(load_session(tmp_path / "g.descent").runs[0])
    assert saved == [GradientNoiseSnapshot("run", *tuple(vars(s).values())[1:]) for s in snaps]


def test_an_older_session_has_no_measurements_and_keeps_the_meaning_of_its_config():
    from pathlib import Path

    old = load_session(Path(__file__).parents[2] / "fixtures" / "format2_main.descent")
    rec = old.runs[0]
    assert from_record(rec) == []
    # written when 'auto' left the 2D sets raw and the output layer had the hidden layers' init
    assert rec.config.data.name == "spiral" and rec.config.data.preprocess == "none"  # saved as "auto"
    assert rec.config.model.output_init == "same"


def test_expected_noise_equals_the_mean_over_every_possible_minibatch():
    from itertools import combinations

    from engine.gradnoise.measure import expected_noise

    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 3))
    x, y = torch.randn(9, 3), torch.randint(0, 3, (9,))
    exact = expected_noise(model, x, y, [1, 2, 4, 9])
    params = [model[0].weight, model[2].weight]

    def grads(idx: list[int]) -> list[torch.Tensor]:
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        return [g.double() for g in torch.autograd.grad(loss, params)]

    full = grads(list(range(9)))
    for i, b in enumerate([1, 2, 4]):  # all 9, 36 and 126 minibatches drawn without replacement
        devs = [[(g - f).square().sum() for g, f in zip(grads(list(c)), full)] for c in combinations(range(9), b)]
        brute = np.array(devs).mean(0) / np.array([f.square().sum() for f in full])
        assert np.allclose(exact[i], brute, rtol=1e-6), (b, exact[i], brute)
    assert np.allclose(exact[3], 0)  # B = N: the minibatch is the whole subset
    assert model.training  # left as it was
