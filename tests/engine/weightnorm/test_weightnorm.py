"""Weight norm per layer: the values are the weights' norms, a saved run reads back the
same snapshots, a continued run equals the uninterrupted one, malformed members are named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import record_of
from engine.session.record import RunRecord
from engine.weightnorm import WeightNormSnapshot, from_record, to_record


def config(**more) -> ExperimentConfig:
    base = {
        "data.n_samples": 200,
        "model.hidden": [8, 8],
        "train.epochs": 2,
        "train.batch_size": 32,
        "probes.enabled": True,
        "probes.every": 3,
        "optim.weight_decay": 0.5,
        "device": "cpu",
    }
    return ExperimentConfig().with_updates({**base, **more})


def test_norms_are_the_weight_matrices_norms_and_shrink_under_weight_decay():
    events: list = []
    t = build_trainer(config(), emit=events.append)
    t.run()
    snaps = [e for e in events if isinstance(e, WeightNormSnapshot)]
    assert snaps[0].step == 0 and snaps[-1].step == t.step
    assert [s.step for s in snaps[1:-1]] == list(range(3, t.step, 3))
    weights = [m.weight for m in t.model.modules() if isinstance(m, torch.nn.Linear)]
    assert snaps[-1].layers == ("Linear 1 (2→8)", "Linear 2 (8→8)", "Linear 3 (8→3)")  # the spiral has three classes
    want = [float(torch.linalg.vector_norm(w.detach().double())) for w in weights]
    np.testing.assert_allclose(snaps[-1].norms, want, rtol=1e-12)
    assert (snaps[-1].norms < snaps[0].norms).all()  # weight decay 0.5 shrinks them


def test_off_without_probes():
    events: list = []
    build_trainer(config(**{"probes.enabled": False}), emit=events.append).run()
    assert not [e for e in events if isinstance(e, WeightNormSnapshot)]


def test_a_saved_run_reads_back_the_live_snapshots():
    events: list = []
    t = build_trainer(config(), run_id="a", emit=events.append)
    t.run()
    live = [e for e in events if isinstance(e, WeightNormSnapshot)]
    rec = record_of(t, "a")
    back = from_record(rec)
    assert [s.step for s in back] == [s.step for s in live]
    for a, b in zip(back, live):
        assert a.layers == b.layers and np.array_equal(a.norms, b.norms)


def test_a_continued_run_has_the_uninterrupted_runs_history():
    straight = build_trainer(config())
    straight.run()
    first = build_trainer(config())
    first.run(max_steps=5)
    state = first.state_dict()
    second = build_trainer(config())
    second.load_state_dict(state)
    second.run()
    a = from_record(record_of(straight, "x"))
    b = from_record(record_of(second, "x"))
    assert [s.step for s in a] == [s.step for s in b]
    np.testing.assert_array_equal(np.stack([s.norms for s in a]), np.stack([s.norms for s in b]))


def test_malformed_members_are_named():
    snaps = [WeightNormSnapshot("r", k, ("0", "2"), np.array([1.0, 2.0])) for k in (0, 3)]
    arrays, meta = to_record(snaps)
    rec = RunRecord("r", config(), arrays={**arrays, "weightnorm/norms": np.zeros((2, 3))}, meta=meta)
    with pytest.raises(ValueError, match="weightnorm/norms"):
        from_record(rec)
    rec = RunRecord("r", config(), arrays=arrays, meta={"weightnorm": {"layers": "0,2"}})
    with pytest.raises(ValueError, match="weightnorm.layers"):
        from_record(rec)
