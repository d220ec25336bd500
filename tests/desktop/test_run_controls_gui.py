"""The run you can watch: a paced default, Train more from the weights, no silent retraining."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from small_runs import SMALL_RUN

import desktop.run_controls as run_controls
from engine.config import ExperimentConfig
from engine.states import RunState

pytestmark = pytest.mark.gui


def test_default_speed_is_slow_enough_to_watch_the_default_run(open_main_window, monkeypatch):
    monkeypatch.setattr(run_controls, "DEFAULT_SPEED", run_controls.WATCHABLE_SPEED)
    w = open_main_window(ExperimentConfig().with_updates(SMALL_RUN))
    rc = w.run_controls
    assert rc.speed_label.text() == "10 steps/s"
    c = w.controller
    assert c.max_steps_per_s == 10
    cfg = ExperimentConfig()
    n_train = int(cfg.data.n_samples * (1 - cfg.data.test_fraction) * (1 - cfg.train.val_fraction))
    steps = cfg.train.epochs * -(-n_train // cfg.train.batch_size)
    assert 20 <= steps / c.max_steps_per_s <= 300  # the default run lasts minutes, not 3 s
    c.start()
    assert c.worker.max_steps_per_s == 10  # the engine paces it
    rc.speed.setValue(len(run_controls.SPEEDS) - 1)
    assert rc.speed_label.text() == "as fast as possible" and c.worker.max_steps_per_s is None
    assert w.settings.value(run_controls.SETTINGS_KEY) in (0.0, "0.0", "0")  # remembered


def test_finished_run_trains_more_from_its_weights(open_main_window, qtbot):
    w = open_main_window(ExperimentConfig().with_updates(SMALL_RUN))
    c = w.controller
    c.start()
    qtbot.waitUntil(lambda: c.state == RunState.FINISHED, timeout=30000)
    qtbot.waitUntil(lambda: w.act_pause.text() == "Train more", timeout=5000)
    assert w.run_controls.act_train_more.isEnabled()
    t0 = c.worker.trainer
    first_steps, first_val = t0.step, t0.read_series("epoch/val_loss").copy()
    w.run_controls.more_epochs.setValue(3)
    c.toggle_pause()  # Space on a finished run: 3 more epochs, not a new run from scratch
    qtbot.waitUntil(lambda: c.state == RunState.FINISHED and c.worker.trainer.epoch == 5, timeout=30000)
    t1 = c.worker.trainer
    assert t1.step == first_steps * 5 // 2
    val = t1.read_series("epoch/val_loss")
    np.testing.assert_array_equal(val[:2], first_val)  # its history kept
    assert val[2] < first_val[0]  # continued from trained weights
    long = "x.y: " + "a long message that does not fit the status bar " * 6
    c.notice.emit(long, "error")
    assert w.statusBar().toolTip() == long and w.lbl_pending.toolTip() == long  # whole on hover
    assert w.lbl_pending.text().endswith("…</span>")
    c.single_step()  # a finished run is not silently restarted by Step either
    qtbot.wait(200)
    assert c.worker.trainer is t1 and t1.step == first_steps * 5 // 2


def test_paced_worker_keeps_its_pace(qtbot):
    from engine.events import EventChannel
    from engine.experiment import build_trainer
    from engine.train import EngineWorker

    w = EngineWorker(
        ExperimentConfig().with_updates(SMALL_RUN | {"train.epochs": 50}), EventChannel(), "paced", build_trainer
    )
    w.set_max_steps_per_s(20)
    w.start()
    qtbot.waitUntil(lambda: w.trainer is not None and w.trainer.step > 0, timeout=20000)
    s0 = w.trainer.step
    qtbot.wait(500)
    paced = w.trainer.step - s0
    w.set_max_steps_per_s(None)
    s1 = w.trainer.step
    qtbot.wait(300)
    free = w.trainer.step - s1
    w.shutdown(2.0)
    assert 1 <= paced <= 13  # ≤ 20 steps/s (+ one due at once)
    assert free > paced
