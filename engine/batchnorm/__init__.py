"""Batch norm made visible: batch vs running statistics per layer, and inference without them."""

from engine.batchnorm.probe import BatchNormProbe, evaluate_with_batch_stats
from engine.batchnorm.snapshot import BatchNormSnapshot, expected_gap

__all__ = ["BatchNormProbe", "BatchNormSnapshot", "evaluate_with_batch_stats", "expected_gap"]
