"""Per-layer update size ‖Δw‖ and the optimizer-state norms, against independent
computations around one optimizer step; saved in sessions, in `info` and in the CSV export."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.commands.info import describe
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.export.csv import write_csvs
from engine.probes import weight_layers
from engine.session import FORMAT_VERSION, Session, load_session, record_of, save_session
from engine.updates import UpdateSnapshot, from_record
from engine.updates.hook import UpdateHook

BASE = {
    "data.name": "moons",
    "data.n_samples": 200,
    "device": "cpu",
    "train.threads": 1,
    "train.batch_size": 32,
    "train.epochs": 2,
    "model.hidden": [16, 16],
    "model.activation": "tanh",  # no exactly-zero gradients (Adam's first step is ±lr everywhere)
    "probes.every": 3,
}


def _trainer(**updates):
    events: list = []
    t = build_trainer(ExperimentConfig().with_updates(BASE | updates), emit=events.append)
    return t, events


def _one_probed_step(t, events):
    """Run up to just before the first probed step, then that step alone: the weights, the
    gradients' copies and the snapshot around it."""
    t.run(max_steps=2)
    weights = [m.weight for _, m in weight_layers(t.model)]
    before = [w.detach().clone() for w in weights]
    t.run(max_steps=1)
    snap = [e for e in events if isinstance(e, UpdateSnapshot)][-1]
    assert snap.step == t.step == 3
    return weights, before, snap


def test_update_norm_is_the_weights_difference_and_velocity_the_momentum_buffer():
    t, events = _trainer(**{"optim.name": "momentum", "optim.lr": 0.05, "optim.weight_decay": 0.01})
    weights, before, snap = _one_probed_step(t, events)
    delta = np.array([float((w.detach() - b).norm()) for w, b in zip(weights, before)])
    assert snap.layers == ("linear 1", "linear 2", "linear 3")
    np.testing.assert_allclose(snap.update_norm, delta, rtol=1e-5)
    np.testing.assert_allclose(snap.weight_norm, [float(b.norm()) for b in before], rtol=1e-6)
    np.testing.assert_allclose(snap.update_ratio, delta / snap.weight_norm, rtol=1e-5)
    assert snap.state_names == ("velocity",) and snap.optimizer == "momentum"
    buffers = [float(t.optimizer.state[w]["momentum_buffer"].norm()) for w in weights]
    np.testing.assert_allclose(snap.state[0], buffers, rtol=1e-6)
    # SGD with momentum: Δw = −lr·v, so ‖Δw‖ = lr·‖v‖ (the buffer includes the weight decay)
    np.testing.assert_allclose(snap.update_norm, 0.05 * snap.state[0], rtol=1e-4)


def test_plain_sgd_step_is_lr_times_the_gradient_plus_weight_decay_and_has_no_state():
    t, events = _trainer(**{"optim.name": "sgd", "optim.lr": 0.1, "optim.weight_decay": 0.02})
    weights, before, snap = _one_probed_step(t, events)
    expected = [0.1 * float((w.grad + 0.02 * b).norm()) for w, b in zip(weights, before)]
    np.testing.assert_allclose(snap.update_norm, expected, rtol=1e-5)
    assert snap.state_names == () and snap.state.shape == (0, 3)


def test_adam_first_step_moves_every_weight_by_about_lr():
    t, events = _trainer(**{"optim.name": "adam", "optim.lr": 0.003, "probes.every": 1})
    t.run(max_steps=1)
    snap = next(e for e in events if isinstance(e, UpdateSnapshot))
    n = np.array([m.weight.numel() for _, m in weight_layers(t.model)])
    per_element = snap.update_norm / np.sqrt(n)  # RMS |Δw|
    np.testing.assert_allclose(per_element, 0.003, rtol=0.02)
    names = list(snap.state_names)
    assert names == ["exp_avg", "exp_avg_sq_rms", "adam_step"]
    np.testing.assert_allclose(snap.state[names.index("adam_step")], 0.003, rtol=0.02)
    # m = (1 − β1)·g and √v = √(1 − β2)·|g| after one step: their norms say so
    w0 = [m.weight for _, m in weight_layers(t.model)][0]
    g = t.optimizer.state[w0]["exp_avg"] / 0.1
    assert snap.state[0, 0] == pytest.approx(float(0.1 * g.norm()), rel=1e-5)
    assert snap.state[1, 0] == pytest.approx(float((0.001 * g.square()).mean().sqrt()), rel=1e-4)


@pytest.mark.parametrize(("name", "state"), [("rmsprop", "square_avg_rms"), ("adagrad", "sum_rms")])
def test_rmsprop_and_adagrad_accumulators_are_read_from_torch_state(name, state):
    t, events = _trainer(**{"optim.name": name, "optim.lr": 0.01})
    weights, _, snap = _one_probed_step(t, events)
    key = "square_avg" if name == "rmsprop" else "sum"
    assert snap.state_names == (state,)
    np.testing.assert_allclose(
        snap.state[0], [float(t.optimizer.state[w][key].mean().sqrt()) for w in weights], rtol=1e-5
    )


