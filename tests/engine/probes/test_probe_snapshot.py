"""ProbeSnapshot: the live probe event and the saved probes are one type, converted to and
from a session record without loss, and a malformed record is refused by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from engine.config import ExperimentConfig
from engine.events import EventChannel
from engine.experiment import build_trainer
from engine.probes.layers import ProbedLayer
from engine.probes.snapshot import GROUPS, LayerStats, ProbedLayers, ProbeSnapshot, from_record, to_record
from engine.session import RunRecord, load_session, record_of
from engine.session.archive import session_to_members

FIXTURE = Path(__file__).parents[2] / "fixtures" / "format2_main.descent"
BINS = 6


def _stats(rng: np.random.Generator, n: int, extras: bool) -> LayerStats:
    more = {k: rng.random(n) for k in ("saturated", "dead", "unit_spread")} if extras else {}
    return LayerStats(
        hist=rng.integers(0, 50, (n, BINS)).astype(np.float32),
        range=np.sort(rng.normal(size=(n, 2)), axis=1),
        mean=rng.normal(size=n),
        std=rng.random(n),
        norm=rng.random(n),
        count=np.full(n, 64.0),
        nonfinite=np.zeros(n),
        **more,
    )


def _snaps(count: int = 3) -> list[ProbeSnapshot]:
    rng = np.random.default_rng(0)
    layers = ProbedLayers(
        (ProbedLayer("1", "tanh", 0), ProbedLayer("3", "prelu", 1)),
        (ProbedLayer("0", "linear", 0), ProbedLayer("2", "linear", 1), ProbedLayer("4", "linear", 2)),
        BINS,
        32,
    )
    out = []
    for i in range(count):
        empty = i == 0  # the probe at init has no gradients
        out.append(
            ProbeSnapshot(
                "r",
                step=5 * i,
                every=5,
                layers=layers,
                act=_stats(rng, 2, extras=True),
                agrad=LayerStats.empty(2, BINS) if empty else _stats(rng, 2, extras=False),
                grad=LayerStats.empty(3, BINS) if empty else _stats(rng, 3, extras=False),
                weight=_stats(rng, 3, extras=False),
                update_ratio=np.full(3, np.nan) if empty else rng.random(3),
                prelu_slope=np.array([np.nan, 0.25 - 0.01 * i]),
            )
        )
    return out


def _record(arrays: dict, meta: dict, name: str = "r") -> RunRecord:
    return RunRecord(name=name, config=ExperimentConfig(), arrays=dict(arrays), meta=dict(meta))


def test_snapshots_round_trip_through_a_record():
    snaps = _snaps()
    arrays, meta = to_record(snaps)
    assert arrays["probes/steps"].tolist() == [0, 5, 10]
    assert arrays["probes/act/hist"].shape == (3, 2, BINS) and arrays["probes/act/hist"].dtype == np.float32
    assert arrays["probes/grad/norm"].shape == (3, 3) and "probes/grad/dead" not in arrays
    assert meta["probes"]["effective_every"] == 5 and [a["label"] for a in meta["probes"]["activations"]] == [
        "tanh 1",
        "prelu 2",
    ]
    back = from_record(_record(arrays, meta))
    assert back == snaps
    assert back[1].act.dead is not None and back[1].agrad.dead is None
    assert to_record([]) == ({}, {}) and from_record(_record({}, {})) == []


def test_equality_sees_a_changed_value():
    snaps = _snaps()
    arrays, meta = to_record(snaps)
    arrays["probes/weight/std"] = arrays["probes/weight/std"].copy()
    arrays["probes/weight/std"][2, 1] += 1e-9
    assert from_record(_record(arrays, meta)) != snaps


def test_saved_probes_equal_the_live_ones():
    ch = EventChannel(10_000)
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "device": "cpu",
            "train.epochs": 1,
            "train.threads": 1,
            "metrics.enabled": False,
            "diagnostics.enabled": False,
            "probes.every": 7,
            "model.activation": "prelu",
            "model.hidden": [12, 8],
        }
    )
    t = build_trainer(cfg, emit=ch.put)
    t.run(max_steps=21)
    live = [e for e in ch.drain() if isinstance(e, ProbeSnapshot)]
    assert [s.step for s in live] == [0, 7, 14, 21]
    rec = record_of(t, t.run_id)
    saved = from_record(rec)
    assert saved == live
    assert np.isnan(saved[0].grad.norm).all() and np.isfinite(saved[-1].grad.norm).all()
    assert saved[-1].layers.kinds("act") == ["prelu", "prelu"]


def test_a_session_saved_before_the_snapshot_types_opens_and_saves_identically():
    session = load_session(FIXTURE)
    rec = session.runs[0]
    snaps = from_record(rec)
    assert [s.step for s in snaps] == [0, 5, 10, 15, 16]
    assert snaps[0].layers.labels("weight") == ["linear 1", "linear 2", "linear 3"]
    assert snaps[-1].act.hist.shape == (2, 40) and snaps[-1].act.hist[0].sum() == 128 * 32
    arrays, meta = to_record(snaps)
    saved = {k: v for k, v in rec.arrays.items() if k.startswith("probes/")}
    assert arrays.keys() == saved.keys()
    # Written back, the session's members are byte for byte the ones it was read from.
    rebuilt = dataclasses.replace(rec, arrays={**rec.arrays, **arrays}, meta={**rec.meta, **meta})
    again = dataclasses.replace(session, runs=[rebuilt])
    assert session_to_members(again) == session_to_members(session)


@pytest.mark.parametrize(
    "member,change,message",
    [
        ("probes/act/hist", lambda a: a[:, :, :-1], "'probes/act/hist' has shape"),
        ("probes/grad/norm", lambda a: a[:-1], "'probes/grad/norm' has shape"),
        ("probes/update_ratio", lambda a: a[:, None], "'probes/update_ratio' has shape"),
        ("probes/weight/range", lambda a: a.astype(str), "'probes/weight/range' holds"),
        ("probes/agrad/mean", None, "'probes/agrad/mean' is missing"),
    ],
)
def test_malformed_probes_are_refused_by_name(member, change, message):
    arrays, meta = to_record(_snaps())
    if change is None:
        del arrays[member]
    else:
        arrays[member] = change(arrays[member])
    with pytest.raises(ValueError, match=message):
        from_record(_record(arrays, meta))


def test_malformed_probe_meta_is_refused_by_name():
    arrays, meta = to_record(_snaps())
    meta["probes"]["activations"][1] = {"name": "3", "kind": "prelu"}
    with pytest.raises(ValueError, match=r"probes.activations\[1\]' has no 'index'"):
        from_record(_record(arrays, meta))
    with pytest.raises(ValueError, match="meta 'probes'"):
        from_record(_record(arrays, {"probes": []}))


def test_groups_are_the_snapshot_fields():
    snap = _snaps(1)[0]
    assert [snap.group(g) for g in GROUPS] == [snap.act, snap.agrad, snap.grad, snap.weight]
