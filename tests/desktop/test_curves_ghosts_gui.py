"""Training ▸ Curves, TensorBoard habits: earlier runs as faded ghosts, x by step, epoch or
wall time; long series drawn decimated (the saved ones never are)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from small_runs import SMALL_RUN

from desktop.views.curves import MAX_DRAWN_POINTS, CurvesView
from engine.config import ExperimentConfig
from engine.states import RunState

pytestmark = pytest.mark.gui

SMALL = {**SMALL_RUN, "landscape.snapshots": False}


def test_ghosts_and_x_axes(open_main_window, qtbot, screenshot_dir):
    w = open_main_window(ExperimentConfig().with_updates(SMALL))
    c = w.controller
    cv = next(v for v in w.views if isinstance(v, CurvesView))
    w.show_tab("Curves")
    for lr in (0.01, 0.05, 0.2):  # three runs: the first two become ghosts
        c.set_field("optim.lr", lr)
        cv.readout.setText("step 3 · loss 0.5")  # a hover read-out of the run before
        c.restart()
        assert cv.readout.text().strip() == ""  # cleared: it described the previous run
        qtbot.waitUntil(lambda: c.state == RunState.FINISHED, timeout=120000)
        qtbot.waitUntil(lambda: len(cv.run.epoch_step) == 2, timeout=60000)
    assert len(cv.ghosts) == 2
    ghost_loss = [g[2] for g in cv.ghosts]
    alphas = [item.opts["pen"].color().alpha() for item in ghost_loss]
    assert alphas[0] < alphas[1] < 255  # the older, the fainter; all fainter than the run
    assert all(item.isVisible() for item in ghost_loss)
    labels = [lab.text for _s, lab in cv.p_loss.legend.items]
    assert "earlier runs (2, faded)" in labels
    cv.show_ghosts.setChecked(False)
    assert not any(item.isVisible() for item in ghost_loss)
    cv.show_ghosts.setChecked(True)
    qtbot.wait(300)
    assert w.grab().save(str(screenshot_dir / "curves_ghosts.png"))

    # x by wall time: the recorded seconds; by epoch: the run's 2 epochs
    steps = len(cv.run.step)
    wall = c.worker.trainer.read_series("step/wall")
    assert len(wall) == steps and np.all(np.diff(wall) >= 0) and wall[-1] > 0
    cv.x_axis.setCurrentIndex(cv.x_axis.findData("wall"))
    assert cv.p_loss.getAxis("bottom").labelText == "wall time (s)"
    x, _y = cv.c_ema.getData()
    assert x[-1] == pytest.approx(wall[-1])
    assert cv.p_loss.vb.viewRange()[0][1] <= 2 * wall[-1]  # the axis ends near the run's end (not at 10 s)
    cv.x_axis.setCurrentIndex(cv.x_axis.findData("epoch"))
    x, _y = cv.c_ema.getData()
    assert x[-1] == pytest.approx(2.0)
    assert list(cv.c_val_acc.getData()[0]) == [1.0, 2.0]
    gx, _gy = cv.ghosts[0][2].getData()
    assert gx[-1] == pytest.approx(2.0)  # ghosts follow the axis too
    cv.clear_ghosts()
    assert cv.ghosts == [] and "earlier runs (2, faded)" not in [lab.text for _s, lab in cv.p_loss.legend.items]


def test_long_series_are_drawn_decimated(open_main_window):
    w = open_main_window(ExperimentConfig().with_updates(SMALL))
    cv = next(v for v in w.views if isinstance(v, CurvesView))
    n = 50_000
    loss = np.exp(-np.arange(n) / 5000.0) + 0.01 * np.sin(np.arange(n))
    loss[31_234] = 9.0  # one spike must survive decimation
    cv.show_series({"step/loss": loss, "step/lr": np.full(n, 0.01), "step/grad_norm": np.ones(n)})
    assert len(cv.run.step) == n  # all kept
    x, y = cv.c_step_loss.getData()
    assert len(x) <= MAX_DRAWN_POINTS + 50
    assert y.max() == 9.0 and x[-1] == n
