"""Classification metrics per epoch on the validation set (sklearn.metrics)."""
from engine.metrics.classification import classification_report, confusion_at_threshold, softmax
from engine.metrics.hook import MetricsHook

__all__ = ["classification_report", "confusion_at_threshold", "softmax", "MetricsHook"]
