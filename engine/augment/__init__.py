"""Augmentation of image training batches on the run's device (lecture §6)."""

from engine.augment.pipeline import Augmenter, build_augmenter

__all__ = ["Augmenter", "build_augmenter"]