@pytest.mark.parametrize("probe_gradients", [False, True])
def test_copies_weights_only_on_the_probe_cadence_or_uses_the_probes_copy(monkeypatch, probe_gradients):
    t, events = _trainer(**{"optim.name": "momentum", "probes.every": 4, "probes.gradients": probe_gradients})
    hook = next(h for h in t.hooks if isinstance(h, UpdateHook))
    taken: list[int] = []
    take = hook.weights_copy.take
    monkeypatch.setattr(hook.weights_copy, "take", lambda ws: taken.append(t.step) or take(ws))
    t.run()
    snaps = [e for e in events if isinstance(e, UpdateSnapshot)]
    assert t.step == 10 and [s.step for s in snaps] == [4, 8]
    # before the probed steps only; none when the probes copy the weights of that step anyway
    assert taken == ([] if probe_gradients else [3, 7])
    if probe_gradients:  # the probes' ratio is the same measurement
        probes = next(h for h in t.hooks if h.name == "probes")
        ratios = {p.step: p.update_ratio for p in probes.snapshots}
        for s in snaps:
            np.testing.assert_allclose(s.update_ratio, ratios[s.step], rtol=1e-5)
    # either way the same numbers
    other, other_events = _trainer(
        **{"optim.name": "momentum", "probes.every": 4, "probes.gradients": not probe_gradients}
    )
    other.run()
    for a, b in zip(snaps, [e for e in other_events if isinstance(e, UpdateSnapshot)]):
        np.testing.assert_allclose(a.update_norm, b.update_norm, rtol=1e-4)
        np.testing.assert_allclose(a.weight_norm, b.weight_norm, rtol=1e-5)


def test_thinning_doubles_the_interval_like_the_probes():
    t, events = _trainer(**{"probes.every": 1, "probes.max_snapshots": 10, "train.epochs": 4})
    t.run()
    hook = next(h for h in t.hooks if isinstance(h, UpdateHook))
    probes = next(h for h in t.hooks if h.name == "probes")
    assert t.step == 20 and hook.every == probes.every == 4
    assert [s.step for s in hook.snapshots] == [4, 8, 12, 16, 20]
    assert [s.step for s in probes.snapshots] == [0, 4, 8, 12, 16, 20]  # the same steps, and the init


def test_saved_in_sessions_info_and_csv_and_a_format4_file_opens_without_them(tmp_path):
    t, events = _trainer(**{"optim.name": "adamw"})
    t.run()
    snaps = [e for e in events if isinstance(e, UpdateSnapshot)]
    path = save_session(Session(runs=[record_of(t)]), tmp_path / "u.descent")
    loaded = load_session(path)
    assert loaded.format_version == FORMAT_VERSION == 5
    assert from_record(loaded.runs[0]) == [UpdateSnapshot("run", *tuple(vars(s).values())[1:]) for s in snaps]

    entry = json.loads(json.dumps(describe(loaded)))["runs"][0]["updates"]
    assert entry["steps"] == [3, 6, 9] and entry["state_names"] == ["exp_avg", "exp_avg_sq_rms", "adam_step"]
    assert entry["update_ratio"][0] == pytest.approx(list(snaps[0].update_ratio))

    files = write_csvs(loaded, tmp_path / "csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "csv" / "run_updates.csv").read_text())))
    assert tmp_path / "csv" / "run_updates.csv" in files and len(rows) == 3 * 3
    assert rows[1]["step"] == "3" and rows[1]["layer"] == "linear 2"
    assert float(rows[1]["update_norm"]) == pytest.approx(snaps[0].update_norm[1])
    assert float(rows[1]["adam_step"]) == pytest.approx(snaps[0].state[2, 1])

    # A format-4 file (written before these members existed) opens and has none.
    off, _ = _trainer(**{"probes.updates": False})
    off.run()
    plain = save_session(Session(runs=[record_of(off)]), tmp_path / "plain.descent")
    old = tmp_path / "v4.descent"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(old, "w") as dst:
        for member in src.infolist():
            data = src.read(member)
            if member.filename == "manifest.json":
                data = data.replace(f'"format_version": {FORMAT_VERSION}'.encode(), b'"format_version": 4')
            dst.writestr(member, data)
    v4 = load_session(old)
    assert v4.format_version == 4 and from_record(v4.runs[0]) == []
    assert "updates" not in describe(v4)["runs"][0]
    fixture = load_session(Path(__file__).parents[2] / "fixtures" / "format2_main.descent")
    assert from_record(fixture.runs[0]) == []


def test_a_malformed_member_is_named():
    t, _ = _trainer()
    t.run()
    rec = record_of(t)
    rec.arrays["updates/state"] = np.zeros((1, 2, 3))
    with pytest.raises(ValueError, match="updates/state"):
        from_record(rec)
    rec = record_of(t)
    rec.meta["updates"]["state_names"] = ["velocity", "bogus"]
    with pytest.raises(ValueError, match="state_names"):
        from_record(rec)


def test_the_hook_state_continues_the_history():
    t, _ = _trainer(**{"optim.name": "momentum"})
    t.run(max_steps=7)
    state = t.state_dict()
    t2, events = _trainer(**{"optim.name": "momentum"})
    t2.load_state_dict(state)
    t2.run()
    hook = next(h for h in t2.hooks if isinstance(h, UpdateHook))
    assert [s.step for s in hook.snapshots] == [3, 6, 9]
    assert torch.is_tensor(t2.optimizer.state[next(iter(t2.optimizer.state))]["momentum_buffer"])
