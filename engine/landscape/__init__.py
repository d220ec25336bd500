"""Loss landscapes of the real network (issue 4): planes (random filter-normalized, PCA of
the trajectory, init → current), batched surface evaluation, projection of the path and
its faithfulness, 1D interpolation, sharpness, and the trajectory snapshot hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.landscape.directions import Plane, build_plane, filter_normalized_direction, pca_plane, random_plane
    from engine.landscape.params import LandscapeError, ParamLayout, flat_params
    from engine.landscape.surface import Surface, SurfaceEvaluator, compute_surface

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Plane": "engine.landscape.directions",
        "build_plane": "engine.landscape.directions",
        "filter_normalized_direction": "engine.landscape.directions",
        "pca_plane": "engine.landscape.directions",
        "random_plane": "engine.landscape.directions",
        "LandscapeError": "engine.landscape.params",
        "ParamLayout": "engine.landscape.params",
        "flat_params": "engine.landscape.params",
        "Surface": "engine.landscape.surface",
        "SurfaceEvaluator": "engine.landscape.surface",
        "compute_surface": "engine.landscape.surface",
    },
)

__all__ = [
    "LandscapeError",
    "ParamLayout",
    "Plane",
    "Surface",
    "SurfaceEvaluator",
    "build_plane",
    "compute_surface",
    "filter_normalized_direction",
    "flat_params",
    "pca_plane",
    "random_plane",
]
