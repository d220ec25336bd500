"""Unsaved work beyond the main run: panel edits made before any run, and a Playground race
the user set up, put the title's marker on and make quitting ask; saving clears it."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.config import ExperimentConfig

pytestmark = pytest.mark.gui


def test_edits_before_any_run_and_a_playground_race_are_unsaved(open_main_window, qtbot, tmp_path, monkeypatch):
    cfg = ExperimentConfig().with_updates({"train.epochs": 2, "data.n_samples": 200, "device": "cpu"})
    w = open_main_window(cfg, size=(1300, 850))
    assert w.controller.worker is None and not w.isWindowModified()
    assert [a.text() for a in w.menuBar().actions()].count("&Help") == 1  # one Help menu, Lessons in it
    assert w.quit_guard.allow_close()  # nothing held: no question

    # an edit in the panel, no run yet: the title says unsaved at once, and quitting asks
    spin = w.panel.editor("data.n_samples").widget
    spin.setValue(320)
    spin.editingFinished.emit()
    assert w.controller.config.data.n_samples == 320
    assert w.isWindowModified()
    asked: list[str] = []  # the quit question, answered Cancel
    monkeypatch.setattr(QMessageBox, "exec", lambda box: asked.append(box.text()) or QMessageBox.Cancel)
    w.ask_before_quit = True
    assert w.close() is False and w.isVisible()
    assert len(asked) == 1 and "not saved" in asked[0]
    w.ask_before_quit = False
    monkeypatch.undo()

    target = tmp_path / "edits.descent"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert w.save_session_dialog() and target.exists()
    assert not w.isWindowModified()

    # the Playground's own race: the one it starts by itself is nothing to lose ...
    assert w.show_tab("Playground")
    pg_view = next(v for v in w.views if v.title == "Playground")
    qtbot.waitUntil(lambda: pg_view.race is not None, timeout=10000)
    assert pg_view.wait_computed(30)
    assert not w.unsaved.refresh() and not w.isWindowModified()
    # ... a race the user set up is
    assert pg_view.apply({"function": "rastrigin"}) is None
    qtbot.waitUntil(lambda: w.isWindowModified(), timeout=5000)  # the marker follows within a second
    assert pg_view.wait_computed(30)
    assert w.save_session_dialog()
    assert not w.isWindowModified()
