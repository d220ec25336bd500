"""The 2D synthetic data sets (scikit-learn generators where they exist)."""

from __future__ import annotations

import numpy as np


def spiral(n: int, n_classes: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the classic CS231n toy set)."""
    per = np.full(n_classes, n // n_classes)
    per[: n % n_classes] += 1
    xs, ys = [], []
    for k, m in enumerate(per):
        r = np.linspace(0.05, 1.0, m)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, m)  # 4 radians of angle per arm
        t = t + rng.normal(0.0, 1.0, m) * noise
        xs.append(np.c_[r * np.sin(t), r * np.cos(t)])
        ys.append(np.full(m, k))
    return np.concatenate(xs), np.concatenate(ys)


def xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Four Gaussian clusters at the corners; opposite corners share a class."""
    centers = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float) * 0.5
    labels = np.array([0, 0, 1, 1])
    idx = rng.integers(0, 4, n)
    X = centers[idx] + rng.normal(0.0, max(noise, 1e-3), (n, 2)) * 0.5
    return X, labels[idx]


def make_2d(name: str, n: int, n_classes: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets as skd  # scikit-learn loads on first use, not with the window

    rng = np.random.default_rng(seed)
    if name == "spiral":
        return spiral(n, n_classes, noise, rng)
    if name == "moons":
        return skd.make_moons(n, noise=noise, random_state=seed)
    if name == "circles":
        return skd.make_circles(n, noise=noise, factor=0.5, random_state=seed)
    if name == "xor":
        return xor(n, noise, rng)
    if name == "blobs":
        return skd.make_blobs(n, centers=n_classes, cluster_std=0.5 + 2.0 * noise, random_state=seed)
    raise ValueError(f"unknown 2D data set '{name}'")
