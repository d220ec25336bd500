"""`descent sanity` (initial loss vs ln C, overfit a tiny subset) and `descent init-study`,
headless: exit 0 pass, 1 fail, 2 bad input; --json."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from desktop.cli import main

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--set", "data.name=iris", "--set", "device=cpu"]


def _run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_sanity_passes_on_the_defaults_as_a_real_command():
    r = subprocess.run(
        [sys.executable, "-m", "desktop.cli", "sanity", *FAST, "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["passed"] and res["initial_loss"]["passed"] and res["overfit_subset"]["passed"]
    assert abs(res["initial_loss"]["loss"] - math.log(3)) < 0.1 * math.log(3)
    assert res["overfit_subset"]["accuracy"] == 1.0 and res["overfit_subset"]["n_samples"] == 20


def test_sanity_fails_with_exit_1_for_an_oversized_init_and_for_an_lr_that_cannot_fit(capsys):
    big = ["--set", "model.init=normal", "--set", "model.init_std=5", "--set", "model.output_init=same"]
    rc, out, _ = _run(capsys, "sanity", *FAST, *big)
    assert rc == 1 and out.startswith("initial loss: FAIL") and "far from ln 3" in out
    slow = ["--set", "optim.name=sgd", "--set", "optim.lr=1e-6"]
    rc, out, _ = _run(capsys, "sanity", *FAST, *slow, "--steps", "30", "--json")
    res = json.loads(out)
    assert rc == 1 and res["initial_loss"]["passed"] and not res["overfit_subset"]["passed"]


def test_sanity_and_init_study_refuse_bad_input_with_exit_2(capsys):
    rc, _, err = _run(capsys, "sanity", "--set", "optim.lr=-1")
    assert rc == 2 and "optim.lr" in err and len(err.strip().splitlines()) == 1
    rc, _, err = _run(capsys, "sanity", "--samples", "0")
    assert rc == 2 and "--samples" in err
    rc, _, err = _run(capsys, "init-study", "--depth", "40")
    assert rc == 2 and "depth must be in [1, 16]" in err


def test_init_study_shows_small_gaussians_collapse_and_xavier_keep_tanh_alive(capsys):
    args = ["init-study", *FAST, "--activation", "tanh", "--depth", "6", "--width", "128", "--samples", "128"]
    rc, out, _ = _run(capsys, *args, "--init", "normal", "--json")
    small = json.loads(out)
    assert rc == 0 and len(small["layers"]) == 6 and small["std_last_over_first"] < 1e-3
    rc, out, _ = _run(capsys, *args, "--init", "xavier_normal", "--json")
    xavier = json.loads(out)
    assert rc == 0 and xavier["std_last_over_first"] > 0.2
    rc, out, _ = _run(capsys, *args, "--init", "zeros")
    assert rc == 0 and "tanh 6" in out and out.count("True") == 6  # every layer symmetric
