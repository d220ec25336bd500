"""Gradient noise (lecture §4): how far minibatch gradients stray from the full-batch one,
per layer, against the batch size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.gradnoise.hook import GradientNoiseHook
    from engine.gradnoise.measure import gradient_noise
    from engine.gradnoise.snapshot import GradientNoiseSnapshot

__all__ = ["GradientNoiseHook", "GradientNoiseSnapshot", "gradient_noise"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "GradientNoiseHook": "engine.gradnoise.hook",
        "gradient_noise": "engine.gradnoise.measure",
        "GradientNoiseSnapshot": "engine.gradnoise.snapshot",
    },
)
