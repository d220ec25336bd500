"""Augmentation: shapes, labels and value ranges kept; seeded; training batches only."""

from __future__ import annotations

import pytest
import torch

from engine.augment import Augmenter, build_augmenter
from engine.config import AugmentConfig, ExperimentConfig
from engine.data import load_data
from engine.train import Trainer
from engine.train.hooks import TrainerHook

ALL_ON = dict(
    hflip_p=0.5,
    crop_p=0.5,
    crop_padding=2,
    affine_p=0.5,
    rotate_degrees=30,
    scale=0.2,
    jitter_p=0.5,
    brightness=0.3,
    contrast=0.3,
    noise_p=0.5,
    noise_std=0.1,
)


@pytest.fixture(scope="module")
def digits():
    return load_data(ExperimentConfig().with_updates({"data.name": "digits"}))


def test_off_means_no_augmenter():
    assert build_augmenter(AugmentConfig(), (1, 8, 8), (0, 1), "cpu", 0) is None


def test_shapes_ranges_and_seed(digits):
    x = digits.x_train[:128]
    a = Augmenter(AugmentConfig(**ALL_ON), digits.input_shape, digits.value_range, "cpu", seed=3)
    y1 = a(x)
    assert y1.shape == x.shape and y1.dtype == x.dtype
    assert float(y1.min()) >= 0.0 and float(y1.max()) <= 1.0
    changed = (y1 - x).abs().amax(1) > 1e-6
    assert 0.6 < float(changed.float().mean()) < 1.0  # each op p=0.5: 1-0.5^5 ≈ 0.97 of samples change
    y2 = a(x)
    assert not torch.equal(y1, y2)  # the next batch draws new parameters
    b = Augmenter(AugmentConfig(**ALL_ON), digits.input_shape, digits.value_range, "cpu", seed=3)
    assert torch.equal(b(x), y1) and torch.equal(b(x), y2)  # same seed, same sequence
    c = Augmenter(AugmentConfig(**ALL_ON), digits.input_shape, digits.value_range, "cpu", seed=4)
    assert not torch.equal(c(x), y1)


def test_flip_and_crop_are_exact(digits):
    x = digits.x_train[:16]
    img = x.reshape(16, 1, 8, 8)
    a = Augmenter(AugmentConfig(hflip_p=1.0), (1, 8, 8), (0, 1))
    assert torch.equal(a(x).reshape(16, 1, 8, 8), img.flip(-1))
    a = Augmenter(AugmentConfig(crop_p=1.0, crop_padding=1), (1, 8, 8), (0, 1), seed=1)
    y = a(x).reshape(16, 1, 8, 8)
    # Every output is the input shifted by at most one pixel each way (zero fill).
    padded = torch.nn.functional.pad(img, (1, 1, 1, 1))
    for i in range(16):
        assert any(
            torch.equal(y[i, 0], padded[i, 0, 1 + dy : 9 + dy, 1 + dx : 9 + dx])
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        )


def test_preview_is_seeded_and_leaves_the_training_stream_alone(digits):
    a = Augmenter(AugmentConfig(**ALL_ON), digits.input_shape, digits.value_range, seed=0)
    x = digits.x_train[:6]
    before = a.generator.get_state()
    p1, p2 = a.preview(x, 4, seed=9), a.preview(x, 4, seed=9)
    assert p1.shape == (4, 6, 64) and torch.equal(p1, p2)
    assert torch.equal(a.generator.get_state(), before)


class _Seen(TrainerHook):
    def __init__(self):
        self.batches = []

    def before_step(self, trainer, xb, yb):
        self.batches.append((xb.clone(), yb.clone(), trainer.last_batch_indices.clone()))


def test_trainer_augments_training_batches_only():
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "augment.hflip_p": 1.0,
            "train.epochs": 1,
            "device": "cpu",
            "train.threads": 1,
            "model.hidden": [16],
        }
    )
    seen = _Seen()
    t = Trainer(cfg, hooks=[seen])
    clean = load_data(cfg)
    t.run(max_steps=3)
    for xb, yb, idx in seen.batches:
        raw = t.data.x_train[idx]
        assert torch.equal(xb, raw.reshape(-1, 1, 8, 8).flip(-1).reshape(-1, 64))  # augmented
        assert torch.equal(yb, t.data.y_train[idx])  # labels kept
    assert torch.equal(t.data.x_train, clean.x_train)  # the stored data are never modified
    assert torch.equal(t.data.x_val, clean.x_val)
    # evaluation sees the clean validation set: same loss as a model evaluated by hand
    with torch.no_grad():
        t.model.eval()
        ref = torch.nn.functional.cross_entropy(t.model(clean.x_val), clean.y_val).item()
    assert t.evaluate(t.data.x_val, t.data.y_val)[0] == pytest.approx(ref, rel=1e-5)


def test_image_only_steps_are_ignored_with_a_notice_on_2d_data():
    from engine.events import Notice

    got = []
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "moons",
            "augment.hflip_p": 0.5,
            "augment.noise_p": 1.0,
            "augment.noise_std": 0.1,
            "device": "cpu",
        }
    )
    t = Trainer(cfg, emit=got.append, hooks=[])
    assert any(isinstance(e, Notice) and "hflip_p" in e.message and "image data" in e.message for e in got)
    x = t.data.x_train[:50]
    y = t.augment(x)
    assert y.shape == x.shape and 0.0 < float((y - x).std()) < 0.5
