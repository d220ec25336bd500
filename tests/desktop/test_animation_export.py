"""Animations: GIF and MP4 of the Playground race, a run's path over its loss landscape and the
training curves — frame count and exact size, frames that change where the path moved, a
cancel that leaves nothing, and what to run first when the data is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("imageio_ffmpeg")
import imageio.v2 as imageio
from PIL import Image, ImageSequence

from desktop.cli import main as descent
from desktop.export.animation import AnimationSpec, animation_job, available_animations
from desktop.export.command import export_animations
from engine.export import ExportError
from engine.jobs import run_job
from engine.playground.config import make_config
from engine.playground.job import race_job
from engine.playground.race import Race
from engine.playground.session import race_to_session
from engine.session import load_session, save_session

pytestmark = pytest.mark.gui
W, H = 320, 240  # deliberately not multiples of 16


@pytest.fixture(scope="module")
def session_file(tmp_path_factory) -> Path:
    """One run with its loss surface, and a Playground race, in one session file."""
    d = tmp_path_factory.mktemp("anim")
    run = d / "run.descent"
    sets = ["data.n_samples=160", "model.hidden=8", "train.epochs=3", "train.batch_size=32", "probes.enabled=false"]
    args = ["run", "--out", str(run), "--quiet"]
    for s in sets:
        args += ["--set", s]
    assert descent(args) == 0
    assert descent(["landscape", str(run), "--grid", "9", "--out", str(run), "--quiet"]) == 0
    session = load_session(run)
    race = Race(make_config("rosenbrock", ["momentum", "adam"], {"steps": 120}))
    run_job(race_job(race))
    race_to_session(race, session)
    save_session(session, run)
    return run


def _gif_frames(path: Path) -> list[np.ndarray]:
    return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(Image.open(path))]


def _mp4_frames(path: Path) -> list[np.ndarray]:
    with imageio.get_reader(str(path)) as r:
        return [np.asarray(f) for f in r]


def test_every_animation_in_both_formats(qapp, session_file, tmp_path, screenshot_dir):
    assert available_animations(load_session(session_file)) == {"race": None, "landscape": None, "curves": None}
    files = export_animations(session_file, tmp_path, ["gif", "mp4"], None, fps=5, seconds=1.2, width=W, height=H)
    assert sorted(p.name for p in files) == [
        f"{k}.{f}" for k in ("curves", "landscape", "race") for f in ("gif", "mp4")
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in files)  # no temporary left
    for kind in ("race", "landscape", "curves"):
        for frames in (_gif_frames(tmp_path / f"{kind}.gif"), _mp4_frames(tmp_path / f"{kind}.mp4")):
            assert len(frames) == 6, kind  # 5 fps × 1.2 s
            assert all(f.shape == (H, W, 3) for f in frames), (kind, frames[0].shape)
            first, last = frames[0].astype(int), frames[-1].astype(int)
            body = slice(40, H - 30)  # below the caption, above the legend
            assert np.abs(first[body] - last[body]).mean() > 0.5, f"{kind}: the path did not move"
            assert frames[0].std() > 20, f"{kind}: blank frame"
        if kind != "curves":  # the 3D view (left half) has its axes: dark grey lines, ticks and labels
            left = _gif_frames(tmp_path / f"{kind}.gif")[-1][40 : H - 30, : W // 2].astype(int)
            grey = (left.max(axis=2) < 110) & (left.max(axis=2) - left.min(axis=2) < 25)
            assert grey.sum() > 150, f"{kind}: no 3D axes ({grey.sum()} grey pixels)"
        Image.fromarray(_gif_frames(tmp_path / f"{kind}.gif")[-1]).save(screenshot_dir / f"animation_{kind}_last.png")


def test_cancel_leaves_nothing_and_missing_data_is_named(qapp, session_file, tmp_path):
    job = animation_job(load_session(session_file), "race", tmp_path, ["gif", "mp4"], AnimationSpec(5, 2, W, H))
    next(job)
    next(job)
    job.close()
    assert list(tmp_path.iterdir()) == []
    only_runs = tmp_path / "runs.descent"
    s = load_session(session_file)
    s.meta.pop("playground")
    s.arrays = {k: v for k, v in s.arrays.items() if not k.startswith("playground/")}
    save_session(s, only_runs)
    with pytest.raises(ExportError, match="descent playground"):
        export_animations(only_runs, tmp_path / "o", ["gif"], ["race"], 5, 1, W, H)
    with pytest.raises(ExportError, match="even width and height"):
        export_animations(session_file, tmp_path / "o", ["mp4"], ["curves"], 5, 1, 321, 240)
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []


def test_gui_dialog_progress_and_cancel(qtbot, session_file, tmp_path):
    from desktop.export.animation_dialog import AnimationDialog, AnimationExport

    s = load_session(session_file)
    s.meta.pop("playground")
    dialog = AnimationDialog(s)
    qtbot.addWidget(dialog)
    race = dialog.kinds["race"]
    assert not race.isEnabled() and "descent playground" in race.toolTip()
    assert dialog.kinds["curves"].isChecked() and dialog.kinds["landscape"].isChecked()
    dialog.kinds["landscape"].setChecked(False)
    dialog.width_box.setValue(W)
    dialog.height_box.setValue(H)
    dialog.fps.setValue(4)
    dialog.seconds.setValue(1.0)
    kinds, formats, spec = dialog.chosen()
    assert (kinds, formats, spec.frames) == (["curves"], ["gif", "mp4"], 4)
    messages = []
    done = AnimationExport(s, tmp_path / "done", kinds, formats, spec, status=lambda m, ms: messages.append(m))
    done.start()
    qtbot.waitUntil(lambda: not done.running, timeout=60_000)
    assert sorted(p.name for p in done.files) == ["curves.gif", "curves.mp4"] and not done.error
    assert len(_mp4_frames(tmp_path / "done" / "curves.mp4")) == 4 and "exported 2" in messages[-1]
    cancelled = AnimationExport(s, tmp_path / "cancel", ["curves"], formats, AnimationSpec(4, 5, W, H))
    cancelled.start()
    qtbot.waitUntil(lambda: cancelled.done >= 2, timeout=60_000)
    from PySide6.QtWidgets import QPushButton

    cancelled.progress.findChild(QPushButton).click()  # the dialog's Cancel button
    assert not cancelled.running and cancelled.cancelled
    assert list((tmp_path / "cancel").iterdir()) == []


def test_cancel_during_the_second_of_two_queued_animations(qtbot, session_file, tmp_path):
    from PySide6.QtWidgets import QPushButton

    from desktop.export.animation_dialog import AnimationExport

    s = load_session(session_file)
    spec = AnimationSpec(4, 5, W, H)  # 20 frames each
    messages: list[str] = []
    queued = AnimationExport(
        s, tmp_path, ["curves", "landscape"], ["gif"], spec, status=lambda m, ms: messages.append(m)
    )
    assert queued.total == 40
    queued.start()
    qtbot.waitUntil(lambda: queued.done >= 22, timeout=120_000)  # into the landscape
    queued.progress.findChild(QPushButton).click()  # the progress dialog's Cancel button
    at_cancel = queued.done
    assert 22 <= at_cancel < 40 and not queued.running and queued.cancelled and queued.job is None
    qtbot.wait(100)
    assert queued.done == at_cancel  # nothing goes on after the cancel
    # the finished animation stays whole; nothing of the cancelled one, no temporary file
    assert [p.name for p in tmp_path.iterdir()] == ["curves.gif"]
    assert [p.name for p in queued.files] == ["curves.gif"]
    # whole: all 5 s of it (Pillow merges identical consecutive frames, adding up their durations)
    gif = Image.open(tmp_path / "curves.gif")
    assert sum(f.info["duration"] for f in ImageSequence.Iterator(gif)) == 20 * 250
    assert "cancelled" in messages[-1]
    # cancelled during the first: neither is written, the second never starts
    first = AnimationExport(s, tmp_path / "first", ["curves", "landscape"], ["gif", "mp4"], spec)
    first.start()
    qtbot.waitUntil(lambda: first.done >= 2, timeout=60_000)
    first.cancel()
    at_cancel = first.done
    qtbot.wait(100)
    assert at_cancel < 20 and first.done == at_cancel and not first.running
    assert list((tmp_path / "first").iterdir()) == []


def test_landscape_animation_on_a_comparisons_shared_surface(qapp, session_file, tmp_path):
    import copy

    from desktop.plotting import color
    from engine.compare.layout import run_colors
    from engine.compare.surface import SharedSurface

    s = load_session(session_file)
    run = s.runs[0]
    run.arrays = {k: v for k, v in run.arrays.items() if not k.startswith(("landscape/surface", "landscape/shared"))}
    s.arrays = {k: v for k, v in s.arrays.items() if not k.startswith("landscape/")}
    twin = copy.deepcopy(run)
    twin.name = "twin"
    s.runs.append(twin)
    a = np.linspace(-1, 1, 9)
    line = np.linspace(0, 1, 5)[:, None]
    paths = {run.name: 0.8 * (1 - line) * [1, 1], "twin": (1 - line) * [-0.8, 0.6]}
    SharedSurface(a, a, a[:, None] ** 2 + a[None, :] ** 2 + 0.1, paths).save_into(s)
    assert available_animations(s)["landscape"] is None  # what `descent compare --surface` saves
    (gif,) = run_job(animation_job(s, "landscape", tmp_path, ["gif"], AnimationSpec(4, 1, W, H)))
    frames = [f.astype(int) for f in _gif_frames(gif)]
    twin_rgb = _rgb_of(color(run_colors(s)["twin"]))
    near = [(np.abs(f[:, W // 2 :] - twin_rgb).sum(axis=2) < 40).sum() for f in frames]
    assert near[-1] > near[0] + 20, near  # the other run's path grows on the contour map too


def _rgb_of(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
