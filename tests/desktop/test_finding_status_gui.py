"""The status bar shows the run's highest-ranked diagnostic (by cause), not the latest one."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from engine.config import ExperimentConfig
from engine.diagnostics.checks import Diagnostic
from engine.diagnostics.snapshot import DiagnosticSnapshot

pytestmark = pytest.mark.gui


def test_status_bar_keeps_the_highest_ranked_finding(open_main_window, screenshot_dir):
    w = open_main_window(ExperimentConfig().with_updates({"device": "cpu"}), size=(1200, 700))
    c = w.controller
    c.start(paused=True)
    rid = c.run_id
    seen: list[str] = []
    c.finding_changed.connect(lambda m, _lvl: seen.append(m))

    def finding(kind: str, message: str, step: int) -> DiagnosticSnapshot:
        return DiagnosticSnapshot(rid, Diagnostic(kind, "warning", step, message))

    c.process([DiagnosticSnapshot(rid, Diagnostic("initial_loss", "info", 0, "initial loss ≈ ln 3"))])
    assert seen == [] and w.lbl_finding.text() == ""  # the expected case says nothing
    c.process([finding("dead_units", "relu 2: 97% of the units are dead", 10)])
    c.process([finding("lr_too_high", "the training loss rose: the learning rate is likely too high", 13)])
    c.process([finding("underfitting", "underfitting: train longer", 80)])
    c.process([DiagnosticSnapshot("old-run", Diagnostic("divergence", "error", 1, "another run diverged"))])
    assert seen == ["relu 2: 97% of the units are dead", "the training loss rose: the learning rate is likely too high"]
    assert "learning rate is likely too high" in w.lbl_finding.full_text()
    assert "learning rate is likely too high" in w.lbl_finding.toolTip()
    # a finding longer than its room ends in "…" inside the label, never under the labels beside it
    long = "overfitting: for 5 epochs the training loss (eval mode) fell while the validation loss rose " * 2
    c.process([finding("overfitting", long.strip(), 90), finding("divergence", long.strip(), 91)])
    w.resize(900, 700)
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    lbl = w.lbl_finding
    assert lbl.text().endswith("…") and lbl.fontMetrics().horizontalAdvance(lbl.text()) <= lbl.contentsRect().width()
    assert lbl.geometry().right() < w.lbl_state.geometry().left()
    w.statusBar().grab().save(str(screenshot_dir / "status_bar_top_finding.png"))
    c.start(paused=True)  # a new run starts with a clean slate
    assert w.lbl_finding.text() == ""


def test_the_run_state_shows_whole_the_moment_it_changes(open_main_window):
    """Every state's text fits its label at once: no re-layout is waited for (a screenshot
    taken as the default run finished showed 'main run: fini')."""
    from engine.states import RunState

    w = open_main_window(ExperimentConfig())
    lbl = w.lbl_state
    width = lbl.width()
    for state in RunState:
        w.controller.state_changed.emit(state, "")
        assert lbl.sizeHint().width() <= lbl.width() == width, state
