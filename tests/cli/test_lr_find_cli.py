"""`descent lr-find`: the human read-out, --json, --out (a session the app and info open) and
bad input as one line with exit code 2."""

from __future__ import annotations

import json

import pytest

from desktop.cli import main
from engine.session import load_session
from engine.tuning.lr_range_snapshot import stored_result

DIGITS = ["--set", "data.name=digits", "--set", "train.threads=1", "--set", "device=cpu"]


def test_json_prints_one_object_and_out_writes_a_session_with_the_result(tmp_path, capsys):
    out = tmp_path / "lr.descent"
    rc = main(["lr-find", *DIGITS, "--start", "1e-5", "--end", "1", "--iterations", "40", "--json", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1
    info = json.loads(printed[0])
    assert info["iterations"] == 40 and info["done"] == len(info["lr"]) == len(info["smoothed"]) == 40
    assert info["lr"][0] == pytest.approx(1e-5) and info["lr"][-1] == pytest.approx(1.0)
    assert info["suggestion"] in ("steepest", "min/10") and 1e-5 <= info["suggested_lr"] <= 1.0
    assert info["min_over_10_lr"] == pytest.approx(info["min_loss_lr"] / 10)
    assert info["optimizer"] == "adam" and info["data"] == "digits" and info["out"] == str(out)
    session = load_session(out)
    assert session.format_version == 5 and not session.runs
    result = stored_result(session)
    assert result is not None and result.suggested_lr == info["suggested_lr"]
    assert result.losses.tolist() == info["loss"] and result.config.data.name == "digits"
    # descent info describes it.
    assert main(["info", str(out), "--json"]) == 0
    described = json.loads(capsys.readouterr().out)["lr_find"]
    assert described["suggested_lr"] == info["suggested_lr"] and described["done"] == 40
    assert main(["info", str(out)]) == 0
    assert f"suggested lr {info['suggested_lr']:.3g} ({info['suggestion']})" in capsys.readouterr().out


def test_the_human_read_out_names_both_suggestions_and_the_chosen_one(capsys):
    rc = main(["lr-find", *DIGITS, "--set", "optim.name=momentum", "--start", "1e-3", "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "lr range test: momentum on digits" in text and "smoothed loss passed 4× its minimum" in text
    assert "steepest descent of the smoothed loss: lr" in text and "/10: lr" in text
    assert text.count("<- suggested") == 1
    assert "suggested: --set optim.lr=" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "1", "--end", "0.5"], "start lr (1) must be below end lr (0.5)"),
        (["--start", "0"], "start lr must be a positive number"),
        (["--end", "-2"], "end lr must be a positive number"),
        (["--iterations", "1"], "iterations must be in [2, "),
        (["--set", "optim.lr=fast"], "optim.lr"),
        (["--set", "no.such=1"], "unknown config key"),
        (["--set", "optim.lr"], "--set expects KEY=VALUE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys, tmp_path):
    out = tmp_path / "never.descent"
    assert main(["lr-find", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("descent: error:")
    assert not out.exists()


def test_lr_find_from_a_saved_runs_weights_starts_where_the_run_ended(tmp_path, capsys):
    run = tmp_path / "run.descent"
    assert main(["run", *DIGITS, "--set", "optim.name=adam", "--set", "train.epochs=3", "--out", str(run)]) == 0
    trained = float(load_session(run).runs[0].series["epoch/train_loss"][-1])
    capsys.readouterr()
    sweep = ["--start", "1e-6", "--end", "1", "--iterations", "30", "--json"]
    assert main(["lr-find", *DIGITS, *sweep]) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert main(["lr-find", str(run), *sweep]) == 0
    warm = json.loads(capsys.readouterr().out)
    # at lr 1e-6 nothing moves: the first losses are the trained run's, far below a fresh init's
    assert warm["loss"][0] < 2 * trained < 0.5 * fresh["loss"][0]
    assert main(["lr-find", str(run), "--run", "nope", "--quiet"]) == 2
    assert "holds the runs" in capsys.readouterr().err
    assert main(["lr-find", "--run", "r1", "--quiet"]) == 2
    assert "needs a session file" in capsys.readouterr().err
