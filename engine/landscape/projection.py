"""Projection of trajectory snapshots onto a plane, and how faithful the plane is to the path."""

from __future__ import annotations

import numpy as np
import torch

from engine.landscape.directions import Plane


def _basis(plane: Plane) -> torch.Tensor:
    return torch.stack([plane.d1, plane.d2]).double()  # (2, P)


def project(plane: Plane, points: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares plane coordinates (a, b) of each point (S, P), and the distance of each
    point from the plane (the part of θ − center the plane cannot show)."""
    pts = torch.as_tensor(np.asarray(points, dtype=np.float32)).double()
    if pts.ndim == 1:
        pts = pts[None]
    D = _basis(plane)
    rel = pts - plane.center.double()
    gram = D @ D.T
    coords = torch.linalg.solve(gram, D @ rel.T).T  # (S, 2), exact for non-orthogonal d1, d2
    resid = (rel - coords @ D).norm(dim=1)
    return coords.numpy(), resid.numpy()


def in_plane_fraction(plane: Plane, points: torch.Tensor | np.ndarray) -> float:
    """Length of the projected path over the length of the true path (1 = the path lies
    in the plane; near 0 = the plane shows almost none of the motion)."""
    pts = torch.as_tensor(np.asarray(points, dtype=np.float32)).double()
    if pts.ndim != 2 or pts.shape[0] < 2:
        return float("nan")
    coords, _ = project(plane, pts)
    D = _basis(plane)
    proj_steps = (torch.as_tensor(np.diff(coords, axis=0)) @ D).norm(dim=1).sum()
    true_steps = (pts[1:] - pts[:-1]).norm(dim=1).sum()
    return float(proj_steps / true_steps) if float(true_steps) > 0 else float("nan")


def bilinear(grid_a: np.ndarray, grid_b: np.ndarray, values: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Surface values (values[i, j] at (grid_a[i], grid_b[j])) at arbitrary (a, b); NaN outside."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    out = np.full(a.shape, np.nan)
    inside = (a >= grid_a[0]) & (a <= grid_a[-1]) & (b >= grid_b[0]) & (b <= grid_b[-1])
    if not inside.any():
        return out
    ai, bi = a[inside], b[inside]
    i = np.clip(np.searchsorted(grid_a, ai) - 1, 0, len(grid_a) - 2)
    j = np.clip(np.searchsorted(grid_b, bi) - 1, 0, len(grid_b) - 2)
    ta = (ai - grid_a[i]) / (grid_a[i + 1] - grid_a[i])
    tb = (bi - grid_b[j]) / (grid_b[j + 1] - grid_b[j])
    v = values
    out[inside] = (
        (1 - ta) * (1 - tb) * v[i, j]
        + ta * (1 - tb) * v[i + 1, j]
        + (1 - ta) * tb * v[i, j + 1]
        + ta * tb * v[i + 1, j + 1]
    )
    return out
