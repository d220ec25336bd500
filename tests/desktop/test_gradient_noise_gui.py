"""The Gradient noise view: live measurements of a run, a saved one, and the off state."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from desktop.controller import AppController
from desktop.plotting import configure_pyqtgraph
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import record_of
from engine.session.record import Session

pytestmark = pytest.mark.gui


def test_gradient_noise_view_draws_variance_and_cosine_per_layer(qtbot, screenshot_dir):
    configure_pyqtgraph()
    from desktop.views.gradient_noise import OFF_TEXT, GradientNoiseView
    from desktop.views.registry import tab_classes

    assert GradientNoiseView in tab_classes()
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "spiral",
            "device": "cpu",
            "train.threads": 1,
            "train.epochs": 3,
            "landscape.snapshots": False,
            "probes.gradient_noise": True,
            "probes.gradient_noise_every": 13,
        }
    )
    c = AppController(cfg)
    v = GradientNoiseView(c)
    qtbot.addWidget(v)
    v.resize(1000, 520)
    v.show()
    qtbot.waitExposed(v)
    v.on_run_started("r", cfg.with_updates({"probes.gradient_noise": False}))
    assert v.info.text() == OFF_TEXT
    events: list = []
    t = build_trainer(cfg, emit=events.append, run_id="r")
    v.on_run_started("r", cfg)
    t.run()
    v.handle_events(events)
    v.redraw()
    assert len(v.snaps) == 4 and len(v.c_var) == 3 and len(v.c_cos) == 3
    xs, ys = v.c_var[0].getData()
    assert len(xs) == 4 and ys[0] > 10 * ys[-1]  # B = 4 vs 256: much noisier
    assert "step 39" in v.step_label.text()
    v.slider.setValue(0)
    assert "step 0" in v.step_label.text() and not v.follow
    v.slider.setValue(3)
    qtbot.wait(100)
    px = v.grab()
    px.save(str(screenshot_dir / "gradient_noise_spiral.png"))
    # a saved run shows the same measurements
    w = GradientNoiseView(c)
    qtbot.addWidget(w)
    w.load_session(Session(runs=[record_of(t)]))
    assert len(w.snaps) == 4 and np.allclose(w.snaps[-1].rel_var, v.snaps[-1].rel_var)
    for view in (v, w):
        view.shutdown()
    c.shutdown(2.0)
