"""Classification metrics from sklearn.metrics: accuracy, per-class precision/recall/F1,
confusion matrix, ROC and PR curves with AUC (binary, and one-vs-rest for C > 2)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _thin(*arrays: np.ndarray, points: int) -> tuple[np.ndarray, ...]:
    """Keep at most `points` points of a curve, always including both ends."""
    n = len(arrays[0])
    if n <= points:
        return arrays
    idx = np.unique(np.linspace(0, n - 1, points).round().astype(int))
    return tuple(a[idx] for a in arrays)


def roc_and_pr_curves(y: np.ndarray, scores: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """((fpr, tpr, thresholds), (precision, recall, thresholds)): exactly what sklearn's
    roc_curve (dropping collinear points, its default) and precision_recall_curve (keeping
    every threshold, its default) return for binary `y` with both classes present, from ONE
    sklearn.metrics.confusion_matrix_at_thresholds call. Each of the two makes that call
    itself, and on the few hundred samples a run validates with, its input checks are most
    of the cost."""
    from sklearn import metrics as skm  # scikit-learn loads on first use, not with the window

    _, fps, _, tps, thr = skm.confusion_matrix_at_thresholds(y, scores)
    keep: slice | np.ndarray = slice(None)
    if fps.shape[0] > 2:  # roc_curve's drop_intermediate: keep the corners only
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
    rf, rt = np.r_[0.0, fps[keep]], np.r_[0.0, tps[keep]]
    roc = (rf / rf[-1], rt / rt[-1], np.r_[np.inf, thr[keep].astype(np.float64)])
    precision = tps / (tps + fps)  # tps + fps >= 1: every threshold is some sample's score
    recall = tps / tps[-1]
    pr = (np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thr[::-1])
    return roc, pr


def per_class_scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix (rows: true class),
    as sklearn's precision_recall_fscore_support(zero_division=0) gives them for the same
    predictions: a score whose denominator is 0 is 0. (Calling it would check and count
    the labels again, a large share of an evaluation's cost.)"""
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(axis=0).astype(np.float64), cm.sum(axis=1)
    fp, fn = predicted - tp, support - tp

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.zeros_like(num), where=den != 0)

    return (
        ratio(tp, predicted),
        ratio(tp, support.astype(np.float64)),
        ratio(2 * tp, 2 * tp + fp + fn),
        support.astype(np.int64),
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classification_report(
    labels: np.ndarray, probs: np.ndarray, n_classes: int, curve_points: int = 200
) -> dict[str, Any]:
    """Every metric of one evaluation. `probs` (N, C) are class probabilities.
    Binary problems score class 1; multi-class ones get one-vs-rest curves per class and
    macro averages. Classes absent from `labels` get NaN AUCs (undefined), not an error."""
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0]:
        raise ValueError(f"probabilities of shape {probs.shape} do not match {labels.shape[0]} labels")
    classes = np.arange(n_classes)
    pred = probs.argmax(1)
    from sklearn import metrics as skm

    cm = skm.confusion_matrix(labels, pred, labels=classes).astype(np.int64)
    p, r, f1, support = per_class_scores(cm)
    out: dict[str, Any] = {
        "accuracy": float(np.trace(cm) / cm.sum()) if len(labels) else math.nan,
        "confusion": cm,
        "precision": p,
        "recall": r,
        "f1": f1,
        "support": support,
    }
    scored = [1] if n_classes == 2 else list(classes)
    roc_auc, ap, curves = [], [], {}
    for c in scored:
        y = (labels == c).astype(np.int64)
        s = probs[:, c]
        if 0 < y.sum() < len(y):
            # One sklearn call per class (its input validation dominates the cost on small
            # arrays): the areas follow from the curves exactly as roc_auc_score and
            # average_precision_score compute them (trapezoid ROC area; AP = Σ ΔR·P).
            (fpr, tpr, thr), (prec, rec, pthr) = roc_and_pr_curves(y, s)
            roc_auc.append(float(np.trapezoid(tpr, fpr)))  # sklearn.metrics.auc's rule
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
    from sklearn import metrics as skm

    pred = (np.asarray(scores) >= threshold).astype(np.int64)
    return skm.confusion_matrix(np.asarray(labels, dtype=np.int64), pred, labels=[0, 1]).astype(np.int64)
