"""BatchNormSnapshot: the live batch-norm events and the saved statistics are one type,
converted to and from a session record without loss, and a malformed record is refused by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from engine.batchnorm.snapshot import BatchNormSnapshot, expected_gap, from_record, to_record
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import RunRecord, load_session, record_of
from engine.session.archive import session_to_members

FIXTURE = Path(__file__).parents[2] / "fixtures" / "format2_main.descent"
LAYERS = ("hidden layer 1, before the activation (32 units)", "hidden layer 2, before the activation (16 units)")


def _snap(steps: list[int], epochs: list[list[float]], rng: np.random.Generator) -> BatchNormSnapshot:
    t = len(steps)
    unit = {k: rng.normal(size=(t, 2, 4)).astype(np.float32) for k in ("batch_mean", "running_mean")}
    unit |= {k: rng.random((t, 2, 4)).astype(np.float32) for k in ("batch_var", "running_var")}
    return BatchNormSnapshot(
        "r",
        LAYERS,
        4,
        16,
        5,
        np.array(steps, dtype=np.int64),
        **unit,
        mean_gap=rng.random((t, 2)).astype(np.float32),
        var_ratio=rng.random((t, 2)).astype(np.float32),
        epochs=np.array(epochs, dtype=np.float64).reshape(-1, 5),
    )


def _record(arrays: dict, meta: dict) -> RunRecord:
    return RunRecord(name="r", config=ExperimentConfig(), arrays=dict(arrays), meta=dict(meta))


def test_snapshots_concatenate_into_a_record_and_read_back_as_one():
    rng = np.random.default_rng(2)
    snaps = [_snap([5, 10], [], rng), _snap([], [[1, 0.9, 0.6, 1.2, 0.5]], rng), _snap([15], [], rng)]
    arrays, meta = to_record(snaps)
    assert arrays["batchnorm/steps"].tolist() == [5, 10, 15] and arrays["batchnorm/batch_mean"].shape == (3, 2, 4)
    assert arrays["batchnorm/mean_gap"].dtype == np.float32 and arrays["batchnorm/epochs"].shape == (1, 5)
    assert meta["batchnorm"] == {
        "layers": list(LAYERS),
        "units": 4,
        "batch_size": 16,
        "every": 5,
        "expected_gap": pytest.approx(np.sqrt(2 / np.pi) / 4),
    }
    (back,) = from_record(_record(arrays, meta))
    assert back.steps.tolist() == [5, 10, 15] and back.expected_gap == expected_gap(16)
    np.testing.assert_array_equal(back.running_var[1], snaps[0].running_var[1])
    np.testing.assert_array_equal(back.epochs, snaps[1].epochs)
    assert from_record(_record(*to_record([back]))) == [back]
    assert to_record([]) == ({}, {}) and from_record(_record({}, {})) == []


def test_saved_statistics_equal_the_live_ones():
    got: list = []
    cfg = ExperimentConfig().with_updates(
        {
            "device": "cpu",
            "train.threads": 1,
            "data.name": "digits",
            "model.batch_norm": "before",
            "model.hidden": [16],
            "train.batch_size": 32,
            "train.epochs": 2,
        }
    )
    t = build_trainer(cfg, emit=got.append)
    t.run()
    live = [e for e in got if isinstance(e, BatchNormSnapshot)]
    assert sum(len(s.epochs) for s in live) == 2 and all(s.batch_size == 32 for s in live)
    rec = record_of(t, t.run_id)
    arrays, meta = to_record(live)
    assert meta == {"batchnorm": rec.meta["batchnorm"]}
    for k, v in arrays.items():
        np.testing.assert_array_equal(v, rec.arrays[k])
        assert v.dtype == rec.arrays[k].dtype
    (saved,) = from_record(rec)
    assert saved.layers == live[0].layers and len(saved.steps) == sum(len(s.steps) for s in live)


def test_a_session_saved_before_the_snapshot_types_opens_and_saves_identically():
    session = load_session(FIXTURE)
    rec = session.runs[0]
    (snap,) = from_record(rec)
    assert snap.steps.tolist() == [1, 6, 11, 16] and snap.units == 8 and snap.batch_size == 64
    assert snap.batch_mean.shape == (4, 2, 8) and snap.epochs[:, 0].tolist() == [1, 2, 3, 4]
    arrays, meta = to_record([snap])
    assert arrays.keys() == {k for k in rec.arrays if k.startswith("batchnorm/")}
    rebuilt = dataclasses.replace(rec, arrays={**rec.arrays, **arrays}, meta={**rec.meta, **meta})
    assert session_to_members(dataclasses.replace(session, runs=[rebuilt])) == session_to_members(session)


@pytest.mark.parametrize(
    "member,change,message",
    [
        ("batchnorm/batch_var", lambda a: a[:, :, :3], "'batchnorm/batch_var' has shape"),
        ("batchnorm/mean_gap", lambda a: a[:, :1], "'batchnorm/mean_gap' has shape"),
        ("batchnorm/epochs", lambda a: a[:, :4], "'batchnorm/epochs' has shape"),
        ("batchnorm/running_mean", None, "'batchnorm/running_mean' is missing"),
    ],
)
def test_malformed_statistics_are_refused_by_name(member, change, message):
    arrays, meta = to_record([_snap([5, 10], [[1, 0.9, 0.6, 1.2, 0.5]], np.random.default_rng(3))])
    if change is None:
        del arrays[member]
    else:
        arrays[member] = change(arrays[member])
    with pytest.raises(ValueError, match=message):
        from_record(_record(arrays, meta))


def test_malformed_batchnorm_meta_is_refused_by_name():
    arrays, meta = to_record([_snap([5], [], np.random.default_rng(4))])
    del meta["batchnorm"]["units"]
    with pytest.raises(ValueError, match="'batchnorm' has no 'units'"):
        from_record(_record(arrays, meta))
