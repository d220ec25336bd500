"""Nothing lost on quit (unsaved marker, Save / Discard / Cancel), the Help menu, and one
place that says what the toolbar acts on (the dock hidden where it does not apply)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
import torch
from PySide6.QtCore import QTimer, qVersion
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop.help_menu import help_text
from desktop.views.registry import tab_classes
from engine.config import ExperimentConfig
from engine.states import RunState

pytestmark = pytest.mark.gui


@pytest.fixture
def window(open_main_window):
    cfg = ExperimentConfig().with_updates(
        {"train.epochs": 2, "data.n_samples": 200, "model.hidden": [8], "device": "cpu"}
    )
    return open_main_window(cfg, size=(1300, 850))


def _paused_run(window, qtbot) -> None:
    window.controller.start(paused=True)
    qtbot.waitUntil(lambda: window.controller.state == RunState.PAUSED, timeout=120000)
    window.unsaved.refresh()


def _answer_quit(window, button, shot=None) -> list[bool]:
    """Click `button` of the quit question as soon as it shows (optionally saving a screenshot)."""
    seen = []

    def answer() -> None:
        box = window.quit_guard.box
        if box is None or not box.isVisible():
            QTimer.singleShot(50, answer)
            return
        seen.append(True)
        if shot is not None:
            box.grab().save(str(shot))
        box.button(button).click()

    QTimer.singleShot(50, answer)
    return seen


def test_unsaved_marker_and_quit_asks_save_discard_cancel(window, qtbot, tmp_path, screenshot_dir, monkeypatch):
    assert "[*]" in window.windowTitle() and not window.isWindowModified()
    _paused_run(window, qtbot)
    assert window.isWindowModified()  # a run not saved: the title's *
    window.ask_before_quit = True

    seen = _answer_quit(window, QMessageBox.Cancel, screenshot_dir / "quit_dialog.png")
    assert window.close() is False  # Cancel: the window stays, with its run
    assert seen and window.isVisible() and window.controller.worker is not None

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    _answer_quit(window, QMessageBox.Save)
    assert window.close() is False and window.isVisible()  # Save, then the file dialog cancelled: stays

    target = tmp_path / "a.descent"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert window.save_session_dialog() and target.exists()
    assert not window.isWindowModified() and "a.descent" in window.windowTitle()
    assert window.quit_guard.allow_close()  # nothing unsaved: no question

    window.controller.start(paused=True)  # a new run: unsaved again
    qtbot.waitUntil(window.unsaved.refresh, timeout=10000)
    assert window.isWindowModified()
    assert window.autosave.save_now() is not None and window.autosave.file.exists()
    _answer_quit(window, QMessageBox.Discard)
    assert window.close() is True
    assert not window.autosave.file.exists() and not window.autosave.marker.exists()  # really discarded


def test_help_menu_and_the_toolbar_says_what_it_acts_on(window, qtbot, screenshot_dir):
    """Help for every view shipped as data, shortcuts, About with versions; the toolbar
    labelled as the main run's and the dock hidden on the Playground."""
    for cls in tab_classes():
        text = help_text(cls.title)
        assert text and text.startswith(f"# {cls.title}"), cls.title
    window.grab().save(str(screenshot_dir / "main_window_start.png"))
    window.show_tab("Landscape")
    dialog = window.help_menu.show_view_help()
    assert dialog.windowTitle() == "Help — Landscape" and "loss surface" in dialog.browser.toPlainText()
    window.install_lessons()
    listed = window.help_menu.shortcuts()
    shortcuts = dict((what, keys) for keys, what in listed)
    assert shortcuts["Restart"] == "Ctrl+R" and shortcuts["Help for this view"] == "F1"
    assert shortcuts["Lessons"] == "Ctrl+L"  # menu actions are listed too
    keys = [k for k, _ in listed]
    assert len(keys) == len(set(keys)), sorted(keys)  # one action per key: Qt ignores an ambiguous shortcut

    box = window.help_menu.show_about()
    qtbot.waitExposed(box)
    text = box.text()
    assert torch.__version__ in text and qVersion() in text and "0.1.0" in text
    assert "cpu (" in text  # the device a run of the panel's config trains on
    box.grab().save(str(screenshot_dir / "help_about.png"))
    box.close()

    dock, label = window.panel_dock, window.run_scope.label
    assert dock.isVisible() and label.text() == "<b>Main run</b>"
    assert window.lbl_state.text().startswith("main run:")
    window.show_tab("Playground")
    assert not dock.isVisible()  # the race has its own settings panel
    assert "race" in label.text()
    window.show_tab("Compare")
    assert dock.isVisible() and "comparison" in label.text()  # the panel sets the comparison's base
    assert "comparison" in window.views[[v.title for v in window.views].index("Compare")].btn_pause.text()
