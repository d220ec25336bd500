"""Empty states: a view that does not apply or has no data yet says why, with a button that fixes it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from small_runs import SMALL_RUN

from engine.config import ExperimentConfig
from engine.session import RunRecord, Session
from engine.states import RunState

pytestmark = pytest.mark.gui

SMALL = {**SMALL_RUN, "landscape.snapshots": False}


def view(w, title):
    return next(v for v in w.views if v.title == title)


def shoot(w, title, path):
    w.show_tab(title)
    w.repaint()
    assert w.grab().save(str(path))


def test_views_that_do_not_apply_say_why_and_fix_it(open_main_window, qtbot, screenshot_dir):
    w = open_main_window(ExperimentConfig().with_updates(SMALL))
    c = w.controller
    # a paused start: not empty axes, but how to begin
    c.start(paused=True)
    curves = view(w, "Curves")
    qtbot.waitUntil(lambda: curves.empty.showing, timeout=20000)
    assert "Press Space to train" in curves.empty.message.text()
    shoot(w, "Curves", screenshot_dir / "empty_curves_paused.png")
    # batch norm off
    bn = view(w, "Batch norm")
    assert bn.empty.showing and bn.empty.message.text().startswith("Batch norm is off")
    assert bn.empty.button.text().startswith("Turn on batch norm")
    shoot(w, "Batch norm", screenshot_dir / "empty_batchnorm_off.png")
    # augmentation on 2D points; the decision boundary applies here
    aug = view(w, "Augmentation")
    assert aug.empty.showing and "Augmentation applies to image data" in aug.empty.message.text()
    assert aug.empty.button.text().startswith("Switch to digits")
    shoot(w, "Augmentation", screenshot_dir / "empty_augmentation_2d.png")
    db = view(w, "Decision boundary")
    assert not db.empty.showing
    # an un-run comparison
    cmp_view = view(w, "Compare")
    assert cmp_view.empty.showing and cmp_view.empty.button.text() == "Compare sgd, momentum and adam"
    shoot(w, "Compare", screenshot_dir / "empty_compare.png")
    # the buttons fix it: batch norm on, the run restarted with it
    bn.empty.button.click()
    assert c.config.model.batch_norm == "after" and c.worker.config.model.batch_norm == "after"
    assert not bn.empty.showing
    aug.empty.button.click()
    assert c.config.data.name == "digits"
    assert not aug.empty.showing
    assert db.empty.showing and "2D input plane" in db.empty.message.text()
    shoot(w, "Decision boundary", screenshot_dir / "empty_boundary_digits.png")
    qtbot.waitUntil(lambda: c.state in (RunState.RUNNING, RunState.FINISHED), timeout=20000)
    assert not curves.empty.showing
    # a reopened session without a surface: the Landscape offers to compute it
    cfg = ExperimentConfig().with_updates(SMALL)
    x = np.linspace(1.0, 0.3, 26)
    rec = RunRecord("saved", cfg, series={"step/loss": x, "step/lr": np.full(26, 0.01)})
    w.controller.show_session(Session(runs=[rec]))
    land = view(w, "Landscape")
    assert land.empty.showing and "no loss surface" in land.empty.message.text()
    assert land.empty.button.text() == "Compute surface"
    shoot(w, "Landscape", screenshot_dir / "empty_landscape_reopened.png")
