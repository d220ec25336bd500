"""Wall time per step (series step/wall, format 4): recorded, saved, replayed; older files open."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.config import ExperimentConfig
from engine.events import StepBatch, series_events
from engine.experiment import build_trainer
from engine.session import Session, capture_checkpoint, continue_run, load_session, record_of, save_session
from engine.session.archive import FORMAT_VERSION

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "format2_main.descent"
SMALL = {
    "train.epochs": 2,
    "data.n_samples": 200,
    "model.hidden": [8],
    "device": "cpu",
    "probes.enabled": False,
    "diagnostics.enabled": False,
    "metrics.enabled": False,
    "landscape.snapshots": False,
}


def test_wall_time_is_recorded_saved_and_replayed(tmp_path):
    events = []
    t = build_trainer(ExperimentConfig().with_updates(SMALL), emit=events.append)
    t.run()
    wall = t.read_series("step/wall")
    assert len(wall) == t.step == len(t.read_series("step/loss"))
    assert np.all(np.isfinite(wall)) and wall[0] >= 0 and np.all(np.diff(wall) >= 0)
    live = np.concatenate([e.wall for e in events if isinstance(e, StepBatch)])
    np.testing.assert_array_equal(live, wall)  # the events carry it
    assert FORMAT_VERSION >= 4  # the wall series came with version 4
    rec = record_of(t, "r")
    rec.checkpoint = capture_checkpoint(t)
    save_session(Session(runs=[rec]), tmp_path / "s.descent")
    back = load_session(tmp_path / "s.descent").runs[0]
    np.testing.assert_array_equal(back.series["step/wall"], wall)
    (batch,) = [e for e in series_events("r", back.series) if isinstance(e, StepBatch)]
    np.testing.assert_array_equal(batch.wall, wall)
    # continued: the wall clock goes on from the saved last value
    t2, _rng = continue_run(back, 3)
    t2.run()
    w2 = t2.read_series("step/wall")
    assert len(w2) == t2.step and w2[len(wall)] >= wall[-1]


def test_runs_saved_without_wall_time_open_and_continue(tmp_path):
    old = load_session(FIXTURE)
    rec = old.runs[0]
    assert "step/wall" not in rec.series
    (batch,) = [e for e in series_events("old", rec.series) if isinstance(e, StepBatch)]
    assert batch.wall is None
    if rec.checkpoint is not None:  # continued: NaN for the saved steps, then real times
        done = int(rec.checkpoint.meta.get("epoch", 0))
        t, _rng = continue_run(rec, done + 1)
        t.run()
        w = t.read_series("step/wall")
        n_saved = len(rec.series["step/loss"])
        assert len(w) == t.step and np.isnan(w[:n_saved]).all() and np.isfinite(w[n_saved:]).all()
