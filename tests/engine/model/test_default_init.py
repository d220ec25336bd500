"""The default init starts every shipped data set near uniform predictions (loss ≈ ln C)."""

from __future__ import annotations

import math

import pytest
import torch

from engine.config import ExperimentConfig
from engine.data import load_data
from engine.diagnostics import initial_loss
from engine.model import build_model

SHIPPED = ("spiral", "moons", "circles", "xor", "blobs", "digits", "breast_cancer", "wine", "iris")


def _ratio(updates: dict) -> float:
    cfg = ExperimentConfig().with_updates(updates)
    d = load_data(cfg)
    m = build_model(cfg.model, d.n_features, d.n_classes, cfg.seed, input_shape=d.input_shape)
    return initial_loss(m, d.x_train, d.y_train) / math.log(d.n_classes)


@pytest.mark.parametrize("name", SHIPPED)
def test_default_initial_loss_is_within_10_percent_of_ln_c_for_5_seeds(name):
    ratios = [_ratio({"data.name": name, "seed": s}) for s in range(5)]
    assert all(abs(r - 1.0) < 0.10 for r in ratios), ratios


def test_the_old_init_on_raw_blobs_was_far_from_ln_c():
    # ReLU gain in the output layer and unstandardized 2D data: what the defaults fix
    old = {"data.name": "blobs", "data.preprocess": "none", "model.output_init": "same"}
    ratios = [_ratio({**old, "seed": s}) for s in range(3)]
    assert max(ratios) > 1.5, ratios


def test_auto_standardizes_the_2d_sets():
    d = load_data(ExperimentConfig().with_updates({"data.name": "blobs"}))
    assert d.preprocess == "standardize"
    sd = d.x_train.std(0)
    assert torch.allclose(d.x_train.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(sd, torch.ones(2), atol=1e-2)


def test_bias_init_sets_the_hidden_biases_and_leaves_the_output_bias_at_zero():
    cfg = ExperimentConfig().with_updates({"model.bias_init": -0.5, "model.hidden": [8, 8]})
    m = build_model(cfg.model, 2, 3, 0)
    lin = m.linear_layers()
    assert all(torch.all(layer.bias == -0.5) for layer in lin[:-1])
    assert torch.all(lin[-1].bias == 0)


def test_output_layer_is_small_unless_same_and_zeros_apply_everywhere():
    base = ExperimentConfig().with_updates({"model.hidden": [64]})

    def output_weight(**update):
        return build_model(base.model.model_copy(update=update), 64, 10, 0).linear_layers()[-1].weight.detach()

    small, same = output_weight(), output_weight(output_init="same")
    assert 0.02 < float(small.std()) * math.sqrt(64) < 0.04  # 0.03/√fan_in
    assert 1.2 < float(same.std()) * math.sqrt(64) < 1.6  # Kaiming's ReLU gain √2
    zeros = output_weight(init="zeros")
    assert torch.all(zeros == 0)  # a random output layer would break the symmetry zero init shows
