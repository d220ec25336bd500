"""BoundarySnapshot: the live grid and the saved one are one type, converted to and from a
session record without loss; a full channel keeps only the newest grid of a run and never
drops its points; a malformed record is refused by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from engine.boundary.snapshot import BoundaryPoints, BoundarySnapshot, from_record, to_record
from engine.config import ExperimentConfig
from engine.events import EventChannel, StepBatch
from engine.experiment import build_trainer
from engine.session import RunRecord, load_session, record_of
from engine.session.archive import session_to_members

FIXTURE = Path(__file__).parents[2] / "fixtures" / "format2_main.descent"
EXTENT = (-1.5, 1.5, -1.0, 2.0)


def _grid(step: int, run_id: str = "r") -> BoundarySnapshot:
    probs = np.random.default_rng(step).dirichlet(np.ones(3), (12, 12)).astype(np.float32)
    return BoundarySnapshot(run_id, step, step // 4, EXTENT, probs)


def _record(arrays: dict, meta: dict, epochs: float = 0.0) -> RunRecord:
    return RunRecord(
        name="r", config=ExperimentConfig(), arrays=dict(arrays), meta=dict(meta), final={"epochs": epochs}
    )


def test_the_last_grid_round_trips_through_a_record():
    snaps = [_grid(4), _grid(8)]
    arrays, meta = to_record(snaps)
    assert arrays.keys() == {"decision_boundary/probs"} and arrays["decision_boundary/probs"].shape == (12, 12, 3)
    assert meta == {"decision_boundary": {"extent": list(EXTENT), "resolution": 12, "step": 8}}
    # The epoch of a saved grid is the run's last one.
    assert from_record(_record(arrays, meta, epochs=2.0)) == [snaps[-1]]
    assert to_record([]) == ({}, {}) and from_record(_record({}, {})) == []


def test_a_full_channel_keeps_the_newest_grid_per_run_and_every_point_set():
    ch = EventChannel(capacity=3)
    points = BoundaryPoints("r", EXTENT, ("0", "1"), np.zeros((4, 2)), np.zeros(4), np.zeros((2, 2)), np.zeros(2))
    ch.put(points)
    ch.put(StepBatch("r", np.arange(1, 3), np.ones(2), np.ones(2), np.ones(2)))
    ch.put(_grid(1, "other"))
    for step in range(2, 9):
        ch.put(_grid(step))
    events = ch.drain()
    assert events[0] is points and ch.dropped == 6
    grids = [(e.run_id, e.step) for e in events if isinstance(e, BoundarySnapshot)]
    assert grids == [("other", 1), ("r", 8)]


def test_the_saved_grid_is_the_last_live_one():
    got: list = []
    cfg = ExperimentConfig().with_updates(
        {"device": "cpu", "train.threads": 1, "data.name": "moons", "data.n_samples": 300, "train.epochs": 2}
    )
    t = build_trainer(cfg, emit=got.append)
    t.run()
    points = [e for e in got if isinstance(e, BoundaryPoints)]
    grids = [e for e in got if isinstance(e, BoundarySnapshot)]
    assert len(points) == 1 and points[0].n_classes == 2 and len(points[0].x_val) == 60
    assert from_record(record_of(t, t.run_id)) == [grids[-1]]


def test_a_session_saved_before_the_snapshot_types_opens_and_saves_identically():
    session = load_session(FIXTURE)
    rec = session.runs[0]
    (snap,) = from_record(rec)
    assert snap.step == 16 and snap.epoch == 4 and snap.resolution == 90 and snap.probs.shape == (90, 90, 3)
    arrays, meta = to_record([snap])
    rebuilt = dataclasses.replace(rec, arrays={**rec.arrays, **arrays}, meta={**rec.meta, **meta})
    assert session_to_members(dataclasses.replace(session, runs=[rebuilt])) == session_to_members(session)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda a, m: a.update({"decision_boundary/probs": a["decision_boundary/probs"][:5]}), "has shape"),
        (lambda a, m: m["decision_boundary"].update(extent=[0, 1]), "'decision_boundary.extent'"),
        (lambda a, m: m["decision_boundary"].pop("resolution"), "has no 'resolution'"),
        (lambda a, m: m.pop("decision_boundary"), "meta 'decision_boundary'"),
    ],
)
def test_a_malformed_grid_is_refused_by_name(change, message):
    arrays, meta = to_record([_grid(4)])
    change(arrays, meta)
    with pytest.raises(ValueError, match=message):
        from_record(_record(arrays, meta))
