"""`descent playground` and `descent info --json` on its session."""

from __future__ import annotations

import json

import numpy as np
import pytest

from desktop.cli import main
from engine.session import load_session


def test_playground_command_writes_a_session_that_info_describes(tmp_path, capsys):
    out = tmp_path / "p.descent"
    rc = main(
        [
            "playground",
            "--function",
            "rosenbrock",
            "--optimizers",
            "sgd,momentum,nesterov,adagrad,rmsprop,adam",
            "--steps",
            "2000",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "6 optimizers x 2000 steps" in text and "momentum" in text
    session = load_session(out)
    pos = session.arrays["playground/momentum/positions"]
    assert pos.shape == (2001, 2) and np.hypot(*(pos[-1] - 1.0)) < 1e-2  # momentum reaches (1, 1)
    for series in ("losses", "gradients", "updates", "velocities", "step_sizes", "lrs"):
        assert f"playground/adam/{series}" in session.arrays
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    pg = info["playground"]
    assert pg["function"] == "rosenbrock" and pg["steps_done"] == 2000
    assert [r["label"] for r in pg["racers"]] == ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
    assert pg["arrays"]["adam/velocities"] == [2000, 2]
    mom = pg["racers"][1]
    assert mom["status"] == "finished" and mom["final_loss"] < 1e-6


def test_playground_command_json_and_set_keys(capsys):
    rc = main(
        [
            "playground",
            "--function",
            "quadratic",
            "--optimizers",
            "sgd,adam",
            "--steps",
            "50",
            "--json",
            "--set",
            "condition=100",
            "--set",
            "sgd.lr=0.001",
            "--set",
            "start=-3,1",
            "--set",
            "sigma=0.1",
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["steps"] == 50
    sgd, adam = res["racers"]
    assert sgd["lr"] == 0.001 and adam["lr"] == 0.1
    from engine.playground import get_function

    start_loss = get_function("quadratic").value(-3.0, 1.0, np, {"condition": 100.0, "rotation": 30.0})
    assert start_loss > 50
    assert sgd["final_loss"] < 0.5 * start_loss and adam["final_loss"] < 0.5 * start_loss


def test_playground_command_bad_input_is_one_line(capsys):
    assert main(["playground", "--function", "banana"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("descent: error: unknown function 'banana'") and "\n" not in err
    assert main(["playground", "--optimizers", "sgd,lion"]) == 2
    assert "unknown optimizer 'lion'" in capsys.readouterr().err
    assert main(["playground", "--set", "start=5,5"]) == 2
    assert "outside the domain of rosenbrock" in capsys.readouterr().err
    assert main(["playground", "--set", "adam.lr=-1"]) == 2
    assert "optim.lr" in capsys.readouterr().err


def test_exact_flag_gives_the_same_results(capsys):
    args = [
        "playground",
        "--function",
        "himmelblau",
        "--optimizers",
        "momentum,rmsprop,adam",
        "--steps",
        "200",
        "--json",
        "--set",
        "sigma=0.2",
    ]
    assert main(args) == 0
    fast = json.loads(capsys.readouterr().out)["racers"]
    assert main(args + ["--exact"]) == 0
    exact = json.loads(capsys.readouterr().out)["racers"]
    for a, b in zip(fast, exact):
        assert a["final_position"] == pytest.approx(b["final_position"], rel=1e-9, abs=1e-12)
        assert a["steps_taken"] == b["steps_taken"] == 200
