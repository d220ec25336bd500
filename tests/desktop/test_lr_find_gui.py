"""Run ▸ Find learning rate… in the real window: the range test runs off the GUI thread
(the window answers meanwhile, progress shows, Cancel stops it), the plot holds the curves
and both suggestions, "Use this learning rate" writes optim.lr into the panel, and a saved
session shows the result again when opened."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop.views.lr_find_view import LrFindView
from engine.config import ExperimentConfig
from engine.session import load_session
from engine.tuning.lr_range_snapshot import MIN_OVER_10, STEEPEST, stored_result

pytestmark = pytest.mark.gui

CONFIG = ExperimentConfig().with_updates({"data.name": "digits", "device": "cpu", "train.threads": 1})


def _view(window) -> LrFindView:
    return next(v for v in window.views if isinstance(v, LrFindView))


def test_find_learning_rate_plots_the_curve_and_writes_the_panel(open_main_window, qtbot, screenshot_dir, tmp_path):
    window = open_main_window(CONFIG)
    view = _view(window)
    progress: list[int] = []
    view.progress.valueChanged.connect(progress.append)
    window.act_lr_find.trigger()
    assert window.tabs.currentWidget() is view or view.isVisible()
    assert view.running and not view.run_btn.isEnabled() and view.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: view.result is not None, timeout=60_000)
    r = view.result
    assert r.done == 100 and not view.running and view.run_btn.isEnabled()
    # The GUI thread's event loop ran while the job worked: it delivered intermediate progress.
    assert any(0 < p < 100 for p in progress) and progress[-1] == 100
    # The plot: raw and smoothed loss against log10(lr), both suggestions marked on it.
    x, y = view.smooth_curve.getData()
    assert len(x) == 100 and np.allclose(10**x, r.lrs) and np.allclose(y, r.smoothed)
    assert len(view.raw_curve.getData()[1]) == 100
    steep, tenth = view.marks[STEEPEST], view.marks[MIN_OVER_10]
    assert steep.isVisible() and tenth.isVisible()
    assert steep.value() == pytest.approx(math.log10(r.steepest_lr))
    assert tenth.value() == pytest.approx(math.log10(r.min_loss_lr / 10))
    assert "★" in (steep if r.suggestion == STEEPEST else tenth).label.format
    assert f"Suggested lr: {r.suggested_lr:.3g}" in view.suggestion.text()
    window.resize(1600, 1000)  # the reference size, both docks open
    qtbot.wait(100)
    window.grab().save(str(screenshot_dir / "lr_find_window.png"))
    # One click: the panel's optim.lr field shows the suggested lr, and the config has it.
    editor = window.panel.editor("optim.lr")
    assert editor.widget.text() == "0.01"
    assert view.use_suggestion() is None
    want = float(f"{r.suggested_lr:.3g}")
    assert f"optim.lr set to {want:g} in the panel: the next run starts with it" in view.status.text()
    assert window.controller.config.optim.lr == want and float(editor.widget.text()) == want
    assert "FFE9A8" in editor.widget.styleSheet()  # highlighted: the user sees what changed
    qtbot.wait(100)
    assert editor.widget.visibleRegion().boundingRect().height() > 10  # scrolled into view
    window.grab().save(str(screenshot_dir / "lr_find_used.png"))
    # Saved with the session, shown again when it is opened.
    path = tmp_path / "s.descent"
    assert window.save_session(str(path))
    assert stored_result(load_session(path)) == r
    view.show_result(None)
    assert window.open_session(str(path))
    assert view.result == r and len(view.smooth_curve.getData()[0]) == 100 and view.use_btn.isEnabled()
    # Bad settings are named (the shown result stays); Cancel stops a long test.
    view.start_edit.setText("1")
    view.end_edit.setText("0.1")
    assert not view.start() and "start lr (1) must be below end lr (0.1)" in view.status.text()
    view.start_edit.setText("abc")
    assert not view.start() and "cannot read 'abc'" in view.status.text()
    assert view.result == r and not view.running
    view.start_edit.setText("1e-6")
    view.end_edit.setText("10")
    view.iterations.setValue(5000)
    assert view.start()
    qtbot.waitUntil(lambda: view.progress.value() > 0, timeout=60_000)
    view.cancel()
    handle = view.handle
    assert handle.wait(10.0)
    qtbot.wait(50)
    assert view.result is None and view.run_btn.isEnabled() and "cancelled" in view.status.text()
    assert not view.cancel_btn.isEnabled() and view.progress.value() == 0


def test_find_learning_rate_from_a_reopened_runs_weights(open_main_window, qtbot, tmp_path):
    from desktop.cli import main as descent

    path = tmp_path / "trained.descent"
    sets = ["--set", "data.name=digits", "--set", "train.threads=1", "--set", "optim.name=adam"]
    assert descent(["run", *sets, "--set", "train.epochs=3", "--out", str(path), "--quiet"]) == 0
    trained = float(load_session(path).runs[0].series["epoch/train_loss"][-1])
    window = open_main_window(CONFIG)
    view = _view(window)
    view.iterations.setValue(20)
    window.act_lr_find_weights.trigger()  # nothing trained or opened yet: says so, starts nothing
    assert not view.running and "no run with weights yet" in view.status.text()
    window.controller.open(path)
    window.act_lr_find_weights.trigger()
    assert view.running and "weights (epoch 3)" in view.status.text()
    qtbot.waitUntil(lambda: view.result is not None, timeout=60_000)
    assert view.result.losses[0] < 2 * trained < 1.0  # the sweep began where the run ended (fresh: ~2.3)
    assert view.result.config.optim.name == "adam"
