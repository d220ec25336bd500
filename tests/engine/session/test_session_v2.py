"""Session format 2: checkpoints that continue a run exactly, older files still open."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from engine.compare import LockstepRunner
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import (
    FORMAT_VERSION,
    CheckpointError,
    Session,
    SessionError,
    capture_checkpoint,
    continue_run,
    load_session,
    record_of,
    save_session,
)
from engine.session.archive import session_to_members


@pytest.fixture
def cfg() -> ExperimentConfig:
    return ExperimentConfig().with_updates(
        {
            "data.n_samples": 200,
            "model.hidden": [8],
            "train.epochs": 3,
            "train.batch_size": 48,
            "device": "cpu",
            "optim.name": "adam",
            "schedule.name": "step",
            "schedule.step_size": 1,
            "probes.enabled": False,
            "diagnostics.enabled": False,
            "metrics.enabled": False,
        }
    )


def _record_with_checkpoint(cfg: ExperimentConfig, steps: int):
    runner = LockstepRunner()
    runner.add("r", cfg)
    runner.run(max_rounds=steps)
    return runner.records()[0]


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_continued_run_matches_uninterrupted_run(tmp_path, cfg, dropout):
    cfg = cfg.with_updates({"model.dropout": dropout})
    whole = build_trainer(cfg)
    torch.set_rng_state(torch.Generator().manual_seed(cfg.seed + 3).get_state())
    whole.run()
    # stop in the middle of epoch 2 (4 steps per epoch), save, open, continue
    rec = _record_with_checkpoint(cfg, 6)
    assert rec.checkpoint.meta["step"] == 6 and rec.checkpoint.meta["pos"] == 2 * 48
    assert ("rng/dropout/0" in rec.checkpoint.arrays) == (dropout > 0)  # dropout masks resume exactly
    save_session(Session(runs=[rec]), tmp_path / "half.descent")
    loaded = load_session(tmp_path / "half.descent").runs[0]
    t, rng = continue_run(loaded)
    torch.set_rng_state(rng)
    t.run()
    assert t.step == whole.step == 12 and t.state == "finished"
    for k in ("step/loss", "step/lr", "epoch/val_loss", "epoch/train_loss", "epoch/lr"):
        np.testing.assert_array_equal(t.series[k].array(), whole.series[k].array(), err_msg=k)
    for k, v in whole.model.state_dict().items():
        assert torch.equal(v, t.model.state_dict()[k]), k


def test_continue_with_more_epochs_and_refusals(cfg):
    rec = _record_with_checkpoint(cfg, 100)
    t, _ = continue_run(rec, epochs=5)
    assert t.epoch == 3 and t.config.train.epochs == 5
    t.run()
    assert t.epoch == 5 and len(t.series["epoch/val_loss"].array()) == 5
    with pytest.raises(CheckpointError, match="already has 3 epochs"):
        continue_run(rec, epochs=3)
    rec.config = rec.config.with_updates({"model.hidden": [16]})
    with pytest.raises(CheckpointError, match="shape"):
        continue_run(rec)
    rec.checkpoint = None
    with pytest.raises(CheckpointError, match="without weights"):
        continue_run(rec)


def test_round_trip_with_checkpoint_is_byte_stable(tmp_path, cfg):
    rec = _record_with_checkpoint(cfg, 5)
    s = Session(runs=[rec], meta={"comparison": {"order": ["r"]}})
    save_session(s, tmp_path / "a.descent")
    s2 = load_session(tmp_path / "a.descent")
    assert s2.format_version == FORMAT_VERSION == 5
    ck, ck2 = rec.checkpoint, s2.runs[0].checkpoint
    assert ck.meta == ck2.meta and ck.arrays.keys() == ck2.arrays.keys()
    for k in ck.arrays:
        assert np.array_equal(ck.arrays[k], ck2.arrays[k]) and ck.arrays[k].dtype == ck2.arrays[k].dtype, k
    save_session(s2, tmp_path / "b.descent")
    assert (tmp_path / "a.descent").read_bytes() == (tmp_path / "b.descent").read_bytes()


def test_version_1_file_still_opens(tmp_path, cfg):
    t = build_trainer(cfg)
    t.run()
    members = session_to_members(Session(runs=[record_of(t, "old")]))
    manifest = json.loads(members["manifest.json"])
    manifest["format_version"] = 1
    for r in manifest["runs"]:
        r.pop("checkpoint")
    members["manifest.json"] = json.dumps(manifest).encode()
    p = tmp_path / "v1.descent"
    with zipfile.ZipFile(p, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    s = load_session(p)
    assert s.format_version == 1 and s.runs[0].checkpoint is None
    np.testing.assert_array_equal(s.runs[0].series["step/loss"], t.series["step/loss"].array())
    with pytest.raises(CheckpointError, match="without weights"):
        continue_run(s.runs[0])


def test_corrupt_checkpoint_member_is_named(tmp_path, cfg):
    rec = _record_with_checkpoint(cfg, 2)
    members = session_to_members(Session(runs=[rec]))
    members["runs/000/checkpoint.json"] = b"[1, 2"
    p = tmp_path / "bad.descent"
    with zipfile.ZipFile(p, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(SessionError, match="checkpoint.json"):
        load_session(p)


def test_capture_between_steps_of_plain_trainer(cfg):
    t = build_trainer(cfg)
    t.run(max_steps=3)
    ck = capture_checkpoint(t)
    assert {"model/1.weight", "optim/0/exp_avg", "rng/batch", "rng/global", "perm"} <= set(ck.arrays)
    assert ck.meta["step"] == 3 and ck.meta["optimizer"]["class"] == "Adam"


def test_large_arrays_are_stored_uncompressed_and_round_trip(tmp_path, cfg):
    rec = _record_with_checkpoint(cfg, 2)
    big = np.random.default_rng(0).normal(size=(100, 1000)).astype(np.float32)  # 400 kB of float noise
    rec.arrays["landscape/trajectory"] = big
    p = tmp_path / "big.descent"
    save_session(Session(runs=[rec]), p)
    with zipfile.ZipFile(p) as z:
        info = z.getinfo("runs/000/arrays/landscape/trajectory.npy")
        assert info.compress_type == zipfile.ZIP_STORED
        assert z.getinfo("runs/000/config.json").compress_type == zipfile.ZIP_DEFLATED
    back = load_session(p).runs[0]
    assert np.array_equal(back.arrays["landscape/trajectory"], big)
    save_session(load_session(p), tmp_path / "again.descent")
    assert p.read_bytes() == (tmp_path / "again.descent").read_bytes()


def test_feature_states_equal_to_the_runs_arrays_are_written_once(tmp_path, cfg):
    cfg = cfg.with_updates({"probes.enabled": True, "probes.every": 2, "landscape.snapshots": True})
    rec = _record_with_checkpoint(cfg, 7)
    members = session_to_members(Session(runs=[rec]))
    ck_meta = json.loads(members["runs/000/checkpoint.json"])
    shared = ck_meta["arrays_in_record"]
    # the probe history and the path are in the run's arrays: the checkpoint names them
    assert any(k.startswith("hooks/probes/") for k in shared) and any(k.startswith("hooks/landscape/") for k in shared)
    for k, rk in shared.items():
        assert f"runs/000/checkpoint/{k}.npy" not in members and f"runs/000/arrays/{rk}.npy" in members
    hook_bytes = sum(v.nbytes for k, v in rec.checkpoint.arrays.items() if k.startswith("hooks/"))
    written = sum(len(b) for n, b in members.items() if n.startswith("runs/000/checkpoint/hooks/"))
    assert written < 0.2 * hook_bytes
    save_session(Session(runs=[rec]), tmp_path / "a.descent")
    back = load_session(tmp_path / "a.descent").runs[0].checkpoint
    assert back.arrays.keys() == rec.checkpoint.arrays.keys() and "arrays_in_record" not in back.meta
    for k, v in rec.checkpoint.arrays.items():
        assert np.array_equal(back.arrays[k], v, equal_nan=v.dtype.kind == "f"), k
    continue_run(load_session(tmp_path / "a.descent").runs[0])  # restores from the shared arrays


def test_a_checkpoint_naming_a_missing_run_array_is_refused(tmp_path, cfg):
    rec = _record_with_checkpoint(cfg.with_updates({"probes.enabled": True}), 4)
    members = session_to_members(Session(runs=[rec]))
    ck_meta = json.loads(members["runs/000/checkpoint.json"])
    ck_meta["arrays_in_record"] = {"hooks/probes/steps": "probes/nowhere"}
    members["runs/000/checkpoint.json"] = json.dumps(ck_meta).encode()
    with zipfile.ZipFile(tmp_path / "b.descent", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(SessionError, match="arrays_in_record"):
        load_session(tmp_path / "b.descent")
