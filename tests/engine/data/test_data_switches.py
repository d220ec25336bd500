"""Every switch this feature adds changes the run (no dead fields in the panel)."""

from __future__ import annotations

import pytest
import torch

from engine.config import ExperimentConfig
from engine.experiment import build_trainer

BASE = {
    "data.name": "digits",
    "model.hidden": [16],
    "train.batch_size": 32,
    "device": "cpu",
    "train.threads": 1,
    "train.val_fraction": 0.5,
}

# (context both runs share, the key changed, its new value)
CASES = [
    ({"data.name": "moons"}, "data.preprocess", "none"),  # auto standardizes the 2D sets
    ({"data.preprocess": "pca_whiten"}, "data.whiten_eps", 0.01),
    ({}, "data.preprocess", "zca_whiten"),
    ({}, "data.test_fraction", 0.2),
    ({}, "model.arch", "cnn"),
    ({"model.arch": "cnn"}, "model.conv_channels", [4, 4]),
    ({}, "model.batch_norm", "before"),
    ({"model.batch_norm": "before"}, "model.batch_norm", "after"),
    ({"model.batch_norm": "before"}, "model.bn_momentum", 0.5),
    ({"model.batch_norm": "before"}, "model.bn_eps", 0.5),
    ({}, "model.dropout", 0.3),
    ({}, "model.bias_init", -0.5),
    ({}, "model.output_init", "same"),
    ({}, "model.activation_layers", ["tanh"]),
    ({}, "model.dropout_layers", [0.3]),
    ({"model.dropout": 0.3}, "model.dropout_layers", [0.6]),
    ({}, "model.batch_norm_layers", ["after"]),
    ({"model.batch_norm": "before"}, "model.batch_norm_layers", ["off"]),
    ({"model.arch": "cnn", "model.conv_channels": [4]}, "model.dropout_layers", [0.5]),
    ({"model.arch": "cnn", "model.conv_channels": [4]}, "model.batch_norm_layers", ["before"]),
    ({}, "reg.l2", 0.1),
    ({}, "reg.l1", 0.01),
    ({}, "augment.hflip_p", 1.0),
    ({}, "augment.crop_p", 1.0),
    ({"augment.crop_p": 1.0}, "augment.crop_padding", 3),
    ({}, "augment.affine_p", 1.0),
    ({"augment.affine_p": 1.0}, "augment.rotate_degrees", 90.0),
    ({"augment.affine_p": 1.0}, "augment.scale", 0.4),
    ({}, "augment.jitter_p", 1.0),
    ({"augment.jitter_p": 1.0}, "augment.brightness", 0.8),
    ({"augment.jitter_p": 1.0}, "augment.contrast", 0.8),
    ({}, "augment.noise_p", 1.0),
    ({"augment.noise_p": 1.0}, "augment.noise_std", 0.5),
]


def _after_steps(cfg: ExperimentConfig) -> dict[str, torch.Tensor]:
    t = build_trainer(cfg)
    t.run(max_steps=3)
    return {k: v.detach().clone() for k, v in t.model.state_dict().items()} | {"_x": t.data.x_train[:5].clone()}


@pytest.mark.parametrize("context,key,value", CASES, ids=[c[1] + "=" + str(c[2]) for c in CASES])
def test_switch_changes_the_run(context, key, value):
    a = ExperimentConfig().with_updates({**BASE, **context})
    b = a.with_updates({key: value})
    sa, sb = _after_steps(a), _after_steps(b)
    differs = sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape or not torch.equal(sa[k], sb[k]) for k in sa)
    assert differs, f"{key}={value} left the model and data unchanged"


def test_early_stopping_switches_reach_the_hook():
    from engine.regularization import EarlyStoppingHook

    cfg = ExperimentConfig().with_updates(
        {**BASE, "reg.early_stopping": True, "reg.patience": 7, "reg.min_delta": 0.01}
    )
    hook = next(h for h in build_trainer(cfg).hooks if isinstance(h, EarlyStoppingHook))
    assert (hook.patience, hook.min_delta) == (7, 0.01)
    assert not any(
        isinstance(h, EarlyStoppingHook) for h in build_trainer(cfg.with_updates({"reg.early_stopping": False})).hooks
    )


def test_the_comparison_can_fail_same_config_same_run():
    cfg = ExperimentConfig().with_updates(
        {**BASE, "augment.hflip_p": 0.5, "model.dropout": 0.3, "model.batch_norm": "after"}
    )
    sa, sb = _after_steps(cfg), _after_steps(cfg)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
