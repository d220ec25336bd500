"""`descent export --format gif` of a 3D animation from a terminal without a display: the
command runs itself again under xvfb-run (the suite itself runs under pytest-xvfb's display,
so this is the only test of that path), or names what to install when Xvfb is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def race_file(tmp_path_factory) -> Path:
    from desktop.cli import main

    out = tmp_path_factory.mktemp("xvfb") / "race.descent"
    assert (
        main(["playground", "--function", "himmelblau", "--optimizers", "adam", "--steps", "40", "--out", str(out)])
        == 0
    )
    return out


def _export(race_file: Path, to: Path, path: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(PATH=path, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    args = ["export", str(race_file), "--to", str(to), "--format", "gif", "--animate", "race"]
    args += ["--fps", "2", "--seconds", "1", "--width", "200", "--height", "120"]
    return subprocess.run(
        [sys.executable, "-m", "desktop.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run (Debian xvfb) not installed")
def test_3d_animation_without_a_display_runs_under_xvfb(race_file, tmp_path):
    import numpy as np
    from PIL import Image, ImageSequence

    r = _export(race_file, tmp_path, os.environ.get("PATH", ""))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "under xvfb-run" in r.stderr
    frames = [f.convert("RGB") for f in ImageSequence.Iterator(Image.open(tmp_path / "race.gif"))]
    assert len(frames) == 2 and frames[0].size == (200, 120)
    assert np.asarray(frames[-1]).std() > 20  # the surface and the path are drawn, not a blank frame


def test_3d_animation_without_a_display_or_xvfb_names_what_to_install(race_file, tmp_path):
    r = _export(race_file, tmp_path / "out", str(tmp_path / "empty-bin"))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "xvfb" in r.stderr.lower() and "--animate curves" in r.stderr
    assert not (tmp_path / "out").exists()
