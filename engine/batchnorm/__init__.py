"""Batch norm made visible: batch vs running statistics per layer, and inference without them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.batchnorm.probe import BatchNormProbe, evaluate_with_batch_stats
    from engine.batchnorm.snapshot import BatchNormSnapshot, expected_gap

__all__ = ["BatchNormProbe", "BatchNormSnapshot", "evaluate_with_batch_stats", "expected_gap"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BatchNormProbe": "engine.batchnorm.probe",
        "evaluate_with_batch_stats": "engine.batchnorm.probe",
        "BatchNormSnapshot": "engine.batchnorm.snapshot",
        "expected_gap": "engine.batchnorm.snapshot",
    },
)
