"""The diagnostics panel: findings with steps, markers on the loss, one-click sanity checks."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from desktop.controller import AppController
from desktop.views.diagnostics import DiagnosticsView
from engine.config import ExperimentConfig
from engine.events import EventChannel
from engine.experiment import build_trainer
from engine.session import Session, record_of

pytestmark = pytest.mark.gui


def not_blank(img: QImage) -> bool:
    rgb = img.convertToFormat(QImage.Format_RGB32)
    return np.frombuffer(bytes(rgb.constBits()), dtype=np.uint8).std() > 10


def test_findings_table_markers_and_overfit_button(qtbot, screenshot_dir):
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "optim.name": "sgd",
            "optim.lr": 10.0,
            "train.epochs": 3,
            "device": "cpu",
            "train.threads": 1,
            "metrics.enabled": False,
        }
    )
    ch = EventChannel(100_000)
    t = build_trainer(cfg, emit=ch.put, run_id="r1")
    t.run()
    c = AppController(cfg.with_updates({"optim.name": "adam", "optim.lr": 0.01}))
    v = DiagnosticsView(c)
    qtbot.addWidget(v)
    v.resize(1000, 620)
    v.show()
    v.on_run_started("r1", cfg)
    v.handle_events(ch.drain())
    kinds = [v.table.item(r, 3).text() for r in range(v.table.rowCount())]
    assert kinds[0] == "initial_loss" and "lr_too_high" in kinds
    row = kinds.index("lr_too_high")
    assert int(v.table.item(row, 0).text()) == 23 and "too high" in v.table.item(row, 5).text()
    assert len(v.markers) == len(set(int(v.table.item(r, 0).text()) for r in range(len(kinds))))
    assert any(m.value() == 23.0 and "lr_too_high" in m.kinds for m in v.markers)
    v.redraw()  # (redraws are throttled to 5 per second)
    assert len(v.c_loss.getData()[0]) == t.step
    # One click: a fresh model of the current (healthy) config fits 20 samples.
    qtbot.mouseClick(v.overfit_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: v.overfit_button.isEnabled(), timeout=30000)
    assert v.last_result["kind"] == "overfit_subset" and v.last_result["passed"] is True
    assert "passed" in v.result.text() and v.table.item(v.table.rowCount() - 1, 3).text() == "overfit_subset"
    qtbot.mouseClick(v.initial_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: v.initial_button.isEnabled(), timeout=30000)
    assert v.last_result["kind"] == "initial_loss" and "ln 10" in v.last_result["message"]
    img = v.grab().toImage()
    assert not_blank(img)
    img.save(str(screenshot_dir / "diagnostics_panel.png"))
    # Replay from a session: the same findings.
    v2 = DiagnosticsView(c)
    qtbot.addWidget(v2)
    v2.load_session(Session(runs=[record_of(t)]))
    assert [v2.table.item(r, 3).text() for r in range(v2.table.rowCount())] == kinds
