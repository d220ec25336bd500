"""Classification metrics from sklearn.metrics: accuracy, per-class precision/recall/F1,
confusion matrix, ROC and PR curves with AUC (binary, and one-vs-rest for C > 2)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn import metrics as skm


def _thin(*arrays: np.ndarray, points: int) -> tuple[np.ndarray, ...]:
    """Keep at most `points` points of a curve, always including both ends."""
    n = len(arrays[0])
    if n <= points:
        return arrays
    idx = np.unique(np.linspace(0, n - 1, points).round().astype(int))
    return tuple(a[idx] for a in arrays)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classification_report(labels: np.ndarray, probs: np.ndarray, n_classes: int,
                          curve_points: int = 200) -> dict[str, Any]:
    """Every metric of one evaluation. `probs` (N, C) are class probabilities.
    Binary problems score class 1; multi-class ones get one-vs-rest curves per class and
    macro averages. Classes absent from `labels` get NaN AUCs (undefined), not an error."""
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0]:
        raise ValueError(f"probabilities of shape {probs.shape} do not match {labels.shape[0]} labels")
    classes = np.arange(n_classes)
    pred = probs.argmax(1)
    cm = skm.confusion_matrix(labels, pred, labels=classes).astype(np.int64)
    p, r, f1, support = skm.precision_recall_fscore_support(labels, pred, labels=classes, zero_division=0)
    out: dict[str, Any] = {
        "accuracy": float(np.trace(cm) / cm.sum()) if len(labels) else math.nan,
        "confusion": cm,
        "precision": p.astype(np.float64), "recall": r.astype(np.float64), "f1": f1.astype(np.float64),
        "support": support.astype(np.int64),
    }
    scored = [1] if n_classes == 2 else list(classes)
    roc_auc, ap, curves = [], [], {}
    for c in scored:
        y = (labels == c).astype(np.int64)
        s = probs[:, c]
        if 0 < y.sum() < len(y):
            # Two sklearn calls per class (its input validation dominates the cost on small
            # arrays): the areas follow from the curves exactly as roc_auc_score and
            # average_precision_score compute them (trapezoid ROC area; AP = Σ ΔR·P).
            fpr, tpr, thr = skm.roc_curve(y, s)
            prec, rec, pthr = skm.precision_recall_curve(y, s)
            roc_auc.append(float(skm.auc(fpr, tpr)))
            ap.append(float(-np.sum(np.diff(rec) * prec[:-1])))
            thr = np.where(np.isfinite(thr), thr, 1.0)
            curves[f"roc/{c}"] = np.stack(_thin(fpr, tpr, thr, points=curve_points))
            # precision_recall_curve has one threshold fewer than points; pad with 1.0.
            curves[f"pr/{c}"] = np.stack(_thin(rec, prec, np.append(pthr, 1.0), points=curve_points))
        else:
            roc_auc.append(math.nan)
            ap.append(math.nan)
    out["roc_auc"] = np.array(roc_auc)
    out["average_precision"] = np.array(ap)
    finite = [a for a in roc_auc if math.isfinite(a)]
    out["roc_auc_macro"] = float(np.mean(finite)) if finite else math.nan
    out["scored_classes"] = np.array(scored, dtype=np.int64)
    out["curves"] = curves
    return out


def confusion_at_threshold(labels: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Binary 2×2 confusion matrix when class 1 is predicted for score ≥ threshold."""
    pred = (np.asarray(scores) >= threshold).astype(np.int64)
    return skm.confusion_matrix(np.asarray(labels, dtype=np.int64), pred, labels=[0, 1]).astype(np.int64)
