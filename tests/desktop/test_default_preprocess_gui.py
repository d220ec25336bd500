"""The 2D sets are standardized by default: the data view shows before/after, the decision
boundary is drawn over the standardized plane the network sees, and says so."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from desktop.controller import AppController
from desktop.plotting import configure_pyqtgraph
from engine.config import ExperimentConfig
from engine.experiment import build_trainer

pytestmark = pytest.mark.gui


def _show(qtbot, view, w=900, h=600):
    qtbot.addWidget(view)
    view.resize(w, h)
    view.show()
    qtbot.waitExposed(view)


def test_blobs_standardized_in_the_data_view_and_under_the_boundary(qtbot, screenshot_dir):
    configure_pyqtgraph()
    from desktop.views.data_view import DataView
    from desktop.views.decision_boundary import DecisionBoundaryView

    cfg = ExperimentConfig().with_updates(
        {"data.name": "blobs", "device": "cpu", "train.threads": 1, "train.epochs": 3, "landscape.snapshots": False}
    )
    c = AppController(cfg)
    dv = DataView(c)
    _show(qtbot, dv)
    qtbot.waitUntil(lambda: dv.report is not None, timeout=20000)
    r = dv.report
    assert r.kind == "standardize"
    assert np.abs(r.before).max() > 5 and np.allclose(r.after.std(0), 1, atol=0.05)
    qtbot.wait(100)
    dv.grab().save(str(screenshot_dir / "data_view_blobs_auto.png"))

    bv = DecisionBoundaryView(c)
    _show(qtbot, bv, 700, 600)
    events: list = []
    t = build_trainer(cfg, emit=events.append, run_id="r")
    bv.on_run_started("r", cfg)
    t.run()
    bv.handle_events(events)
    bv.redraw()
    assert "after standardize" in bv.plot.getAxis("bottom").labelText
    x0, x1, y0, y1 = bv.extent  # the data set's own plane, as the Data view shows it before preprocessing
    raw = r.before
    assert x0 <= raw[:, 0].min() and x1 >= raw[:, 0].max() and y0 <= raw[:, 1].min() and y1 >= raw[:, 1].max()
    assert bv.image.image.reshape(-1, 3).std(0).max() > 20  # the classes got regions
    qtbot.wait(100)
    bv.grab().save(str(screenshot_dir / "decision_boundary_blobs_auto.png"))
    for v in (dv, bv):
        v.shutdown()
    c.shutdown(2.0)


def test_curves_show_the_eval_mode_train_loss_beside_the_running_one(qtbot, screenshot_dir):
    configure_pyqtgraph()
    from desktop.views.curves import CurvesView

    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "spiral",
            "device": "cpu",
            "train.threads": 1,
            "train.epochs": 8,
            "model.dropout": 0.5,
            "landscape.snapshots": False,
            "probes.enabled": False,
        }
    )
    c = AppController(cfg)
    v = CurvesView(c)
    _show(qtbot, v, 1000, 640)
    v.on_run_started("r", cfg)
    events: list = []
    t = build_trainer(cfg, emit=events.append, run_id="r")
    t.run()
    v.handle_events(events)
    v.redraw()
    _, running = v.c_train_loss.getData()
    _, evaluated = v.c_train_loss_eval.getData()
    assert len(running) == len(evaluated) == 8 and running[-1] > evaluated[-1]  # dropout inflates the running mean
    names = [label.text for _, label in v.p_loss.legend.items]
    assert "train, running (train mode)" in names and "train, eval mode (≤512 samples)" in names
    qtbot.wait(100)
    v.grab().save(str(screenshot_dir / "curves_dropout_eval_mode.png"))
    v.shutdown()
    c.shutdown(2.0)
