"""The batch-norm probe (batch vs running statistics, batch-size effect) and the decision-boundary grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import ExperimentConfig
from engine.events import Payload
from engine.model.batchnorm_probe import BatchNormProbe, evaluate_with_batch_stats, expected_gap
from engine.model.decision_boundary import DecisionBoundaryHook
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
    t = Trainer(cfg, emit=got.append)
    assert any(isinstance(h, BatchNormProbe) for h in t.hooks)
    t.run()
    return t, got


def test_batchnorm_probe_shows_batch_noise_shrinking_with_batch_size():
    small, got = _bn_run(4, epochs=1)
    big, _ = _bn_run(32, epochs=3)
    gs = small.to_record().arrays["batchnorm/mean_gap"][:, 0]
    gb = big.to_record().arrays["batchnorm/mean_gap"][:, 0]
    g_small, g_big = gs[len(gs) // 2 :].mean(), gb[len(gb) // 2 :].mean()
    # |μ_B − μ̂|/σ̂ ≈ √(2/π)/√B: 0.40 at B=4, 0.14 at B=32
    assert g_small == pytest.approx(expected_gap(4), rel=0.3)
    assert g_small > 1.8 * g_big
    rec = small.to_record()
    n = len(rec.arrays["batchnorm/steps"])
    assert rec.arrays["batchnorm/batch_mean"].shape == (n, 1, 8)
    assert rec.meta["batchnorm"]["batch_size"] == 4
    steps = [e for e in got if isinstance(e, Payload) and e.topic == "batchnorm" and e.data["kind"] == "steps"]
    assert sum(len(e.data["steps"]) for e in steps) == n
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


def test_decision_boundary_grid_matches_the_model_and_is_throttled():
    got: list = []
    cfg = ExperimentConfig().with_updates(
        {
            **FAST,
            "data.name": "moons",
            "data.n_samples": 400,
            "train.epochs": 30,
            "model.hidden": [16, 16],
            "optim.lr": 0.03,
        }
    )
    t = Trainer(cfg, emit=got.append)
    hook = next(h for h in t.hooks if isinstance(h, DecisionBoundaryHook))
    import time

    t0 = time.perf_counter()
    t.run()
    elapsed = time.perf_counter() - t0
    pl = [e for e in got if isinstance(e, Payload) and e.topic == "decision_boundary"]
    assert pl[0].data["kind"] == "points" and pl[0].data["x_train"].shape == (320, 2)
    grids = [e for e in pl if e.data["kind"] == "grid"]
    assert 2 <= len(grids) <= elapsed / hook.interval_s + 3
    assert grids[-1].droppable is False and grids[0].droppable is True
    probs = grids[-1].data["probs"]
    assert probs.shape == (90, 90, 2) and np.allclose(probs.sum(-1), 1, atol=1e-5)
    # the grid cell nearest each validation point predicts what the model predicts there
    x0, x1, y0, y1 = grids[-1].data["extent"]
    xv = t.data.x_val.numpy()
    j = np.clip(np.rint((xv[:, 0] - x0) / (x1 - x0) * 89).astype(int), 0, 89)
    i = np.clip(np.rint((xv[:, 1] - y0) / (y1 - y0) * 89).astype(int), 0, 89)
    with torch.no_grad():
        t.model.eval()
        pred = t.model(t.data.x_val).argmax(1).numpy()
    assert (probs[i, j].argmax(1) == pred).mean() > 0.93
    assert t.final_metrics()["val_acc"] > 0.9
    rec = t.to_record()
    assert rec.arrays["decision_boundary/probs"].shape == (90, 90, 2)


def test_no_boundary_hook_for_non_2d_data_and_no_bn_probe_without_bn():
    t = Trainer(ExperimentConfig().with_updates({**FAST, "data.name": "iris"}))
    assert not any(isinstance(h, (DecisionBoundaryHook, BatchNormProbe)) for h in t.hooks)


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
    t = Trainer(cfg)
    t.run()
    rec = t.to_record("r")
    path = save_session(Session(runs=[rec]), tmp_path / "s.descent")
    back = load_session(path).runs[0]
    for k in ("batchnorm/batch_mean", "batchnorm/mean_gap", "batchnorm/epochs", "decision_boundary/probs"):
        assert np.array_equal(back.arrays[k], rec.arrays[k]), k
    assert back.meta["batchnorm"]["batch_size"] == 64
    assert back.meta["early_stopping"]["best_epoch"] >= 1
    assert back.config.reg.l2 == 0.01 and back.config.model.batch_norm == "after"
    assert len(back.series["epoch/penalty"]) == 2
