"""The batch-norm probe: batch vs running statistics, the batch-size effect, the session arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.batchnorm import BatchNormProbe, BatchNormSnapshot, evaluate_with_batch_stats, expected_gap
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import record_of
from engine.train import Trainer

FAST = {"device": "cpu", "train.threads": 1}


def _bn_run(batch: int, epochs: int = 2):
    got: list = []
    cfg = ExperimentConfig().with_updates(
        {
            **FAST,
            "data.name": "digits",
            "model.batch_norm": "before",
            "train.batch_size": batch,
            "train.epochs": epochs,
            "model.hidden": [32],
            "train.val_fraction": 0.5,
        }
    )
    t = build_trainer(cfg, emit=got.append)
    assert any(isinstance(h, BatchNormProbe) for h in t.hooks)
    t.run()
    return t, got


def test_batchnorm_probe_shows_batch_noise_shrinking_with_batch_size():
    small, got = _bn_run(4, epochs=1)
    big, _ = _bn_run(32, epochs=3)
    gs = record_of(small).arrays["batchnorm/mean_gap"][:, 0]
    gb = record_of(big).arrays["batchnorm/mean_gap"][:, 0]
    g_small, g_big = gs[len(gs) // 2 :].mean(), gb[len(gb) // 2 :].mean()
    # |μ_B − μ̂|/σ̂ ≈ √(2/π)/√B: 0.40 at B=4, 0.14 at B=32
    assert g_small == pytest.approx(expected_gap(4), rel=0.3)
    assert g_small > 1.8 * g_big
    rec = record_of(small)
    n = len(rec.arrays["batchnorm/steps"])
    assert rec.arrays["batchnorm/batch_mean"].shape == (n, 1, 8)
    assert rec.meta["batchnorm"]["batch_size"] == 4
    snaps = [e for e in got if isinstance(e, BatchNormSnapshot)]
    assert sum(len(e.steps) for e in snaps) == n and sum(len(e.epochs) for e in snaps) == 1
    # running estimates are smooth, batch statistics jump: step-to-step change of unit 0
    bm, rm = rec.arrays["batchnorm/batch_mean"][:, 0, 0], rec.arrays["batchnorm/running_mean"][:, 0, 0]
    assert np.abs(np.diff(bm)).mean() > 2 * np.abs(np.diff(rm)).mean()
    # inference with the statistics of 4-sample batches is worse than with the running estimates
    ep = rec.arrays["batchnorm/epochs"]
    assert ep.shape == (1, 5) and ep[-1, 4] < ep[-1, 2] - 0.05


def test_evaluate_with_batch_stats_leaves_running_estimates_alone():
    t, _ = _bn_run(16, epochs=1)
    bn = t.model.batchnorm_layers()[0]
    before = (bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked))
    loss, acc = evaluate_with_batch_stats(t.model, t.data.x_val, t.data.y_val, 16)
    assert 0 < acc <= 1 and np.isfinite(loss)
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.running_var, before[1])
    assert int(bn.num_batches_tracked) == before[2] and t.model.training


def test_last_batch_of_one_sample_is_padded_for_batchnorm():
    cfg = ExperimentConfig().with_updates(
        {
            **FAST,
            "data.name": "moons",
            "data.n_samples": 52,
            "train.val_fraction": 0.2,
            "model.batch_norm": "after",
            "train.batch_size": 4,
            "train.epochs": 2,
        }
    )
    t = Trainer(cfg, hooks=[])
    assert t.n_train % 4 == 1
    assert t.run() == "finished"


def test_probe_arrays_survive_a_session_round_trip(tmp_path):
    from engine.session import Session, load_session, save_session

    cfg = ExperimentConfig().with_updates(
        {
            **FAST,
            "data.name": "moons",
            "data.n_samples": 200,
            "train.epochs": 2,
            "model.batch_norm": "after",
            "reg.early_stopping": True,
            "reg.l2": 0.01,
        }
    )
    t = build_trainer(cfg)
    t.run()
    rec = record_of(t, "r")
    path = save_session(Session(runs=[rec]), tmp_path / "s.descent")
    back = load_session(path).runs[0]
    for k in ("batchnorm/batch_mean", "batchnorm/mean_gap", "batchnorm/epochs", "decision_boundary/probs"):
        assert np.array_equal(back.arrays[k], rec.arrays[k]), k
    assert back.meta["batchnorm"]["batch_size"] == 64
    assert back.meta["early_stopping"]["best_epoch"] >= 1
    assert back.config.reg.l2 == 0.01 and back.config.model.batch_norm == "after"
    assert len(back.series["epoch/penalty"]) == 2
