"""`descent landscape` headless: adds a surface with the path to a session; bad input is one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from desktop.cli import main
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.landscape.analysis import eval_subset
from engine.session import Session, load_session, record_of, save_session

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def session_file(tmp_path_factory):
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "iris",
            "train.epochs": 6,
            "train.batch_size": 16,
            "device": "cpu",
            "landscape.sharpness_every": 0,
            "landscape.eval_samples": 40,
            "probes.enabled": False,
            "diagnostics.enabled": False,
            "metrics.enabled": False,
        }
    )
    runs = []
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for name, lr in (("a", 0.01), ("b", 0.03)):
        t = build_trainer(cfg.with_updates({"optim.lr": lr}), run_id=name)
        t.run()
        runs.append((t, record_of(t, name)))
    torch.set_num_threads(n_threads)
    path = tmp_path_factory.mktemp("ls") / "two.descent"
    save_session(Session(runs=[r for _, r in runs]), path)
    return path, runs


def test_landscape_adds_a_surface_whose_centre_is_the_final_loss(session_file, tmp_path, capsys):
    path, runs = session_file
    out = tmp_path / "out.descent"
    assert main(["landscape", str(path), "--grid", "9", "--quiet", "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert "pca plane" in line and "path in plane" in line
    rec = load_session(out).runs[0]
    loss = rec.arrays["landscape/surface/loss"]
    assert loss.shape == (9, 9) and np.isfinite(loss).all()
    t = runs[0][0]
    x, y = eval_subset(t.data.x_val, t.data.y_val, 40)
    t.model.eval()
    assert loss[4, 4] == pytest.approx(float(F.cross_entropy(t.model(x), y).detach()), rel=1e-5)
    coords = rec.arrays["landscape/surface/path_coords"]
    assert coords.shape == (len(rec.arrays["landscape/trajectory_steps"]), 2)
    assert np.allclose(coords[-1], 0.0, atol=1e-5)  # the path ends at the centre
    meta = rec.meta["landscape"]["surfaces"]["surface"]
    assert meta["plane"]["kind"] == "pca" and 0 < meta["in_plane_fraction"] <= 1.0
    assert rec.arrays["landscape/surface/plane/d1"].shape == rec.arrays["landscape/trajectory"][0].shape


def test_shared_plane_puts_both_paths_on_one_surface(session_file, tmp_path):
    path, _ = session_file
    out = tmp_path / "shared.descent"
    assert (
        main(["landscape", str(path), "--shared", "--grid", "7", "--quiet", "--line-to", "b", "--out", str(out)]) == 0
    )
    s = load_session(out)
    line = s.runs[0].arrays
    t, loss = line["landscape/line/to_run/t"], line["landscape/line/to_run/loss"]
    assert s.runs[0].meta["landscape"]["line_to_run"] == "b"
    # The line passes through both runs' final weights: its ends are their true losses.
    assert loss[np.argmin(abs(t))] == pytest.approx(s.runs[0].arrays["landscape/shared/loss"][3, 3], rel=1e-5)
    assert np.isfinite(line["landscape/line/init/loss"]).all()
    assert s.runs[0].meta["landscape"]["surfaces"]["shared"]["plane"]["shared_by"] == ["a", "b"]
    assert s.runs[1].arrays["landscape/shared/path_coords"].shape[1] == 2
    # Same seed → same init: both paths start at the same point of the plane.
    assert np.allclose(
        s.runs[0].arrays["landscape/shared/path_coords"][0],
        s.runs[1].arrays["landscape/shared/path_coords"][0],
        atol=1e-4,
    )


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--grid", "2"], "--grid 2: must be in [5, 401]"),
        (["--run", "zz"], "no such run"),
        (["--run", "7"], "the session has 2 runs"),
    ],
)
def test_bad_input_is_one_line(session_file, tmp_path, capsys, argv, msg):
    path, _ = session_file
    assert main(["landscape", str(path), *argv, "--out", str(tmp_path / "x.descent")]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and "\n" not in err


def test_diverged_run_is_refused(session_file, tmp_path, capsys):
    path, _ = session_file
    s = load_session(path)
    s.runs[0].state = "diverged"
    bad = save_session(s, tmp_path / "bad.descent")
    assert main(["landscape", str(bad), "--out", str(tmp_path / "y.descent")]) == 2
    assert "diverged" in capsys.readouterr().err


def test_line_to_a_run_of_another_architecture_is_refused_by_name(session_file, tmp_path, capsys):
    path, _ = session_file
    s = load_session(path)
    s.runs[1].config = s.runs[1].config.with_updates({"model.hidden": [7]})
    other = save_session(s, tmp_path / "other.descent")
    assert (
        main(
            ["landscape", str(other), "--line-to", "b", "--grid", "5", "--quiet", "--out", str(tmp_path / "z.descent")]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "--line-to b" in err and "model.hidden" in err and "\n" not in err
