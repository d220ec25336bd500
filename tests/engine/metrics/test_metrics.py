"""Metrics per epoch on the validation set, checked against sklearn.metrics (issue 5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from engine.config import ExperimentConfig
from engine.events import EventChannel
from engine.experiment import build_trainer
from engine.metrics import MetricsHook, classification_report, confusion_at_threshold
from engine.metrics.snapshot import MetricsSnapshot
from engine.session import record_of
from engine.train import Trainer


def cfg(**updates) -> ExperimentConfig:
    base = {"device": "cpu", "train.threads": 1, "probes.enabled": False, "diagnostics.enabled": False}
    base.update(updates)
    return ExperimentConfig().with_updates(base)


def model_probs(t: Trainer, n: int) -> tuple[np.ndarray, np.ndarray]:
    t.model.eval()
    with torch.no_grad():
        p = torch.softmax(t.model(t.data.x_val[:n]), 1).double().numpy()
    return t.data.y_val[:n].numpy(), p


def test_binary_roc_auc_equals_sklearn_and_threshold_confusion():
    ch = EventChannel(10_000)
    t = build_trainer(cfg(**{"data.name": "moons", "data.n_samples": 400, "train.epochs": 2}), emit=ch.put)
    t.run()
    hook = next(h for h in t.hooks if isinstance(h, MetricsHook))
    y, p = model_probs(t, 5000)
    assert hook.latest.roc_auc[0] == pytest.approx(skm.roc_auc_score(y, p[:, 1]), abs=1e-9)
    assert hook.latest.average_precision[0] == pytest.approx(skm.average_precision_score(y, p[:, 1]), abs=1e-9)
    assert (hook.latest.confusion == skm.confusion_matrix(y, p.argmax(1))).all()
    cm = confusion_at_threshold(y, p[:, 1], 0.3)
    assert cm.sum() == len(y) and cm[:, 1].sum() == int((p[:, 1] >= 0.3).sum())
    snaps = [e for e in ch.drain() if isinstance(e, MetricsSnapshot)]
    assert [e.epoch for e in snaps] == [1, 2] and snaps[0].droppable
    rec = record_of(t)
    assert rec.arrays["metrics/roc_auc"].shape == (2, 1) and rec.arrays["metrics/confusion"].shape == (2, 2, 2)
    roc = rec.arrays["metrics/curves/roc_1"]
    assert roc.shape[0] == 3 and roc[0, 0] == 0.0 and roc[0, -1] == 1.0 and roc[1, -1] == 1.0
    # The trapezoid area under the stored curve is the AUC (the curve is not thinned here).
    assert np.trapezoid(roc[1], roc[0]) == pytest.approx(hook.latest.roc_auc[0], abs=1e-9)


def test_multiclass_one_vs_rest_and_per_class_scores():
    t = build_trainer(cfg(**{"data.name": "digits", "train.epochs": 1, "metrics.max_samples": 200}))
    t.run()
    hook = next(h for h in t.hooks if isinstance(h, MetricsHook))
    y, p = model_probs(t, 200)
    assert len(y) == 200
    ovr = skm.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=list(range(10)))
    assert hook.latest.roc_auc_macro == pytest.approx(ovr, abs=1e-9)
    for c in range(10):
        assert hook.latest.roc_auc[c] == pytest.approx(skm.roc_auc_score(y == c, p[:, c]), abs=1e-9)
    pr, rc, f1, _ = skm.precision_recall_fscore_support(y, p.argmax(1), labels=list(range(10)), zero_division=0)
    assert np.allclose(hook.latest.precision, pr) and np.allclose(hook.latest.recall, rc)
    assert np.allclose(hook.latest.f1, f1)
    assert hook.latest.accuracy == pytest.approx((p.argmax(1) == y).mean())


def test_absent_class_gives_nan_auc_not_an_error():
    y = np.array([0, 0, 1, 1, 0])
    probs = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.6, 0.1], [0.6, 0.3, 0.1]])
    rep = classification_report(y, probs, 3)
    assert math.isnan(rep["roc_auc"][2]) and rep["roc_auc"][0] == pytest.approx(skm.roc_auc_score(y == 0, probs[:, 0]))
    assert rep["confusion"].sum() == 5
    with pytest.raises(ValueError, match="do not match"):
        classification_report(y, probs[:3], 3)


def test_curves_are_thinned_to_the_configured_points():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    s = np.clip(y * 0.3 + rng.random(3000) * 0.7, 0, 1)
    rep = classification_report(y, np.stack([1 - s, s], 1), 2, curve_points=50)
    roc = rep["curves"]["roc/1"]
    assert roc.shape[1] <= 50 and roc[0, 0] == 0.0 and roc[0, -1] == 1.0


def test_metrics_every_n_epochs_keeps_the_last_epoch():
    t = build_trainer(
        cfg(
            **{
                "data.name": "moons",
                "data.n_samples": 200,
                "train.epochs": 5,
                "metrics.every": 2,
                "metrics.min_steps": 0,
            }
        )
    )
    t.run()
    hook = next(h for h in t.hooks if isinstance(h, MetricsHook))
    assert [s.epoch for s in hook.snapshots] == [2, 4, 5]


def test_metrics_min_steps_bounds_their_cost_on_tiny_epochs():
    # 160 training samples, batch 64: 3 steps per epoch; at least 10 steps between evaluations.
    t = build_trainer(cfg(**{"data.name": "moons", "data.n_samples": 200, "train.epochs": 12, "metrics.min_steps": 10}))
    t.run()
    hook = next(h for h in t.hooks if isinstance(h, MetricsHook))
    assert t.steps_per_epoch == 3
    assert [s.epoch for s in hook.snapshots] == [1, 5, 9, 12]  # epochs at steps 3, 15, 27 and the last one
    steps = [s.step for s in hook.snapshots]
    assert all(b - a >= 10 for a, b in zip(steps[:-2], steps[1:-1]))


def test_curves_from_one_call_are_sklearns_roc_and_pr_curves():
    """roc_and_pr_curves returns exactly roc_curve's and precision_recall_curve's arrays,
    ties and few thresholds included (the binary case of every scored class)."""
    from engine.metrics.classification import roc_and_pr_curves

    rng = np.random.default_rng(0)
    cases = [(np.array([0, 1]), np.array([0.2, 0.7])), (np.array([1, 0, 1]), np.array([0.5, 0.5, 0.5]))]
    for n in (5, 40, 400):
        y = (rng.random(n) < 0.3).astype(np.int64)
        y[:2] = [0, 1]
        cases += [(y, rng.random(n)), (y, rng.integers(0, 4, n) / 4.0)]  # distinct scores; many ties
    for y, s in cases:
        (fpr, tpr, thr), (prec, rec, pthr) = roc_and_pr_curves(y, s)
        for got, want in zip(
            (fpr, tpr, thr, prec, rec, pthr), (*skm.roc_curve(y, s), *skm.precision_recall_curve(y, s))
        ):
            assert got.shape == want.shape and np.array_equal(got, want)


def test_per_class_scores_are_sklearns_with_zero_division_0():
    from engine.metrics.classification import per_class_scores

    rng = np.random.default_rng(1)
    for _ in range(20):
        y, pred = rng.integers(0, 5, 60), rng.integers(0, 5, 60)
        pred[pred == 3] = 4  # class 3 never predicted: precision 0/0
        y[y == 2] = 1  # class 2 never true: recall 0/0
        cm = skm.confusion_matrix(y, pred, labels=range(5))
        want = skm.precision_recall_fscore_support(y, pred, labels=range(5), zero_division=0)
        for got, w in zip(per_class_scores(cm), want):
            np.testing.assert_allclose(got, w, rtol=1e-12, atol=0)
