"""Classification metrics per epoch on the validation set (sklearn.metrics)."""

from engine.metrics.classification import classification_report, confusion_at_threshold, softmax
from engine.metrics.hook import MetricsHook
from engine.metrics.summary import summarize_metrics

__all__ = ["classification_report", "confusion_at_threshold", "softmax", "MetricsHook", "summarize_metrics"]
