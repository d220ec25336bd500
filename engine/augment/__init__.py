"""Augmentation of image training batches on the run's device (lecture §6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.augment.pipeline import Augmenter, build_augmenter

__all__ = ["Augmenter", "build_augmenter"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Augmenter": "engine.augment.pipeline",
        "build_augmenter": "engine.augment.pipeline",
    },
)
