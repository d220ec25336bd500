"""LandscapeSnapshot: the live path and sharpness events and the saved ones are one type,
converted to and from a session record without loss; a malformed record is refused by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.landscape.snapshot import LandscapeSnapshot, from_record, to_record
from engine.session import RunRecord, load_session, record_of
from engine.session.archive import session_to_members

FIXTURE = Path(__file__).parents[2] / "fixtures" / "format2_main.descent"
NAMES = ("0.weight", "0.bias")


def _path(steps: list[int], every: int = 5, thinned: int = 0) -> LandscapeSnapshot:
    params = np.random.default_rng(sum(steps)).normal(size=(len(steps), 6)).astype(np.float32)
    return LandscapeSnapshot("r", NAMES, 6, every, thinned, np.array(steps, np.int64), params, np.zeros((0, 4)))


def _sharpness(epoch: int, lam: float, lr: float, every: int = 5, thinned: int = 0) -> LandscapeSnapshot:
    row = np.array([[epoch, 10 * epoch, lam, lr]])
    return LandscapeSnapshot("r", NAMES, 6, every, thinned, np.zeros(0, np.int64), np.zeros((0, 6), np.float32), row)


def _record(arrays: dict, meta: dict) -> RunRecord:
    return RunRecord(name="r", config=ExperimentConfig(), arrays=dict(arrays), meta=dict(meta))


def test_snapshots_concatenate_into_a_record_and_read_back_as_one():
    snaps = [
        _path([0, 5]),
        _sharpness(1, 12.5, 0.1),
        _path([10, 15], every=10, thinned=1),
        _sharpness(2, 18.0, 0.1, every=10, thinned=1),
    ]
    arrays, meta = to_record(snaps)
    assert arrays["landscape/trajectory_steps"].tolist() == [0, 5, 10, 15]
    assert arrays["landscape/trajectory"].dtype == np.float32 and arrays["landscape/sharpness"].shape == (2, 4)
    assert meta["landscape"] == {
        "param_names": list(NAMES),
        "n_params": 6,
        "snapshot_every": 10,
        "thinned": 1,
        "sharpness_columns": ["epoch", "step", "lambda_max", "lr"],
    }
    (back,) = from_record(_record(arrays, meta))
    np.testing.assert_array_equal(back.params[2:], snaps[2].params)
    assert back.two_over_lr.tolist() == [20.0, 20.0] and back.every == 10
    assert from_record(_record(*to_record([back]))) == [back]
    assert to_record([]) == ({}, {}) and from_record(_record({}, {})) == []


def test_a_repeated_step_replaces_the_stored_row():
    first, again = _path([0, 5]), _path([5])
    arrays, _ = to_record([first, again])
    assert arrays["landscape/trajectory_steps"].tolist() == [0, 5]
    np.testing.assert_array_equal(arrays["landscape/trajectory"][1], again.params[0])


def test_a_run_without_a_path_stores_only_its_sharpness():
    no_path = dataclasses.replace(_sharpness(1, 3.0, 0.5), every=0)
    arrays, meta = to_record([no_path])
    assert arrays.keys() == {"landscape/sharpness"} and "snapshot_every" not in meta["landscape"]
    (back,) = from_record(_record(arrays, meta))
    assert back.every == 0 and back.params.shape == (0, 6) and back.sharpness.tolist() == [[1, 10, 3.0, 0.5]]


def test_the_saved_path_and_sharpness_equal_the_live_ones():
    got: list = []
    cfg = ExperimentConfig().with_updates(
        {
            "device": "cpu",
            "train.threads": 1,
            "data.n_samples": 300,
            "train.epochs": 3,
            "landscape.snapshot_every": 4,
            "landscape.sharpness_every": 1,
        }
    )
    t = build_trainer(cfg, emit=got.append)
    t.run()
    live = [e for e in got if isinstance(e, LandscapeSnapshot)]
    rec = record_of(t, t.run_id)
    arrays, meta = to_record(live)
    for k in ("landscape/trajectory", "landscape/trajectory_steps", "landscape/sharpness"):
        np.testing.assert_array_equal(arrays[k], rec.arrays[k])
    assert all(rec.meta["landscape"][k] == v for k, v in meta["landscape"].items())
    assert from_record(rec)[0].sharpness[:, 0].tolist() == [1, 2, 3]


def test_a_session_saved_before_the_snapshot_types_opens_and_saves_identically():
    session = load_session(FIXTURE)
    rec = session.runs[0]
    (snap,) = from_record(rec)
    assert snap.steps.tolist() == [0, 4, 8, 12, 16] and snap.params.shape == (5, snap.n_params) and snap.every == 4
    assert snap.sharpness[:, 0].tolist() == [1, 2, 4]
    arrays, meta = to_record([snap])
    rebuilt = dataclasses.replace(rec, arrays={**rec.arrays, **arrays}, meta={**rec.meta, **meta})
    assert session_to_members(dataclasses.replace(session, runs=[rebuilt])) == session_to_members(session)


@pytest.mark.parametrize(
    "member,change,message",
    [
        ("landscape/trajectory", lambda a: a[:, :5], "'landscape/trajectory' has shape"),
        ("landscape/trajectory_steps", lambda a: a[:-1], "'landscape/trajectory_steps' has shape"),
        ("landscape/sharpness", lambda a: a[:, :3], "'landscape/sharpness' has shape"),
        ("landscape/trajectory", lambda a: a.astype(np.int64), "'landscape/trajectory' holds int64"),
    ],
)
def test_a_malformed_path_is_refused_by_name(member, change, message):
    arrays, meta = to_record([_path([0, 5]), _sharpness(1, 2.0, 0.1)])
    arrays[member] = change(arrays[member])
    with pytest.raises(ValueError, match=message):
        from_record(_record(arrays, meta))
