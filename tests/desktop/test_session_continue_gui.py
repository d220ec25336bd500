"""Continue a saved run in the window: from its weights and optimizer state, not from scratch."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QSettings

from desktop.controller import AppController
from desktop.main_window import MainWindow
from desktop.plotting import configure_pyqtgraph
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import Session, capture_checkpoint, record_of, save_session

pytestmark = pytest.mark.gui


def test_continue_saved_run_picks_up_where_it_stopped(qtbot, tmp_path):
    configure_pyqtgraph()
    cfg = ExperimentConfig().with_updates(
        {
            "train.epochs": 3,
            "data.n_samples": 200,
            "model.hidden": [8],
            "device": "cpu",
            "optim.name": "adam",
            "probes.enabled": False,
            "diagnostics.enabled": False,
            "metrics.enabled": False,
        }
    )
    t = build_trainer(cfg)
    t.run()
    rec = record_of(t, "saved")
    rec.checkpoint = capture_checkpoint(t)
    save_session(Session(runs=[rec]), tmp_path / "s.descent")
    c = AppController(ExperimentConfig())
    w = MainWindow(c, settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    try:
        assert not w.continue_saved_run()  # nothing opened yet: a message, no crash
        assert w.open_session(str(tmp_path / "s.descent"))
        assert w.continue_saved_run()
        from desktop.views.curves import CurvesView

        cv = next(v for v in w.views if isinstance(v, CurvesView))
        n_saved = len(rec.series["step/loss"])
        assert len(cv.run.step) == n_saved  # the saved history is drawn at once
        qtbot.waitUntil(lambda: c.state == "finished", timeout=60000)
        qtbot.waitUntil(lambda: len(cv.run.step) == 2 * n_saved, timeout=10000)
        assert np.array_equal(cv.run.step.view(), np.arange(1, 2 * n_saved + 1))  # new steps follow on
        tr = c.worker.trainer
        assert tr.epoch == 6 and tr.config.train.epochs == 6
        loss = tr.series["epoch/val_loss"].array()
        np.testing.assert_array_equal(loss[:3], rec.series["epoch/val_loss"])  # the saved history is kept
        assert loss[3] < loss[0]  # continued from trained weights, not from a fresh init
        assert c.current_record().checkpoint.meta["epoch"] == 6
    finally:
        c.shutdown(2.0)
