"""A run saved to a session file and continued equals the uninterrupted run, features included
(early-stopping patience, probe history, diagnostics, trajectory); older checkpoints still continue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import Session, capture_checkpoint, continue_run, load_session, record_of, save_session
from engine.states import RunState
from engine.train import Trainer
from engine.train.hooks import TrainerHook


def every_feature(**updates) -> ExperimentConfig:
    """A small 2D run with every feature switched on (3 steps per epoch)."""
    return ExperimentConfig().with_updates(
        {
            "device": "cpu",
            "train.threads": 1,
            "data.n_samples": 120,
            "model.hidden": [8, 8],
            "model.batch_norm": "after",
            "train.batch_size": 40,
            "train.epochs": 2,
            "probes.every": 2,
            "reg.l2": 1e-3,
            "reg.early_stopping": True,
            "landscape.snapshots": True,
            "landscape.sharpness_every": 1,
            "probes.gradient_noise": True,
            "probes.gradient_noise_every": 2,
            "probes.gradient_noise_batch_sizes": [4, 16],
            "probes.gradient_noise_draws": 2,
            **updates,
        }
    )


def _compare_runs(a: Trainer, b: Trainer) -> None:
    assert a.step == b.step and a.epoch == b.epoch and a.state == b.state
    assert set(a.series) == set(b.series)
    for k in a.series:
        if k == "step/wall":  # wall-clock times: the one series two runs never share
            continue
        np.testing.assert_array_equal(a.series[k].array(), b.series[k].array(), err_msg=k)
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k


def hooks_by_name(t: Trainer) -> dict[str, TrainerHook]:
    return {h.name: h for h in t.hooks}


def continuation_config() -> ExperimentConfig:
    # Early stopping that cannot improve after epoch 1 (min_delta 10): the wait counts up and
    # stops the run at epoch 4, so a continued run stops there only if it kept its patience.
    return every_feature(
        **{
            "train.epochs": 6,
            "reg.patience": 3,
            "reg.min_delta": 10.0,
            "probes.every": 1,
            "probes.max_snapshots": 10,  # thinned (and its interval doubled) during the run
            "landscape.snapshot_every": 1,
            "landscape.max_snapshots": 8,
        }
    )


def assert_same_hook_states(whole: Trainer, cont: Trainer) -> None:
    hw, hc = hooks_by_name(whole), hooks_by_name(cont)
    es_w, es_c = hw["early_stopping"], hc["early_stopping"]
    assert (es_c.best_epoch, es_c.best_loss, es_c.wait, es_c.stopped_epoch) == (
        es_w.best_epoch,
        es_w.best_loss,
        es_w.wait,
        es_w.stopped_epoch,
    )
    assert es_w.stopped_epoch == 4 and whole.epoch == 4  # the case the test is about
    pw, pc = hw["probes"], hc["probes"]
    assert [s.step for s in pc.snapshots] == [s.step for s in pw.snapshots] and pc.every == pw.every > 1
    np.testing.assert_array_equal(pc.snapshots[-1].act.hist, pw.snapshots[-1].act.hist)
    assert [d.to_json() for d in hc["diagnostics"].found] == [d.to_json() for d in hw["diagnostics"].found]
    assert [s.epoch for s in hc["metrics"].snapshots] == [s.epoch for s in hw["metrics"].snapshots]
    lw, lc = hw["landscape"], hc["landscape"]
    np.testing.assert_array_equal(lc.traj.steps, lw.traj.steps)
    np.testing.assert_array_equal(lc.traj.params, lw.traj.params)
    assert lc.sharpness == lw.sharpness and lc.traj.thinned == lw.traj.thinned > 0
    assert hc["batchnorm"].steps == hw["batchnorm"].steps
    assert hc["batchnorm"].epoch_rows == hw["batchnorm"].epoch_rows


@pytest.mark.parametrize("split", [4, 6])  # in the middle of epoch 2 (3 steps per epoch), at the end of epoch 2
def test_state_dict_into_a_fresh_trainer_continues_exactly(split):
    cfg = continuation_config()
    torch.manual_seed(7)
    whole = build_trainer(cfg)
    whole.run()
    torch.manual_seed(7)
    part = build_trainer(cfg)
    part.run(max_steps=split)
    state = part.state_dict()
    torch.manual_seed(999)  # anything drawn from the global RNG now must not matter
    cont = build_trainer(cfg)
    cont.load_state_dict(state)
    cont.run()
    _compare_runs(whole, cont)
    assert_same_hook_states(whole, cont)


def _saved_half(tmp_path: Path, steps: int):
    cfg = continuation_config()
    torch.manual_seed(7)
    t = build_trainer(cfg)
    t.run(max_steps=steps)
    rec = record_of(t, "half")
    rec.checkpoint = capture_checkpoint(t)
    path = save_session(Session(runs=[rec]), tmp_path / "half.descent")
    return load_session(path).runs[0]


def _whole():
    torch.manual_seed(7)
    whole = build_trainer(continuation_config())
    whole.run()
    return whole


def test_saved_and_continued_run_equals_the_uninterrupted_one(tmp_path):
    whole = _whole()
    loaded = _saved_half(tmp_path, 4)
    assert any(k.startswith("hooks/early_stopping/") for k in loaded.checkpoint.arrays)
    assert loaded.checkpoint.meta["hooks"]["early_stopping"]["wait"] == 0  # epoch 1 was the best
    t, rng = continue_run(loaded)
    torch.set_rng_state(rng)
    t.run()
    assert t.state == RunState.FINISHED and t.step == whole.step == 12  # early stopping at epoch 4
    for k in whole.series:
        if k == "step/wall":  # wall-clock times: the one series two runs never share
            continue
        np.testing.assert_array_equal(t.series[k].array(), whole.series[k].array(), err_msg=k)
    assert_same_hook_states(whole, t)
    a, b = record_of(whole), record_of(t)
    assert a.meta["diagnostics"] == b.meta["diagnostics"] and a.meta["early_stopping"] == b.meta["early_stopping"]
    for k in ("probes/steps", "probes/act/hist", "landscape/trajectory", "metrics/accuracy", "batchnorm/mean_gap"):
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)


def test_checkpoint_without_hook_states_still_continues(tmp_path):
    """A format-2 checkpoint written before hook states and last good weights were saved."""
    loaded = _saved_half(tmp_path, 4)
    ck = loaded.checkpoint
    ck.arrays = {k: v for k, v in ck.arrays.items() if not k.startswith(("hooks/", "good/"))}
    for key in ("hooks", "loss_ref", "pending_ok"):
        ck.meta.pop(key)
    path = save_session(Session(runs=[loaded]), tmp_path / "old.descent")
    t, rng = continue_run(load_session(path).runs[0])
    torch.set_rng_state(rng)
    assert t.step == 4 and t.epoch == 1
    t.run()
    assert t.state == RunState.FINISHED and t.step > 4 and np.isfinite(t.read_series("step/loss")).all()
