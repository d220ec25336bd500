"""The Gradients view's update and optimizer-state plots: per layer, from a run's events and
from a saved session; the empty-state sentence for an optimizer without state; the hover
read-out."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from desktop.controller import AppController
from desktop.views.gradients import GradientNormsView, no_state_text
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import Session, record_of
from engine.updates import UpdateSnapshot

pytestmark = pytest.mark.gui


def _run(**kw):
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "model.hidden": [32, 32],
            "train.epochs": 3,
            "probes.every": 4,
            "device": "cpu",
            "train.threads": 1,
            "metrics.enabled": False,
        }
        | kw
    )
    events: list = []
    t = build_trainer(cfg, emit=events.append)
    t.run()
    return cfg, t, events


def test_update_ratio_and_adam_moments_per_layer_then_plain_sgd_says_it_has_none(qtbot, screenshot_dir):
    cfg, t, events = _run(**{"optim.name": "adam", "optim.lr": 0.003})
    v = GradientNormsView(AppController(cfg))
    qtbot.addWidget(v)
    v.resize(1600, 1000)
    v.show()
    v.on_run_started("run", cfg)
    v.handle_events(events)
    v.redraw()
    snaps = [e for e in events if isinstance(e, UpdateSnapshot)]
    assert len(v.updates) == len(snaps) >= 10
    # the ratio plot (log y): one curve per weight layer, at every probed step
    assert len(v.c_ratio) == 4 and v.ref in v.c_ratio  # 3 layers and the 1e-3 line
    assert list(v.ref.yData) == [1e-3, 1e-3] and list(v.ref.xData) == [snaps[0].step, snaps[-1].step]
    x, y = v.c_ratio[1].xData, v.c_ratio[1].yData
    assert list(x) == [s.step for s in snaps]
    np.testing.assert_allclose(y, [s.update_ratio[1] for s in snaps], rtol=1e-6)
    # the optimizer-state plot: Adam's statistics to choose from, the first moment by default
    assert [v.state_pick.itemData(i) for i in range(v.state_pick.count())] == ["exp_avg", "exp_avg_sq_rms", "adam_step"]
    assert len(v.c_state) == 3 and not v.state_note.isVisible()
    v.state_pick.setCurrentIndex(2)  # Adam's effective step ≈ lr at the first steps
    y = v.c_state[0].yData
    assert y[0] == pytest.approx(snaps[0].state[2, 0]) and 1e-4 < y[0] <= 0.003 * 1.05
    # hover: every layer's value at the nearest probed step
    text = v.readout_at(v.p_ratio, snaps[2].step + 1)
    assert text.startswith(f"step {snaps[2].step} · update-to-weight ratio") and "linear 3" in text
    assert f"{snaps[2].update_ratio[0]:.3g}" in text
    v.update_kind.setCurrentIndex(1)  # the update's size
    np.testing.assert_allclose(v.c_ratio[0].yData, [s.update_norm[0] for s in snaps], rtol=1e-6)
    assert v.ref not in v.c_ratio and len(v.c_ratio) == 3
    v.update_kind.setCurrentIndex(0)
    qtbot.wait(50)
    v.grab().save(str(screenshot_dir / "gradients_update_adam.png"))

    # Plain SGD, saved and opened: no state, a sentence naming the optimizer.
    cfg2, t2, _ = _run(**{"optim.name": "sgd", "optim.lr": 0.1})
    v.load_session(Session(runs=[record_of(t2)]))
    assert len(v.updates) >= 10 and v.c_state == [] and not v.state_pick.isEnabled()
    assert v.state_note.isVisible() and v.state_note.toPlainText() == no_state_text("sgd")
    assert "Plain SGD (optim.name = sgd) keeps no velocity" in v.state_note.toPlainText()
    assert len(v.c_ratio) == 4 and len(v.c_ratio[0].xData) == len(v.updates)
    qtbot.wait(50)
    v.grab().save(str(screenshot_dir / "gradients_update_sgd.png"))
