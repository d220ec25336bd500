"""The classifier's decision boundary over the input plane, for 2D data sets."""

from engine.boundary.hook import DecisionBoundaryHook, evaluate_grid
from engine.data.features import grid_points, plane_extent, plane_grid

__all__ = ["DecisionBoundaryHook", "evaluate_grid", "grid_points", "plane_extent", "plane_grid"]
