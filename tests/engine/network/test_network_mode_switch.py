"""The network view's pass skips the eval/train switch only where eval mode computes the same:
the pictures come out identical, and a model with dropout still gets its eval-mode pictures."""

from __future__ import annotations

import numpy as np
import torch

from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.network import NetworkViewHook, network_pictures

FAST = {
    "device": "cpu",
    "train.threads": 1,
    "data.name": "digits",
    "model.hidden": [12, 10],
    "probes.enabled": False,
    "metrics.enabled": False,
    "diagnostics.enabled": False,
    "landscape.snapshots": False,
    "landscape.sharpness_every": 0,
}


def _hook(**updates):
    t = build_trainer(ExperimentConfig().with_updates(FAST | updates), emit=lambda e: None)
    t.run(max_steps=3)
    return t, next(h for h in t.hooks if isinstance(h, NetworkViewHook))


def test_a_plain_mlp_skips_the_switch_with_the_same_pictures_and_per_class_means():
    t, hook = _hook()
    assert hook.switch_mode is False and hook.layout is not None and hook.layout.y is not None
    fast = network_pictures(t.model, "relu", hook.layout, 64, switch=False)
    slow = network_pictures(t.model, "relu", hook.layout, 64, switch=True)
    assert t.model.training  # left in training mode either way
    for a, b in zip(fast, slow):
        assert np.array_equal(a.pictures, b.pictures) and np.array_equal(a.weights, b.weights)
    # Per-class means of the output probabilities: against a direct computation.
    x, y = hook.layout.x, hook.layout.y
    with torch.no_grad():
        probs = torch.softmax(t.model(x), 1)
    want = np.stack([probs[y == c].mean(0).numpy() for c in range(10)], axis=1)
    np.testing.assert_allclose(fast[-1].pictures, want, rtol=1e-5, atol=1e-7)


def test_dropout_keeps_the_switch_and_the_pictures_are_deterministic():
    t, hook = _hook(**{"model.dropout": 0.5})
    assert hook.switch_mode is True
    a = network_pictures(t.model, "relu", hook.layout, 64, switch=hook.switch_mode)
    b = network_pictures(t.model, "relu", hook.layout, 64, switch=hook.switch_mode)
    assert all(np.array_equal(p.pictures, q.pictures) for p, q in zip(a, b)) and t.model.training
