"""Batch norm (train vs eval), dropout (inverted scaling) and the CNN builder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.config import ExperimentConfig, ModelConfig
from engine.model import build_model


def _mlp(**kw) -> nn.Module:
    cfg = ModelConfig(hidden=[16, 16], **kw)
    return build_model(cfg, 4, 3, seed=0)


@pytest.mark.parametrize("place", ["before", "after"])
def test_batchnorm_placement(place):
    m = _mlp(batch_norm=place, bn_momentum=0.3, bn_eps=1e-3)
    kinds = [type(x).__name__ for x in m]
    assert kinds.count("BatchNorm1d") == 2
    i = kinds.index("BatchNorm1d")
    assert kinds[i - 1] == ("Linear" if place == "before" else "ReLU")
    bn = m.batchnorm_layers()[0]
    assert bn.momentum == 0.3 and bn.eps == 1e-3
    assert "BatchNorm1d" not in [type(x).__name__ for x in _mlp()]


def test_batchnorm_eval_uses_running_statistics_train_uses_the_batch():
    torch.manual_seed(0)
    m = _mlp(batch_norm="before")
    for _ in range(20):  # collect running estimates
        m(torch.randn(64, 4) * 2 + 1)
    x = torch.randn(8, 4)
    others_a, others_b = torch.randn(24, 4) * 5, torch.randn(24, 4) - 3
    m.eval()
    with torch.no_grad():
        ya = m(torch.cat([x, others_a]))[:8]
        yb = m(torch.cat([x, others_b]))[:8]
    assert torch.allclose(ya, yb, atol=1e-6)  # eval: independent of the rest of the batch
    bn = m.batchnorm_layers()[0]
    rm = bn.running_mean.clone()
    m.train()
    with torch.no_grad():
        ta = m(torch.cat([x, others_a]))[:8]
        tb = m(torch.cat([x, others_b]))[:8]
    # train: batch statistics change the output by a large part of its scale
    assert (ta - tb).abs().max() > 0.3 * ya.abs().max()
    assert not torch.equal(bn.running_mean, rm)  # and the running estimates move


def test_batchnorm_running_mean_follows_momentum():
    m = _mlp(batch_norm="before", bn_momentum=0.5)
    bn = m.batchnorm_layers()[0]
    x = torch.randn(256, 4)
    with torch.no_grad():
        z = m[1](m[0](x))  # Flatten → Linear: the BN's input
        m[2](z)  # one training-mode BN call
    # one update with momentum 0.5 from the initial (0, 1): running = 0.5·old + 0.5·batch
    assert torch.allclose(bn.running_mean, 0.5 * z.mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, 0.5 + 0.5 * z.var(0, unbiased=True), atol=1e-4)


def test_dropout_keeps_expected_activation_and_eval_is_deterministic():
    p = 0.4
    m = _mlp(dropout=p, activation="sigmoid")
    drops = [x for x in m if isinstance(x, nn.Dropout)]
    assert len(drops) == 2 and drops[0].p == p
    x = torch.randn(1, 4).expand(20000, 4)
    first = nn.Sequential(*list(m)[0:4])  # Flatten → Linear → sigmoid → dropout
    act = nn.Sequential(*list(m)[0:3])
    m.train()
    with torch.no_grad():
        h = first(x)  # Linear → sigmoid → dropout, 20000 independent masks
        ref = act(x[:1])
    zero_frac = float((h == 0).float().mean())
    assert abs(zero_frac - p) < 0.02
    kept = h[h != 0].reshape(-1)
    assert torch.allclose(kept.max(), (ref / (1 - p)).max(), rtol=1e-5)  # inverted scaling 1/(1-p)
    assert torch.allclose(h.mean(0), ref[0], rtol=0.05, atol=0.01)  # E[mask·h/(1-p)] = h
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(x[:5]), m(x[:5]))
        assert torch.allclose(first(x[:1]), ref)  # eval: dropout is identity


def test_cnn_builds_for_images_and_refuses_vectors():
    cfg = ModelConfig(arch="cnn", conv_channels=[4, 8], hidden=[16], batch_norm="after", dropout=0.1)
    m = build_model(cfg, 64, 10, seed=0, input_shape=(1, 8, 8))
    assert sum(isinstance(x, nn.Conv2d) for x in m) == 2
    assert sum(isinstance(x, nn.BatchNorm2d) for x in m) == 2 and sum(isinstance(x, nn.BatchNorm1d) for x in m) == 1
    m2 = build_model(cfg, 64, 10, seed=0, input_shape=(1, 8, 8))
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values()))
    out = m(torch.rand(5, 64))
    assert out.shape == (5, 10)
    with pytest.raises(ValueError, match="model.arch=cnn needs image data"):
        build_model(cfg, 2, 3, seed=0, input_shape=(2,))


def test_cnn_trains_on_digits():
    from engine.train import Trainer

    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "model.arch": "cnn",
            "model.conv_channels": [8],
            "model.hidden": [32],
            "train.epochs": 3,
            "device": "cpu",
            "optim.lr": 0.01,
            "train.threads": 1,
        }
    )
    t = Trainer(cfg, hooks=[])
    assert t.run() == "finished"
    assert t.final_metrics()["val_acc"] > 0.85


def test_dropout_masks_are_seeded_and_resumable():
    from engine.model.mlp import dropout_rng_states, set_dropout_rng_states

    x = torch.randn(64, 4)
    a, b = _mlp(dropout=0.5), _mlp(dropout=0.5)
    a.train(), b.train()
    assert torch.equal(a(x), b(x))  # same seed, same masks
    states = dropout_rng_states(a)
    assert len(states) == 2 and all(s is not None for s in states)
    nxt = a(x)
    assert not torch.equal(nxt, a(x))  # the sequence moves on
    c = _mlp(dropout=0.5)
    c.train()
    set_dropout_rng_states(c, states)
    assert torch.equal(c(x), nxt)  # resumed exactly where a was
