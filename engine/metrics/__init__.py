"""Classification metrics per epoch on the validation set (sklearn.metrics)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.metrics.classification import classification_report, confusion_at_threshold, softmax
    from engine.metrics.hook import MetricsHook
    from engine.metrics.summary import summarize_metrics

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "classification_report": "engine.metrics.classification",
        "confusion_at_threshold": "engine.metrics.classification",
        "softmax": "engine.metrics.classification",
        "MetricsHook": "engine.metrics.hook",
        "summarize_metrics": "engine.metrics.summary",
    },
)

__all__ = [
    "classification_report",
    "confusion_at_threshold",
    "softmax",
    "MetricsHook",
    "summarize_metrics",
]
