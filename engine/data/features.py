"""Input features of the 2D data sets, as in TensorFlow Playground: x₁, x₂, x₁², x₂², x₁x₂,
sin x₁, sin x₂ of the point's plane coordinates.

They are computed after generation and before preprocessing (so a saved config rebuilds
them), and the plane itself is kept: the decision boundary and the network view draw over
the (x₁, x₂) plane and map each grid point to the model's inputs with `PlaneMap.inputs`
(features, then the fitted preprocessing), in torch on the run's device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.config import INPUT_FEATURES as FEATURES  # the names data.features takes, in display order
from engine.data.feature_names import LABELS

__all__ = [
    "DEFAULT",
    "FEATURES",
    "LABELS",
    "PlaneMap",
    "affine_of",
    "expand",
    "expand_torch",
    "grid_points",
    "is_identity",
    "plane_extent",
    "plane_grid",
]
DEFAULT: tuple[str, ...] = ("x1", "x2")


def _columns(x1, x2, names: Sequence[str], sin, stack):
    cols = {
        "x1": lambda: x1,
        "x2": lambda: x2,
        "x1_sq": lambda: x1 * x1,
        "x2_sq": lambda: x2 * x2,
        "x1x2": lambda: x1 * x2,
        "sin_x1": lambda: sin(x1),
        "sin_x2": lambda: sin(x2),
    }
    return stack([cols[n]() for n in names])


def expand(points: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(N, 2) plane points → (N, F) features, in the order of `names`."""
    p = np.asarray(points, dtype=np.float64)
    return _columns(p[:, 0], p[:, 1], names, np.sin, lambda c: np.stack(c, axis=1))


def expand_torch(points: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """The same as `expand`, for a (N, 2) tensor on any device."""
    return _columns(points[:, 0], points[:, 1], names, torch.sin, lambda c: torch.stack(c, dim=1))


def is_identity(names: Sequence[str]) -> bool:
    return tuple(names) == DEFAULT


@dataclass(frozen=True)
class PlaneMap:
    """The plane points of each split and the map from a plane point to the model's input:
    features, then the affine preprocessing (x − mean)·matrixᵀ fitted on the training split."""

    features: tuple[str, ...]
    x_train: np.ndarray  # (N, 2) plane coordinates
    x_val: np.ndarray
    mean: np.ndarray  # (F,)
    matrix: np.ndarray  # (F, F)

    @property
    def labels(self) -> list[str]:
        return [LABELS[n] for n in self.features]

    def inputs(self, points: torch.Tensor) -> torch.Tensor:
        """(N, 2) plane points → (N, F) model inputs, on the points' device and dtype."""
        x = expand_torch(points, self.features)
        mean = torch.as_tensor(self.mean, dtype=points.dtype, device=points.device)
        matrix = torch.as_tensor(self.matrix, dtype=points.dtype, device=points.device)
        return (x - mean) @ matrix.T


def affine_of(preprocessor, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, matrix) of a fitted Preprocessor as one affine map x ↦ (x − mean)·matrixᵀ."""
    kind = preprocessor.kind
    if kind == "none":
        return np.zeros(n_features), np.eye(n_features)
    if kind == "standardize":
        return np.asarray(preprocessor.mean, float), np.diag(np.asarray(preprocessor.scale, float))
    return np.asarray(preprocessor.mean, float), np.asarray(preprocessor.matrix, float)


def plane_extent(points: np.ndarray, margin: float = 0.15) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) around the points, widened by `margin` of the span on each side."""
    lo, hi = points.min(0), points.max(0)
    span = np.maximum(hi - lo, 1e-6)
    lo, hi = lo - margin * span, hi + margin * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def grid_points(extent: tuple[float, float, float, float], resolution: int) -> np.ndarray:
    """(G·G, 2) grid, row-major: row i is y_i, column j is x_j."""
    x0, x1, y0, y1 = extent
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return np.c_[gx.ravel(), gy.ravel()].astype(np.float32)


def plane_grid(
    data: Any, resolution: int, device: torch.device | str = "cpu"
) -> tuple[tuple[float, float, float, float], torch.Tensor]:
    """The extent around a 2D data set's (x1, x2) points and the model's inputs on the G×G
    grid over it (the input features and the preprocessing applied to each grid point)."""
    if data.plane is not None:
        pts = np.concatenate([data.plane.x_train, data.plane.x_val])
    else:
        pts = torch.cat([data.x_train, data.x_val]).cpu().numpy()
    extent = plane_extent(pts)
    grid = torch.as_tensor(grid_points(extent, resolution), device=device)
    return extent, grid if data.plane is None else data.plane.inputs(grid)
