"""`descent search`: a round, a refine round, info's best trial, the trials CSV, errors, Ctrl+C."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop.cli import main
from engine.states import RunState
from engine.tuning.storage import load_search

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--set", "data.name=moons", "--set", "data.n_samples=200", "--set", "model.hidden=8", "--set", "train.epochs=2"]


def test_search_refine_info_and_export(tmp_path: Path, capsys, one_torch_thread) -> None:
    a, b = tmp_path / "a.descent", tmp_path / "b.descent"
    rc = main(
        ["search", *TINY, "--space", "optim.lr=log:1e-4:1", "--space", "optim.name=choice:sgd,adam"]
        + ["--trials", "5", "--out", str(a)]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert "searching (random, 1 job)" in err and "100%" in err
    rc = main(["search", "--refine-from", str(a), "--top", "2", "--trials", "3", "--out", str(b), "--quiet"])
    assert rc == 0
    first, second = load_search(a), load_search(b)
    assert [r.number for r in second.rounds] == [1, 2] and len(second.trials) == 8
    top = first.best(2)
    lr = [p for p in second.rounds[1].space if p.startswith("optim.lr=")][0]
    low, high = (float(x) for x in lr.split(":")[1:])
    assert 1e-4 <= low <= min(t.params["optim.lr"] for t in top) <= max(t.params["optim.lr"] for t in top) <= high <= 1
    assert high / low < 1e4  # narrower than the first round's four decades
    for t in second.trials:
        if t.round == 2:
            assert low <= t.params["optim.lr"] <= high
    capsys.readouterr()
    assert main(["info", str(b)]) == 0
    out = capsys.readouterr().out
    best = second.best(1)[0]
    assert f"best: trial #{best.number}" in out and "optim.lr = " in out
    assert main(["export", str(b), "--to", str(tmp_path / "x"), "--format", "csv"]) == 0
    rows = list(csv.DictReader((tmp_path / "x" / "search_trials.csv").open()))
    assert len(rows) == 8 and {r["round"] for r in rows} == {"1", "2"}
    assert float(min(rows, key=lambda r: float(r["val_loss"]))["val_loss"]) == pytest.approx(best.score)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--space", "optim.lr=log:0:1"], "optim.lr: a log range must be above 0"),
        (["--space", "optim.nam=choice:sgd"], "optim.nam"),
        (["--space", "optim.lr", "--sampler", "annealing"], "unknown sampler"),
        (["--space", "optim.lr", "--jobs", "0"], "--jobs 0"),
        (["--space", "optim.lr", "--jobs", "0", "--ray", "127.0.0.1:9"], "--jobs 0: expected at least 1"),
        ([], "nothing to search"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path: Path, capsys, args: list[str], needle: str) -> None:
    out = tmp_path / "n.descent"
    assert main(["search", *TINY, *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and not out.exists()


def test_ctrl_c_ends_the_search_and_keeps_the_finished_trials(tmp_path: Path) -> None:
    out = tmp_path / "c.descent"
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop.cli", "search", *TINY, "--set", "train.epochs=10", "--space", "optim.lr"]
        + ["--trials", "200", "--out", str(out)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 240
    while "2/200 trials" not in seen and time.monotonic() < deadline:  # two trials finished
        seen += proc.stderr.read(1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    snap = load_search(out)
    assert snap.state == RunState.CANCELLED
    assert len(snap.complete) >= 2 and all(t.state in (RunState.FINISHED, RunState.STOPPED) for t in snap.trials)


def test_best_trial_on_the_test_split_is_a_separate_recorded_step(tmp_path: Path, capsys, one_torch_thread) -> None:
    a, b = tmp_path / "a.descent", tmp_path / "b.descent"
    assert main(["search", *TINY, "--space", "optim.lr=log:1e-2:1", "--trials", "2", "--out", str(a), "--quiet"]) == 0
    assert main(["search", "--test-best", str(a), "--out", str(b)]) == 2  # no test split: said, nothing written
    err = capsys.readouterr().err
    assert "no test split" in err and "search again" in err and not b.exists()
    tiny_test = [*TINY, "--set", "data.test_fraction=0.2"]
    assert (
        main(["search", *tiny_test, "--space", "optim.lr=log:1e-2:1", "--trials", "2", "--out", str(a), "--quiet"]) == 0
    )
    assert load_search(a).test_evaluation is None
    assert main(["search", "--test-best", str(a), "--out", str(b)]) == 0
    ev = load_search(b).test_evaluation
    assert ev is not None and ev["n_test"] == 40 and 0 <= ev["test_acc"] <= 1 and ev["test_loss"] > 0
    assert ev["trial"] == load_search(a).best(1)[0].number
    capsys.readouterr()
    assert main(["info", str(b)]) == 0
    assert "evaluated on the test split" in capsys.readouterr().out
