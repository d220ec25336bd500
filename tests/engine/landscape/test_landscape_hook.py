"""The landscape hook inside a real run: snapshots, payloads, sharpness, session export."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.landscape.hook import LandscapeHook
from engine.landscape.params import ParamLayout, flat_params
from engine.landscape.snapshot import LandscapeSnapshot
from engine.session import Session, load_session, record_of, save_session

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cfg(**extra):
    base = {
        "data.n_samples": 300,
        "train.epochs": 4,
        "train.batch_size": 32,
        "device": "cpu",
        "landscape.snapshot_every": 2,
        "landscape.max_snapshots": 16,
        "landscape.sharpness_every": 2,
        "landscape.sharpness_iters": 10,
        "probes.enabled": False,
        "diagnostics.enabled": False,
        "metrics.enabled": False,
    }
    base.update(extra)
    return ExperimentConfig().with_updates(base)


def test_run_records_a_bounded_trajectory_and_streams_it(tmp_path):
    events = []
    t = build_trainer(_cfg(), emit=events.append)
    assert any(isinstance(h, LandscapeHook) for h in t.hooks)
    t.run()
    snaps = [e for e in events if isinstance(e, LandscapeSnapshot)]
    streamed = np.concatenate([s.steps for s in snaps])
    assert streamed[0] == 0 and streamed[-1] == t.step and np.all(np.diff(streamed) > 0)
    rec = record_of(t)
    traj, steps = rec.arrays["landscape/trajectory"], rec.arrays["landscape/trajectory_steps"]
    assert 8 <= len(steps) <= 16 and traj.shape == (len(steps), ParamLayout.of(t.model).size)
    assert traj.dtype == np.float32 and steps[0] == 0 and steps[-1] == t.step
    # The last snapshot is the final weights, the first the init.
    assert np.array_equal(traj[-1], flat_params(t.model).numpy())
    assert np.allclose(
        traj[0], np.concatenate([t.initial_state[n].reshape(-1).numpy() for n in ParamLayout.of(t.model).names])
    )
    sharp = np.concatenate([s.sharpness for s in snaps])
    two_over_lr = np.concatenate([s.two_over_lr for s in snaps])
    assert sharp[:, 0].tolist() == [1, 2, 4]
    assert (sharp[:, 2] > 0).all() and (two_over_lr == 2 / 0.01).all()
    assert rec.arrays["landscape/sharpness"].shape == (3, 4)
    assert set(k for k in rec.arrays if k.startswith("weights/")) == {f"weights/{k}" for k in t.model.state_dict()}
    path = save_session(Session(runs=[rec]), tmp_path / "s.descent")
    back = load_session(path).runs[0]
    assert np.array_equal(back.arrays["landscape/trajectory"], traj)
    assert back.meta["landscape"]["n_params"] == traj.shape[1]


def test_hook_is_off_when_disabled():
    t = build_trainer(_cfg(**{"landscape.snapshots": False, "landscape.sharpness_every": 0}))
    assert not any(isinstance(h, LandscapeHook) for h in t.hooks)


def test_path_ends_at_restored_best_weights():
    # Early stopping restores the best weights at the end: the path must end there too.
    cfg = _cfg(
        **{
            "reg.early_stopping": True,
            "reg.patience": 1,
            "train.epochs": 30,
            "optim.lr": 0.3,
            "landscape.sharpness_every": 0,
        }
    )
    t = build_trainer(cfg)
    t.run()
    rec = record_of(t)
    assert np.array_equal(rec.arrays["landscape/trajectory"][-1], flat_params(t.model).numpy())
