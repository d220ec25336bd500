"""The weight-norm view during a run and replayed from a session."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from desktop.bridge import Bridge
from desktop.controller import AppController
from desktop.views.weight_norms import WeightNormsView
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import Session, record_of
from engine.states import RunState

pytestmark = pytest.mark.gui


def cfg() -> ExperimentConfig:
    return ExperimentConfig().with_updates(
        {
            "data.n_samples": 400,
            "model.hidden": [16, 16],
            "train.epochs": 40,
            "probes.every": 5,
            "optim.weight_decay": 0.05,
            "device": "cpu",
            "train.threads": 1,
        }
    )


def test_weight_norms_live_and_replayed(qtbot, screenshot_dir):
    c = AppController(cfg())
    v = WeightNormsView(c)
    qtbot.addWidget(v)
    v.resize(900, 520)
    v.show()
    c.run_started.connect(v.on_run_started)
    bridge = Bridge(c, [v], interval_ms=20)
    bridge.start()
    try:
        c.start()
        qtbot.waitUntil(lambda: len(v.snaps) >= 4, timeout=30000)
        c.stop()
        qtbot.waitUntil(lambda: c.state == RunState.STOPPED, timeout=30000)
        qtbot.wait(200)
        v.redraw()
        assert len(v.curves) == 3  # two hidden layers and the output layer
        x, y = v.curves[0].getData()
        assert len(x) == len(v.snaps) and np.all(np.isfinite(y))
        v.grab().save(str(screenshot_dir / "weight_norms_live.png"))
    finally:
        bridge.stop()
        c.shutdown(2.0)

    t = build_trainer(cfg().with_updates({"train.epochs": 2}), run_id="saved")
    t.run()
    rec = record_of(t, "saved")
    v.load_session(Session(runs=[rec]))
    assert [s.step for s in v.snaps] == list(rec.arrays["weightnorm/steps"])
    assert len(v.curves) == 3
