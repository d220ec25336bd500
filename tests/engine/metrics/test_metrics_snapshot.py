"""MetricsSnapshot: the live metrics event and the saved metrics are one type, converted to
and from a session record without loss, and a malformed record is refused by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from engine.config import ExperimentConfig
from engine.events import EventChannel
from engine.experiment import build_trainer
from engine.metrics.snapshot import MetricsSnapshot, from_record, to_record
from engine.session import RunRecord, load_session, record_of
from engine.session.archive import session_to_members

FIXTURE = Path(__file__).parents[2] / "fixtures" / "format2_main.descent"


def _snap(epoch: int, rng: np.random.Generator, predictions: bool) -> MetricsSnapshot:
    labels = rng.integers(0, 3, 20)
    probs = rng.dirichlet(np.ones(3), 20).astype(np.float32)
    curves = {f"{k}/{c}": rng.random((3, 5)) for c in range(3) for k in ("roc", "pr")}
    return MetricsSnapshot(
        "r",
        epoch=epoch,
        step=10 * epoch,
        n_classes=3,
        accuracy=float(rng.random()),
        roc_auc_macro=float("nan") if epoch == 1 else float(rng.random()),
        confusion=rng.integers(0, 9, (3, 3)),
        precision=rng.random(3),
        recall=rng.random(3),
        f1=rng.random(3),
        roc_auc=rng.random(3),
        average_precision=rng.random(3),
        scored_classes=np.arange(3, dtype=np.int64),
        labels=labels if predictions else None,
        probs=probs if predictions else None,
        curves=curves if predictions else {},
        max_samples=5000,
    )


def _snaps() -> list[MetricsSnapshot]:
    rng = np.random.default_rng(1)
    return [_snap(1, rng, False), _snap(2, rng, False), _snap(3, rng, True)]


def _record(arrays: dict, meta: dict) -> RunRecord:
    return RunRecord(name="r", config=ExperimentConfig(), arrays=dict(arrays), meta=dict(meta))


def test_snapshots_round_trip_through_a_record():
    snaps = _snaps()
    arrays, meta = to_record(snaps)
    assert arrays["metrics/epochs"].tolist() == [1, 2, 3] and arrays["metrics/confusion"].shape == (3, 3, 3)
    assert arrays["metrics/curves/roc_2"].shape == (3, 5) and arrays["metrics/probs"].shape == (20, 3)
    assert meta == {"metrics": {"n_classes": 3, "scored_classes": [0, 1, 2], "max_samples": 5000}}
    back = from_record(_record(arrays, meta))
    assert back == snaps
    assert back[0].labels is None and back[-1].curves.keys() == snaps[-1].curves.keys()
    assert back[-1].support.tolist() == snaps[-1].confusion.sum(1).tolist()
    assert to_record([]) == ({}, {}) and from_record(_record({}, {})) == []


def test_saved_metrics_equal_the_live_ones_predictions_of_the_last():
    ch = EventChannel(10_000)
    cfg = ExperimentConfig().with_updates(
        {
            "device": "cpu",
            "train.threads": 1,
            "probes.enabled": False,
            "diagnostics.enabled": False,
            "data.name": "moons",
            "data.n_samples": 400,
            "train.epochs": 3,
            "metrics.min_steps": 0,
        }
    )
    t = build_trainer(cfg, emit=ch.put)
    t.run()
    live = [e for e in ch.drain() if isinstance(e, MetricsSnapshot)]
    assert [s.epoch for s in live] == [1, 2, 3]
    saved = from_record(record_of(t, t.run_id))
    assert saved[:-1] == [s.without_predictions() for s in live[:-1]]
    saved_last = saved[-1]
    assert saved_last == live[-1]
    assert saved_last.scored_classes.tolist() == [1] and saved_last.roc_auc.shape == (1,)


def test_a_session_saved_before_the_snapshot_types_opens_and_saves_identically():
    session = load_session(FIXTURE)
    rec = session.runs[0]
    snaps = from_record(rec)
    assert [s.epoch for s in snaps] == [1, 4] and snaps[-1].probs.shape == (60, 3)
    assert set(snaps[-1].curves) == {"roc/0", "roc/1", "roc/2", "pr/0", "pr/1", "pr/2"}
    arrays, meta = to_record(snaps)
    assert arrays.keys() == {k for k in rec.arrays if k.startswith("metrics/")}
    rebuilt = dataclasses.replace(rec, arrays={**rec.arrays, **arrays}, meta={**rec.meta, **meta})
    again = dataclasses.replace(session, runs=[rebuilt])
    assert session_to_members(again) == session_to_members(session)


@pytest.mark.parametrize(
    "member,change,message",
    [
        ("metrics/confusion", lambda a: a[:, :2], "'metrics/confusion' has shape"),
        ("metrics/roc_auc", lambda a: a[:-1], "'metrics/roc_auc' has shape"),
        ("metrics/probs", lambda a: a[:, :2], "'metrics/probs' has shape"),
        ("metrics/curves/pr_1", lambda a: a[:2], "'metrics/curves/pr_1' has shape"),
        ("metrics/epochs", lambda a: a.astype(np.float64), "'metrics/epochs' holds float64"),
        ("metrics/labels", None, "'metrics/labels' is missing"),
    ],
)
def test_malformed_metrics_are_refused_by_name(member, change, message):
    arrays, meta = to_record(_snaps())
    if change is None:
        del arrays[member]
    else:
        arrays[member] = change(arrays[member])
    with pytest.raises(ValueError, match=message):
        from_record(_record(arrays, meta))


def test_malformed_metrics_meta_is_refused_by_name():
    arrays, meta = to_record(_snaps())
    meta["metrics"]["scored_classes"] = [0, 7]
    with pytest.raises(ValueError, match="'metrics.scored_classes'"):
        from_record(_record(arrays, meta))
