"""TensorFlow Playground's input features of the 2D sets, and the data's own seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import ConfigError, ExperimentConfig
from engine.data import load_data
from engine.experiment import build_trainer

FAST = {
    "device": "cpu",
    "train.threads": 1,
    "probes.enabled": False,
    "metrics.enabled": False,
    "diagnostics.enabled": False,
    "landscape.snapshots": False,
    "landscape.sharpness_every": 0,
    "network.enabled": False,
}


def test_features_are_computed_from_the_plane_before_preprocessing_and_the_plane_maps_to_them():
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "spiral",
            "data.features": "x1,x2,x1_sq,x2_sq,x1x2,sin_x1,sin_x2",
            "data.preprocess": "standardize",
        }
    )
    d = load_data(cfg)
    assert d.input_shape == (7,) and d.feature_names == list(cfg.data.features)
    p = d.plane
    assert p is not None and p.x_train.shape == (len(d.x_train), 2)
    x1, x2 = p.x_train[:, 0], p.x_train[:, 1]
    raw = np.stack([x1, x2, x1**2, x2**2, x1 * x2, np.sin(x1), np.sin(x2)], 1)
    want = (raw - raw.mean(0)) / raw.std(0, ddof=1)
    np.testing.assert_allclose(d.x_train.numpy(), want, atol=1e-5)
    np.testing.assert_allclose(
        p.inputs(torch.as_tensor(p.x_val, dtype=torch.float32)).numpy(), d.x_val.numpy(), atol=1e-5
    )
    # the default features (x1, x2) without preprocessing keep the data exactly as generated
    plain = load_data(ExperimentConfig().with_updates({"data.name": "spiral", "data.preprocess": "none"}))
    np.testing.assert_array_equal(plain.x_train.numpy(), plain.plane.x_train.astype(np.float32))


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "at least one input feature"), ("x1,x1", "x1 is listed twice"), ("x3", "'x3' is not one of")],
)
def test_bad_features_are_refused_with_a_message_naming_the_field(value, message):
    with pytest.raises(ConfigError, match=message) as e:
        ExperimentConfig().with_updates({"data.features": value})
    assert str(e.value).startswith("data.features")


def _val_acc(features: str) -> float:
    cfg = ExperimentConfig().with_updates(
        {**FAST, "data.name": "xor", "data.n_samples": 400, "data.features": features, "model.hidden": []}
    )
    cfg = cfg.with_updates({"train.epochs": 25, "optim.lr": 0.1, "train.batch_size": 32})
    t = build_trainer(cfg)
    t.run()
    return t.final_metrics()["val_acc"]


def test_x1x2_alone_lets_a_linear_model_solve_xor_and_the_plain_plane_does_not():
    assert _val_acc("x1x2") > 0.95
    assert _val_acc("x1,x2") < 0.7


def test_a_new_data_seed_draws_new_points_and_keeps_the_models_init():
    cfg = ExperimentConfig().with_updates({**FAST, "data.name": "moons", "data.n_samples": 200, "seed": 3})
    a, b = build_trainer(cfg), build_trainer(cfg.with_updates({"data.seed": 11}))
    assert cfg.data.sample_seed(cfg.seed) == 3
    assert not np.allclose(a.data.plane.x_train, b.data.plane.x_train)
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    # data.seed = the run's seed reproduces the default sample
    c = build_trainer(cfg.with_updates({"data.seed": 3}))
    np.testing.assert_array_equal(a.data.x_train.numpy(), c.data.x_train.numpy())
