"""`descent continue`: a saved run continued headless, a diverged one from its last good state."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from engine.session import Session, load_session, save_session
from engine.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]


def descent(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "desktop.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def test_a_diverged_batch_norm_run_saves_finite_weights_and_continues_at_a_lower_lr(tmp_path):
    f, f2 = tmp_path / "F.descent", tmp_path / "F2.descent"
    r = descent(
        "run",
        *("--set", "model.batch_norm=after", "--set", "optim.name=sgd", "--set", "optim.lr=10"),
        *("--set", "train.epochs=5", "--set", "data.n_samples=400", "--quiet", "--out", str(f)),
    )
    assert r.returncode == 1 and "diverged" in r.stderr
    rec = load_session(f).runs[0]
    assert rec.state == "diverged" and rec.checkpoint is not None
    model = {k[len("model/") :]: v for k, v in rec.checkpoint.arrays.items() if k.startswith("model/")}
    assert all(np.isfinite(v).all() for v in model.values())
    t = Trainer(rec.config)  # the saved model evaluates to a finite loss
    t.model.load_state_dict({k: torch.from_numpy(v) for k, v in model.items()})
    assert math.isfinite(t.evaluate(t.data.x_val, t.data.y_val)[0])

    r = descent("continue", str(f), "--set", "optim.lr=0.01", "--quiet", "--out", str(f2))
    assert r.returncode == 0, r.stderr
    assert "fresh optimizer state" in r.stderr and "optim.lr = 0.01 (was 10.0)" in r.stderr
    cont = load_session(f2).runs[0]
    assert cont.state == "finished" and cont.config.optim.lr == 0.01
    done = int(rec.checkpoint.meta["step"])
    assert np.isfinite(cont.series["step/loss"][done:]).all()
    assert np.isfinite(cont.series["epoch/val_loss"]).all() and len(cont.series["epoch/val_loss"]) == 5


def test_continue_a_finished_run_for_more_epochs_and_its_errors(tmp_path):
    f, f2 = tmp_path / "a.descent", tmp_path / "b.descent"
    r = descent("run", "--set", "train.epochs=2", "--set", "data.n_samples=300", "--quiet", "--out", str(f))
    assert r.returncode == 0, r.stderr
    r = descent("continue", str(f), "--out", str(f2))
    assert r.returncode == 2 and "--epochs" in r.stderr and not f2.exists()
    r = descent("continue", str(f), "--epochs", "2", "--out", str(f2))
    assert r.returncode == 2 and "already has 2 epochs" in r.stderr
    r = descent("continue", str(f), "--run", "nope", "--epochs", "3", "--out", str(f2))
    assert r.returncode == 2 and "no run named 'nope'" in r.stderr
    r = descent("continue", str(f), "--epochs", "3", "--out", str(tmp_path))
    assert r.returncode == 2 and "--out" in r.stderr
    r = descent("continue", str(f), "--epochs", "3", "--quiet", "--out", str(f2))
    assert r.returncode == 0, r.stderr
    run = load_session(f2).runs[0]
    assert run.state == "finished" and len(run.series["epoch/val_loss"]) == 3
    two = load_session(f)
    save_session(Session(runs=[two.runs[0], type(two.runs[0])(**{**two.runs[0].__dict__, "name": "b"})]), f)
    r = descent("continue", str(f), "--epochs", "3", "--out", str(f2))
    assert r.returncode == 2 and "choose one with --run" in r.stderr
