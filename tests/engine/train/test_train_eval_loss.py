"""The eval-mode training loss: measured each epoch on a fixed subset of at most 512 training
samples with dropout off, beside the running train-mode mean, and saved as its own series."""

from __future__ import annotations

import torch
from torch import nn

from engine.config import ExperimentConfig
from engine.session import load_session, record_of, save_session
from engine.session.record import Session
from engine.train import Trainer


def _cfg(**updates) -> ExperimentConfig:
    base = {"data.name": "spiral", "device": "cpu", "train.threads": 1, "train.epochs": 8, "train.batch_size": 64}
    return ExperimentConfig().with_updates({**base, **updates})


def test_eval_mode_train_loss_is_the_eval_model_on_a_fixed_subset_and_dropout_inflates_the_running_one():
    t = Trainer(_cfg(**{"model.dropout": 0.5, "model.hidden": [64, 64]}), hooks=[])
    x, y = t.train_eval_batch
    assert x.shape[0] == 512 < t.n_train  # a subset of the 800 training points
    t.run()
    running, evaluated = t.read_series("epoch/train_loss"), t.read_series("epoch/train_loss_eval")
    assert len(running) == len(evaluated) == 8
    t.model.eval()
    with torch.no_grad():
        expect = float(nn.functional.cross_entropy(t.model(x), y))
    assert abs(evaluated[-1] - expect) < 1e-5  # the final model, eval mode, that subset
    # dropout 0.5 in training mode: the running mean is clearly above the model's real loss
    assert running[-1] > 1.2 * evaluated[-1]
    acc = t.read_series("epoch/train_acc_eval")
    assert 0.0 <= acc[-1] <= 1.0 and acc[-1] > t.read_series("epoch/train_acc")[-1]


def test_small_sets_use_every_training_sample_and_the_series_is_saved(tmp_path):
    t = Trainer(_cfg(**{"data.name": "iris", "train.epochs": 2}), hooks=[])
    assert t.train_eval_batch[0].shape[0] == t.n_train < 512
    t.run()
    save_session(Session(runs=[record_of(t)]), tmp_path / "s.descent")
    rec = load_session(tmp_path / "s.descent").runs[0]
    assert len(rec.series["epoch/train_loss_eval"]) == 2 and len(rec.series["epoch/train_acc_eval"]) == 2
    assert rec.final["train_loss_eval"] == rec.series["epoch/train_loss_eval"][-1]
