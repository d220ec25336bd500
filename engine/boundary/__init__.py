"""The classifier's decision boundary over the input plane, for 2D data sets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.boundary.hook import DecisionBoundaryHook, evaluate_grid
    from engine.data.features import grid_points, plane_extent, plane_grid

__all__ = ["DecisionBoundaryHook", "evaluate_grid", "grid_points", "plane_extent", "plane_grid"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DecisionBoundaryHook": "engine.boundary.hook",
        "evaluate_grid": "engine.boundary.hook",
        "grid_points": "engine.data.features",
        "plane_extent": "engine.data.features",
        "plane_grid": "engine.data.features",
    },
)
