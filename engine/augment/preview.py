"""The augmentation preview: a few training images and seeded augmented versions of them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.augment.pipeline import Augmenter, is_active
from engine.config import ExperimentConfig
from engine.data import load_data


@dataclass
class AugmentPreview:
    originals: np.ndarray  # (n, C, H, W)
    augmented: np.ndarray  # (variants, n, C, H, W)
    labels: list[str]
    value_range: tuple[float, float]
    active: bool  # False when every probability is 0 (copies are the originals)


def one_per_class(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of up to n samples, cycling through the classes (first of each class first)."""
    order: list[int] = []
    by_class = [list(np.flatnonzero(y == k)) for k in np.unique(y)]
    while len(order) < n and any(by_class):
        for idx in by_class:
            if idx and len(order) < n:
                order.append(int(idx.pop(0)))
    return np.asarray(order, dtype=np.int64)


def make_preview(config: ExperimentConfig, n: int = 8, variants: int = 4, seed: int = 0) -> AugmentPreview:
    """Augment n training images `variants` times with the config's pipeline (on the CPU)."""
    data = load_data(config)
    if not data.is_image:
        raise ValueError(
            f"augmentation previews need image data (digits, an image folder, an NPZ of images); "
            f"'{config.data.name}' has samples of shape {data.input_shape}"
        )
    idx = one_per_class(data.y_train.numpy(), n)
    x = data.x_train[torch.as_tensor(idx)]
    aug = Augmenter(config.augment, data.input_shape, data.value_range, "cpu", seed)
    out = aug.preview(x, variants, seed)
    shape = (len(idx), *data.input_shape)
    return AugmentPreview(
        x.numpy().reshape(shape),
        out.numpy().reshape(variants, *shape),
        [data.class_names[int(k)] for k in data.y_train[torch.as_tensor(idx)]],
        data.value_range,
        is_active(config.augment),
    )


def mosaic(p: AugmentPreview, gap: int = 1) -> np.ndarray:
    """(rows·(H+gap), cols·(W+gap), 3) uint8: originals in the first row, variants below."""
    rows = np.concatenate([p.originals[None], p.augmented])  # (R, n, C, H, W)
    R, n, C, H, W = rows.shape
    lo, hi = p.value_range
    v = np.clip((rows - lo) / max(hi - lo, 1e-12), 0, 1)
    img = np.repeat(v, 3, axis=2) if C == 1 else v[:, :, :3]
    sep = max(gap, H // 3)  # a wider band separates the originals from the copies
    out = np.full((R * (H + gap) + gap + sep, n * (W + gap) + gap, 3), 0.55)
    for r in range(R):
        for c in range(n):
            y0, x0 = gap + r * (H + gap) + (sep if r else 0), gap + c * (W + gap)
            out[y0 : y0 + H, x0 : x0 + W] = img[r, c].transpose(1, 2, 0)
    return (out * 255).astype(np.uint8)
