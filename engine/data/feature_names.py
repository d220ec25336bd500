"""How views write the 2D data sets' input features (engine.data.features computes them),
without torch: the window's feature boxes are built before the engine has loaded."""

from __future__ import annotations

from engine.config import INPUT_FEATURES as FEATURES  # the names data.features takes, in display order

__all__ = ["FEATURES", "LABELS"]

LABELS: dict[str, str] = {
    "x1": "x₁",
    "x2": "x₂",
    "x1_sq": "x₁²",
    "x2_sq": "x₂²",
    "x1x2": "x₁x₂",
    "sin_x1": "sin x₁",
    "sin_x2": "sin x₂",
}
"""How views write each feature."""
