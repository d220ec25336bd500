"""The headless command line: run, info, and its one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def descent(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "desktop.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def test_run_then_info_json_shows_falling_loss(tmp_path):
    out = tmp_path / "a.descent"
    r = descent(
        "run", "--set", "optim.name=adam", "--set", "train.epochs=5", "--set", "data.n_samples=400", "--out", str(out)
    )
    assert r.returncode == 0, r.stderr
    assert "training [" in r.stderr and out.exists()
    r = descent("info", str(out), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    from engine.session import FORMAT_VERSION

    assert info["format_version"] == FORMAT_VERSION
    run = info["runs"][0]
    assert {"name", "config", "metrics", "final"} <= set(run)
    assert run["config"]["optim"]["name"] == "adam"
    tl = run["metrics"]["epoch/train_loss"]
    assert len(tl) == 5 and tl[-1] < tl[0]
    assert set(run["final"]) >= {"train_loss", "val_loss", "train_acc", "val_acc"}
    human = descent("info", str(out))
    assert human.returncode == 0 and "run 'run'" in human.stdout


def _one_line_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("descent: error:"), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_unknown_set_key(tmp_path):
    _one_line_error(descent("run", "--set", "optim.lrate=0.1", "--out", str(tmp_path / "x.descent")), "optim.lrate")
    assert not (tmp_path / "x.descent").exists()


def test_out_of_range_value(tmp_path):
    _one_line_error(descent("run", "--set", "optim.lr=-1", "--out", str(tmp_path / "x.descent")), "optim.lr", "(0, 10]")


def test_malformed_config_json(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text("{ nope")
    _one_line_error(
        descent("run", "--config", str(cfg), "--out", str(tmp_path / "x.descent")), "c.json", "malformed JSON"
    )


def test_missing_and_corrupt_session(tmp_path):
    _one_line_error(descent("info", str(tmp_path / "missing.descent")), "no such file")
    bad = tmp_path / "bad.descent"
    bad.write_bytes(b"garbage")
    _one_line_error(descent("info", str(bad)), "bad.descent")


def test_config_file_is_used(tmp_path):
    from engine.config import ExperimentConfig

    cfg = tmp_path / "c.json"
    cfg.write_text(
        ExperimentConfig()
        .with_updates({"train.epochs": 1, "data.name": "moons", "data.n_samples": 100, "optim.lr": 0.05})
        .to_json()
    )
    out = tmp_path / "m.descent"
    r = descent("run", "--config", str(cfg), "--quiet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    info = json.loads(descent("info", str(out), "--json").stdout)
    assert info["runs"][0]["config"]["data"]["name"] == "moons"
    assert info["runs"][0]["config"]["optim"]["lr"] == 0.05
