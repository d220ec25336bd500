"""Gradient noise (lecture §4): how far minibatch gradients stray from the full-batch one,
per layer, against the batch size."""

from engine.gradnoise.hook import GradientNoiseHook
from engine.gradnoise.measure import gradient_noise
from engine.gradnoise.snapshot import GradientNoiseSnapshot

__all__ = ["GradientNoiseHook", "GradientNoiseSnapshot", "gradient_noise"]
