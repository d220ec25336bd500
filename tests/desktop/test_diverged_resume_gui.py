"""Resume after a divergence in the window: the lr edited while diverged is the one used."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("PySide6")

from engine.config import ExperimentConfig

pytestmark = pytest.mark.gui


def test_resume_after_a_batch_norm_divergence_uses_the_lr_edited_meanwhile(open_main_window, qtbot):
    w = open_main_window(
        ExperimentConfig().with_updates(
            {
                "model.batch_norm": "after",
                "optim.name": "sgd",
                "optim.lr": 10.0,
                "train.epochs": 5,
                "data.n_samples": 400,
                "device": "cpu",
            }
        )
    )
    c = w.controller
    c.start()
    qtbot.waitUntil(lambda: c.state == "diverged", timeout=30000)
    assert c.set_field("optim.lr", 0.01) is None
    c.resume()
    qtbot.waitUntil(lambda: c.state == "finished", timeout=60000)
    assert c.worker is not None and c.worker.trainer is not None
    assert c.worker.trainer.lr == 0.01
    assert math.isfinite(c.worker.trainer.final_metrics()["val_loss"])
