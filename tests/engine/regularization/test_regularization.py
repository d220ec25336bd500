"""L1/L2 penalties and early stopping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.regularization import EarlyStoppingHook, PenaltyHook, penalized_weights, penalty_value
from engine.session import record_of
from engine.train import Trainer
from engine.train.hooks import TrainerHook

FAST = {"device": "cpu", "train.threads": 1}


def test_penalty_gradient_equals_autograd_of_loss_plus_penalty():
    cfg = ExperimentConfig().with_updates({**FAST, "data.name": "moons", "model.hidden": [8], "train.batch_size": 32})
    l2, l1 = 0.05, 0.02
    t = Trainer(cfg, hooks=[PenaltyHook(l2, l1)])
    t.start()
    xb, yb = t.data.x_train[:32], t.data.y_train[:32]
    # reference: autograd of data loss + explicit penalty
    ws = penalized_weights(t.model)
    t.model.zero_grad()
    loss = t.loss_fn(t.model(xb), yb) + 0.5 * l2 * sum((w**2).sum() for w in ws) + l1 * sum(w.abs().sum() for w in ws)
    loss.backward()
    ref = [p.grad.clone() for p in t.model.parameters()]
    # the hook's way: data-loss backward, then after_backward adds the penalty gradient
    t.model.zero_grad()
    t.loss_fn(t.model(xb), yb).backward()
    t.hooks[0].after_backward(t)
    for a, b in zip(ref, [p.grad for p in t.model.parameters()]):
        assert torch.allclose(a, b, atol=1e-6)
    expect = 0.5 * l2 * sum(float((w.detach() ** 2).sum()) for w in ws) + l1 * sum(
        float(w.detach().abs().sum()) for w in ws
    )
    assert penalty_value(ws, l2, l1) == pytest.approx(expect, rel=1e-6)
    assert len(ws) == 2 and all(w.dim() == 2 for w in ws)  # weights only, not biases


def test_l1_and_l2_shrink_weights_and_record_the_penalty():
    base = {**FAST, "data.name": "moons", "model.hidden": [16], "train.epochs": 5, "optim.name": "sgd", "optim.lr": 0.1}
    norms = {}
    for name, extra in [("none", {}), ("l2", {"reg.l2": 0.05}), ("l1", {"reg.l1": 0.01})]:
        t = build_trainer(ExperimentConfig().with_updates({**base, **extra}))
        t.run()
        ws = penalized_weights(t.model)
        norms[name] = (
            sum(float((w.detach() ** 2).sum()) for w in ws),
            sum(float((w.detach().abs() < 1e-3).sum()) for w in ws),
        )
        if name != "none":
            pen = t.series["epoch/penalty"].array()
            assert len(pen) == 5 and np.all(pen > 0)
    assert norms["l2"][0] < 0.8 * norms["none"][0]
    assert norms["l1"][1] > norms["none"][1]  # L1 drives weights toward exactly 0


class _Snapshots(TrainerHook):
    """Keeps every epoch's weights (runs before the early-stopping hook)."""

    def __init__(self):
        self.states = {}

    def on_epoch_end(self, trainer, metrics):
        self.states[trainer.epoch] = {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_early_stopping_restores_the_best_validation_epoch():
    # A tiny training set and a large network: validation loss turns up after a few epochs.
    cfg = ExperimentConfig().with_updates(
        {
            **FAST,
            "data.name": "digits",
            "train.val_fraction": 0.9,
            "model.hidden": [128],
            "optim.lr": 0.01,
            "train.epochs": 60,
            "train.batch_size": 16,
            "reg.early_stopping": True,
            "reg.patience": 3,
        }
    )
    snaps = _Snapshots()
    es = EarlyStoppingHook(cfg.reg.patience)
    t = Trainer(cfg, hooks=[snaps, es])
    assert t.run() == "finished"
    val = t.series["epoch/val_loss"].array()
    best = int(np.argmin(val)) + 1
    assert t.epoch < 60 and t.epoch == best + 3  # stopped after `patience` bad epochs
    assert es.best_epoch == best and "early stopping" in t.message
    for k, v in t.model.state_dict().items():
        assert torch.equal(v, snaps.states[best][k]), k
    assert t.evaluate(t.data.x_val, t.data.y_val)[0] == pytest.approx(val.min(), rel=1e-6)
    rec = record_of(t)
    assert rec.meta["early_stopping"]["best_epoch"] == best and rec.meta["early_stopping"]["restored"]


def test_early_stopping_at_the_last_epoch_restores_too():
    cfg = ExperimentConfig().with_updates(
        {
            **FAST,
            "data.name": "digits",
            "train.val_fraction": 0.9,
            "model.hidden": [128],
            "optim.lr": 0.01,
            "train.epochs": 8,
            "train.batch_size": 16,
            "reg.early_stopping": True,
            "reg.patience": 50,
        }
    )
    t = build_trainer(cfg)
    t.run()
    val = t.series["epoch/val_loss"].array()
    assert t.epoch == 8 and int(np.argmin(val)) + 1 < 8  # the best epoch is not the last one
    assert t.evaluate(t.data.x_val, t.data.y_val)[0] == pytest.approx(val.min(), rel=1e-6)


def _digits_tiny(extra: dict) -> tuple[dict[str, float], tuple[float, float], tuple[float, float]]:
    cfg = ExperimentConfig().with_updates(
        {
            **FAST,
            "data.name": "digits",
            "train.val_fraction": 0.9,
            "model.hidden": [128],
            "optim.lr": 0.01,
            "train.epochs": 15,
            "train.batch_size": 16,
            "seed": 0,
            **extra,
        }
    )
    t = build_trainer(cfg)
    t.run()
    curves = {k: float(t.series[f"epoch/{k}"].array()[-3:].mean()) for k in ("train_acc", "val_acc")}
    return curves, t.evaluate(t.data.x_train, t.data.y_train), t.evaluate(t.data.x_val, t.data.y_val)


def test_regularization_narrows_the_train_validation_gap_on_tiny_digits():
    """~180 training images, a 128-unit layer: the unregularized net overfits. Same seed each time."""
    none_c, none_tr, none_va = _digits_tiny({})
    drop_c, _, _ = _digits_tiny({"model.dropout": 0.5})
    _, l2_tr, l2_va = _digits_tiny({"reg.l2": 0.01})
    gap = lambda c: c["train_acc"] - c["val_acc"]  # noqa: E731 - the accuracy curves the user sees
    assert none_tr[1] == 1.0 and gap(none_c) > 0.04  # overfitting: train accuracy 100 %
    assert gap(drop_c) < 0.7 * gap(none_c)  # dropout: accuracy curves closer
    assert (l2_va[0] - l2_tr[0]) < 0.9 * (none_va[0] - none_tr[0])  # L2: generalization loss gap narrower
