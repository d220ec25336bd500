"""Fuzzed whole session files: a saved run with every feature and a checkpoint (Adam moments,
batch norm buffers, hook states), its zip members mutated together — dropped, renamed,
swapped, their bytes flipped, truncated or extended (the zip itself stays well formed, so the
mutated bytes reach the readers) — then opened, decoded, described and continued.

The outcome is always one of: a session whose features decode (or are refused naming the
member) and whose runs continue for a few steps; a SessionError naming the file; a
CheckpointError/ConfigError naming the run. Never another exception.
WHOLE_SESSION_FUZZ_EXAMPLES sets the number of examples (150 here; 2000 for a nightly run)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_fuzzing import DECODERS, decode_all

from engine.config import ConfigError, ExperimentConfig
from engine.experiment import build_trainer
from engine.session import (
    CheckpointError,
    Session,
    SessionError,
    capture_checkpoint,
    continue_run,
    load_session,
    record_of,
    save_session,
)


@pytest.fixture(scope="module")
def valid_members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The members of a saved 2-D run (BN, Adam, every feature on) with its checkpoint."""
    config = ExperimentConfig().with_updates(
        {
            "device": "cpu",
            "train.threads": 1,
            "data.n_samples": 160,
            "model.hidden": [6, 6],
            "model.batch_norm": "after",
            "optim.name": "adam",
            "optim.lr": 0.01,
            "train.batch_size": 40,
            "train.epochs": 2,
            "probes.every": 2,
            "landscape.snapshots": True,
            "landscape.snapshot_every": 2,
            "probes.gradient_noise": True,
            "probes.gradient_noise_every": 2,
            "probes.gradient_noise_batch_sizes": [4, 16],
            "probes.gradient_noise_draws": 2,
        }
    )
    trainer = build_trainer(config)
    trainer.run(max_steps=5)  # mid-epoch: the checkpoint holds epoch sums, a batch position, moments
    record = record_of(trainer)
    record.checkpoint = capture_checkpoint(trainer)
    for key in DECODERS:
        assert key in record.meta or key == "batchnorm", key
    path = save_session(Session(runs=[record]), tmp_path_factory.mktemp("whole") / "valid.descent")
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    assert any("checkpoint" in n for n in members) and any(n.endswith(".npy") for n in members)
    return members


def _write(path: Path, members: dict[str, bytes]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    path.write_bytes(buf.getvalue())
    return path


@st.composite
def member_mutations(draw: st.DrawFn, names: list[str]) -> list[tuple]:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(names))
        kind = draw(st.sampled_from(["drop", "rename", "swap", "flip", "truncate", "extend"]))
        if kind == "rename":
            out.append((kind, name, draw(st.sampled_from(names))))
        elif kind == "swap":
            out.append((kind, name, draw(st.sampled_from(names))))
        elif kind == "flip":
            flips = draw(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6))
            out.append((kind, name, flips))
        elif kind == "truncate":
            out.append((kind, name, draw(st.integers(0, 200))))
        elif kind == "extend":
            out.append((kind, name, draw(st.binary(min_size=1, max_size=16))))
        else:
            out.append((kind, name, None))
    return out


def _mutated(members: dict[str, bytes], changes: list[tuple]) -> dict[str, bytes]:
    out = dict(members)
    for kind, name, arg in changes:
        if name not in out:
            continue  # an earlier change dropped or renamed it
        data = out[name]
        if kind == "drop":
            del out[name]
        elif kind == "rename":
            out[arg] = out.pop(name)
        elif kind == "swap":
            out[name] = members[arg]
        elif kind == "flip":
            raw = bytearray(data)
            for at, value in arg:
                if raw:
                    raw[at % len(raw)] = value
            out[name] = bytes(raw)
        elif kind == "truncate":
            out[name] = data[: len(data) * arg // 200]
        elif kind == "extend":
            out[name] = data + arg
    return out


def _continues(session: Session) -> None:
    """Each run with a checkpoint continues for a few steps, or is refused naming the run."""
    for record in session.runs:
        if record.checkpoint is None:
            continue
        try:
            trainer, rng = continue_run(record, config_updates={"train.threads": 1})
        except (CheckpointError, ConfigError) as e:
            assert record.name in str(e) or isinstance(e, ConfigError), str(e)
            assert "\n" not in str(e)
            continue
        torch.set_rng_state(rng)
        trainer.run(max_steps=3)  # finite, diverged or finished: any state, never an exception


def test_the_valid_session_loads_decodes_and_continues(valid_members: dict[str, bytes], tmp_path: Path) -> None:
    session = load_session(_write(tmp_path / "v.descent", valid_members))
    decode_all(session)
    record = session.runs[0]
    trainer, rng = continue_run(record, config_updates={"train.threads": 1})
    torch.set_rng_state(rng)
    assert trainer.step == 5
    trainer.run(max_steps=3)
    assert trainer.step == 8
    assert np.isfinite(trainer.series["step/loss"].array()).all()


def test_mutated_sessions_load_continue_or_are_refused_by_name(valid_members: dict[str, bytes], tmp_path: Path) -> None:
    names = sorted(valid_members)
    path = tmp_path / "mutated.descent"

    @settings(
        max_examples=int(os.environ.get("WHOLE_SESSION_FUZZ_EXAMPLES", "150")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
        # The same examples on every CI run; WHOLE_SESSION_FUZZ_RANDOM=1 explores new ones.
        derandomize=os.environ.get("WHOLE_SESSION_FUZZ_RANDOM") != "1",
    )
    @given(changes=member_mutations(names))
    def check(changes: list[tuple]) -> None:
        _write(path, _mutated(valid_members, changes))
        try:
            session = load_session(path)
        except SessionError as e:
            assert str(e).startswith(str(path)) and "\n" not in str(e), str(e)
            return
        decode_all(session)
        _continues(session)

    check()


def test_a_foreign_array_as_the_batch_norm_probes_pending_samples_is_refused(
    valid_members: dict[str, bytes], tmp_path: Path
) -> None:
    """Found by the fuzzer: a sample block of another shape crashed the first step in torch.stack."""
    source, target = "runs/000/arrays/batchnorm/batch_mean.npy", "runs/000/checkpoint/hooks/batchnorm/pending.npy"
    assert source in valid_members
    changes = [("rename", source, target)]
    session = load_session(_write(tmp_path / "m.descent", _mutated(valid_members, changes)))
    record = session.runs[0]
    with pytest.raises(CheckpointError, match="pending.*has shape"):
        continue_run(record, config_updates={"train.threads": 1})
