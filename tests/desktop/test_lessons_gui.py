"""The Lessons dock, driven for real under Xvfb: open at start beside the running default
experiment, one click runs a lesson and shows its check, Next lesson, a teacher's file, and
screenshots of the start page, a running lesson and a finished one (look at them)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from desktop.lessons.dock import NOT_RUN, PASSED
from desktop.views.registry import tab_classes
from engine.config import ExperimentConfig
from engine.lessons import VIEWS
from engine.states import RunState

pytestmark = pytest.mark.gui


def test_lesson_view_names_are_the_windows_view_titles():
    assert sorted(VIEWS) == sorted(cls.title for cls in tab_classes())


def _item(panel, lesson_id):
    tree = panel.tree
    for i in range(tree.topLevelItemCount()):
        head = tree.topLevelItem(i)
        for j in range(head.childCount()):
            if head.child(j).data(0, 0x0100) == lesson_id:
                return head.child(j)
    raise KeyError(lesson_id)


def test_lessons_dock_runs_a_lesson_and_shows_its_check(open_main_window, qtbot, screenshot_dir, tmp_path):
    w = open_main_window(ExperimentConfig().with_updates({"train.epochs": 3, "data.n_samples": 300}), (1600, 950))
    dock = w.lessons_dock
    panel = dock.panel
    assert dock.isVisible() and panel.stack.currentWidget() is panel.list_page
    # The default run still starts in the main window (as desktop/app.py starts it).
    w.controller.start()
    qtbot.waitUntil(lambda: w.controller.state in (RunState.RUNNING, RunState.FINISHED), timeout=30000)
    assert panel.tree.topLevelItemCount() == 7 and panel.tree.topLevelItem(3).text(0) == "4. Optimizers"
    assert _item(panel, "momentum-ravine").text(1) == NOT_RUN
    w.grab().save(str(screenshot_dir / "lessons_start.png"))

    # One click on a training lesson: its page, progress while it runs, then the check and its view.
    panel.tree.itemClicked.emit(_item(panel, "overfitting"), 0)
    assert panel.stack.currentWidget() is panel.lesson_page and panel.running
    assert panel.lbl_title.text().startswith("Overfitting") and panel.lbl_bullets.text().count("•") == 2
    qtbot.waitUntil(lambda: panel.progress.value() >= 150 or not panel.running, timeout=120000)
    assert panel.running and panel.lbl_progress.text().startswith("epoch ")
    w.grab().save(str(screenshot_dir / "lessons_running.png"))
    qtbot.waitUntil(lambda: not panel.running, timeout=120000)
    assert panel.result is not None and panel.result.passed
    assert panel.lbl_check.text().startswith("✓  The validation loss ended ")
    assert "overfit_rise = " in panel.lbl_value.text() and "> 0.3" in panel.lbl_value.text()
    assert w.tabs.currentWidget().title == "Curves"
    assert w.controller.state == RunState.REPLAY and w.controller.config.model.hidden == [
        128,
        128,
    ]  # the panel holds it
    w.grab().save(str(screenshot_dir / "lessons_finished.png"))

    # An init lesson opens the Depth profile.
    panel.run_lesson(panel.lesson_by_id("small-gaussian-depth"))
    qtbot.waitUntil(lambda: not panel.running, timeout=120000)
    assert panel.result.passed and panel.lbl_check.text().startswith("✓  At init, the last layer's activations have")
    assert w.tabs.currentWidget().title == "Depth profile"
    w.grab().save(str(screenshot_dir / "lessons_depth.png"))

    # Now try: the lesson's change (Xavier) runs and the check reports ✗; the list keeps the lesson's own ✓.
    panel.btn_now.click()
    qtbot.waitUntil(lambda: not panel.running, timeout=120000)
    assert not panel.result.passed and panel.lbl_check.text().startswith("✗  At init, the last layer keeps")
    w.grab().save(str(screenshot_dir / "lessons_now_try.png"))
    panel.btn_back.click()
    assert _item(panel, "small-gaussian-depth").text(1) == PASSED

    # Next lesson runs the following one (a playground race) and shows the Playground.
    panel.run_lesson(panel.lesson_by_id("saddle-point"))
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    assert panel.result.passed and w.tabs.currentWidget().title == "Playground"
    panel.btn_next.click()
    assert panel.current.id == "plateau"
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    w.grab().save(str(screenshot_dir / "lessons_playground.png"))


def test_a_teachers_lesson_file_opens_and_a_bad_one_is_refused(open_main_window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    w = open_main_window(ExperimentConfig().with_updates({"train.epochs": 1, "data.n_samples": 200}))
    panel = w.lessons_dock.panel
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "mine"\ntitle = "x"\nsection = 4\nsurprise = 1\n', encoding="utf-8")
    assert panel.open_lesson_file(bad) is None
    assert warnings and "bad.toml: " in warnings[0] and "surprise: unknown key" in warnings[0]
    from engine.resources import resource

    good = tmp_path / "mine.toml"
    src = resource("lessons", "nesterov.toml").read_text(encoding="utf-8")
    good.write_text(src.replace('id = "nesterov"', 'id = "my-nesterov"'), encoding="utf-8")
    lesson = panel.open_lesson_file(good)
    assert lesson is not None and lesson.id == "my-nesterov"
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    assert panel.result.passed
    panel.show_list()
    heads = [panel.tree.topLevelItem(i).text(0) for i in range(panel.tree.topLevelItemCount())]
    assert heads[-1] == "Your lessons" and _item(panel, "my-nesterov").text(1) == PASSED
