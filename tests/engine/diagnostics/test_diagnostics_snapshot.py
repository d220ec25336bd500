"""DiagnosticSnapshot: the live finding and the saved findings are one type, converted to and
from a session record without loss, and a malformed entry is refused by name."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from engine.config import ExperimentConfig
from engine.diagnostics.checks import Diagnostic
from engine.diagnostics.snapshot import DiagnosticSnapshot, from_record, to_record
from engine.experiment import build_trainer
from engine.session import RunRecord, load_session, record_of
from engine.session.archive import session_to_members

FIXTURE = Path(__file__).parents[2] / "fixtures" / "format2_main.descent"


def _record(meta: dict) -> RunRecord:
    return RunRecord(name="r", config=ExperimentConfig(), meta=dict(meta))


def _snaps() -> list[DiagnosticSnapshot]:
    return [
        DiagnosticSnapshot("r", Diagnostic("initial_loss", "info", 0, "as expected", value=1.1)),
        DiagnosticSnapshot("r", Diagnostic("saturation", "warning", 40, "tanh 2 saturated", 2, "tanh 2", 0.93)),
        DiagnosticSnapshot("r", Diagnostic("divergence", "error", 97, "the loss became NaN", 5)),
    ]


def test_findings_round_trip_through_a_record():
    snaps = _snaps()
    arrays, meta = to_record(snaps)
    assert arrays == {} and [d["kind"] for d in meta["diagnostics"]] == ["initial_loss", "saturation", "divergence"]
    assert meta["diagnostics"][2]["value"] is None  # NaN is stored as null
    back = from_record(_record(meta))
    assert back == snaps and math.isnan(back[2].finding.value)
    assert to_record([]) == ({}, {"diagnostics": []}) and from_record(_record({})) == []


def test_saved_findings_equal_the_live_ones():
    got: list = []
    cfg = ExperimentConfig().with_updates(
        {
            "device": "cpu",
            "train.threads": 1,
            "data.name": "digits",
            "optim.name": "sgd",
            "optim.lr": 10.0,
            "train.epochs": 3,
            "probes.enabled": True,
        }
    )
    t = build_trainer(cfg, emit=got.append)
    t.run()
    live = [e for e in got if isinstance(e, DiagnosticSnapshot)]
    kinds = {s.finding.kind for s in live}
    assert "initial_loss" in kinds and kinds & {"lr_too_high", "divergence"}
    assert from_record(record_of(t, t.run_id)) == live


def test_a_session_saved_before_the_snapshot_types_opens_and_saves_identically():
    session = load_session(FIXTURE)
    rec = session.runs[0]
    snaps = from_record(rec)
    assert [s.finding.kind for s in snaps] == ["initial_loss"] and snaps[0].finding.level == "info"
    _, meta = to_record(snaps)
    again = dataclasses.replace(session, runs=[dataclasses.replace(rec, meta={**rec.meta, **meta})])
    assert session_to_members(again) == session_to_members(session)


@pytest.mark.parametrize(
    "found,message",
    [
        ({"kind": "x"}, "diagnostics"),
        ([{"kind": "x", "level": "info", "message": "m"}], r"'diagnostics\[0\]' has no 'step'"),
        ([{"kind": "x", "level": "info", "step": "soon", "message": "m"}], r"'diagnostics\[0\]' is malformed"),
        ([{"kind": "x", "level": "info", "step": 1, "message": "m"}, 3], r"'diagnostics\[1\]' is 3"),
    ],
)
def test_malformed_findings_are_refused_by_name(found, message):
    with pytest.raises(ValueError, match=message):
        from_record(_record({"diagnostics": found}))
