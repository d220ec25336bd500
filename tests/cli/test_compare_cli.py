"""`descent compare` then `descent export`: the headless done-when, and their one-line errors."""

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


def _one_line_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("descent: error:"), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_compare_then_export(tmp_path):
    c = tmp_path / "c.descent"
    r = descent(
        "compare",
        "--vary",
        "optim.name=sgd,momentum,adam",
        "--set",
        "train.epochs=3",
        "--set",
        "data.n_samples=240",
        "--set",
        "model.hidden=16",
        "--out",
        str(c),
        "--quiet",
        "--surface",
    )
    assert r.returncode == 0, r.stderr
    assert "3 runs" in r.stdout and "adam" in r.stdout
    info = json.loads(descent("info", str(c), "--json").stdout)
    assert [x["name"] for x in info["runs"]] == ["sgd", "momentum", "adam"]
    assert all(len(x["metrics"]["epoch/val_loss"]) == 3 for x in info["runs"])
    cmp = info["comparison"]
    assert cmp["differences"] == {"optim.name": ["sgd", "momentum", "adam"]} and cmp["same_seed"]
    assert cmp["shared_surface"] and cmp["checkpoints"] == ["sgd", "momentum", "adam"]
    out = tmp_path / "out"
    r = descent("export", str(c), "--to", str(out))
    assert r.returncode == 0, r.stderr
    names = {p.name for p in out.iterdir()}
    assert {
        "loss.png",
        "val_acc.png",
        "val_loss.svg",
        "report.html",
        "final_metrics.csv",
        "adam_steps.csv",
        "sgd_epochs.csv",
        "surface.png",
    } <= names
    html = (out / "report.html").read_text()
    assert "id='final-metrics'" in html and html.count("data:image/png;base64,") >= 4


def test_compare_and_export_errors(tmp_path):
    _one_line_error(
        descent("compare", "--vary", "optim.lr=0.1,20", "--out", str(tmp_path / "x.descent")), "variant", "optim.lr"
    )
    _one_line_error(descent("compare", "--vary", "optim.nope=1", "--out", str(tmp_path / "x.descent")), "optim.nope")
    _one_line_error(descent("compare", "--out", str(tmp_path / "x.descent")), "--vary")
    bad = tmp_path / "bad.descent"
    bad.write_bytes(b"PK\x03\x04 truncated")
    _one_line_error(descent("export", str(bad), "--to", str(tmp_path / "o")), "bad.descent")
    _one_line_error(descent("export", str(bad), "--to", str(tmp_path / "o"), "--format", "bmp"), "bmp")
