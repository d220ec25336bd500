"""Loss landscapes of the real network (issue 4): planes (random filter-normalized, PCA of
the trajectory, init → current), batched surface evaluation, projection of the path and
its faithfulness, 1D interpolation, sharpness, and the trajectory snapshot hook."""

from engine.landscape.directions import Plane, build_plane, filter_normalized_direction, pca_plane, random_plane
from engine.landscape.params import LandscapeError, ParamLayout, flat_params
from engine.landscape.surface import Surface, SurfaceEvaluator, compute_surface

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
