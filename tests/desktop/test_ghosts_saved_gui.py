"""The Curves' ghost runs (the last runs, faded) are saved with the session and come back,
faded, when it is opened; an older file opens without ghosts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from desktop.views.curves import CurvesView
from engine.config import ExperimentConfig
from engine.events import EpochEnd, StepBatch
from engine.session import load_session

pytestmark = pytest.mark.gui

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "format2_main.descent"


def _feed(cv: CurvesView, run_id: str, cfg, n: int, scale: float) -> None:
    """A run as the bridge hands it over: its start, its steps, its two epochs."""
    cv.on_run_started(run_id, cfg)
    steps = np.arange(1, n + 1)
    loss = scale * (0.3 + 1.0 / steps)
    cv.handle_events(
        [
            StepBatch(run_id, steps, loss, np.full(n, 0.01), np.ones(n), wall=steps * 0.02),
            EpochEnd(run_id, 1, n // 2, {"train_loss": float(loss[n // 2 - 1]), "val_acc": 0.6}),
            EpochEnd(run_id, 2, n, {"train_loss": float(loss[-1]), "val_acc": 0.8 * scale}),
        ]
    )


def test_ghosts_are_saved_and_come_back_faded(open_main_window, qtbot, tmp_path, screenshot_dir):
    cfg = ExperimentConfig().with_updates({"train.epochs": 2, "data.n_samples": 200, "device": "cpu"})
    w = open_main_window(cfg, size=(1300, 850))
    cv = next(v for v in w.views if isinstance(v, CurvesView))
    w.show_tab("Curves")
    w.controller.open(FIXTURE)  # a saved run to show, then four runs of this window
    saved_steps = len(cv.run.step)
    for i, scale in enumerate((1.0, 0.8, 0.6, 0.5)):  # four runs: the last three before the current are ghosts
        _feed(cv, f"run{i + 1}", cfg, 40 + 10 * i, scale)
    cv.on_run_started("run5", cfg)
    assert [g[0] for g in cv.ghosts] == ["run2", "run3", "run4"]
    before = [(g[1].loss.view().copy(), g[1].epoch["val_acc"].view().copy()) for g in cv.ghosts]

    out = w.controller.save(tmp_path / "ghosts.descent")
    saved = load_session(out)
    assert saved.format_version == 5 and [g["name"] for g in saved.meta["ghosts"]] == ["run2", "run3", "run4"]
    assert len(saved.runs) == 1  # the opened run, beside the ghosts

    cv.clear_ghosts()
    assert cv.ghosts == []
    w.controller.open(out)
    assert [g[0] for g in cv.ghosts] == ["run2", "run3", "run4"]  # back, oldest first
    for (loss, acc), g in zip(before, cv.ghosts):
        np.testing.assert_allclose(g[1].loss.view(), loss)
        np.testing.assert_allclose(g[1].epoch["val_acc"].view(), acc, equal_nan=True)
    items = [g[2] for g in cv.ghosts]
    alphas = [it.opts["pen"].color().alpha() for it in items]
    assert alphas[0] < alphas[1] < alphas[2] < 255 and all(it.isVisible() for it in items)  # faded, older fainter
    x, y = items[-1].xData, items[-1].yData  # the newest ghost's smoothed loss, all 70 steps
    assert len(x) == 70 and x[-1] == 70 and y[-1] == pytest.approx(cv.ghosts[-1][1].loss_ema.out.view()[-1])
    qtbot.wait(200)
    assert w.grab().save(str(screenshot_dir / "curves_ghosts_reopened.png"))

    assert len(cv.run.step) == saved_steps
    w.controller.open(FIXTURE)  # a format-2 file: no ghosts, nothing left of the other file's
    assert cv.ghosts == [] and len(cv.run.step) == saved_steps
