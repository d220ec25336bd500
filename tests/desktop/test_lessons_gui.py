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


def _curve_points(w) -> int:
    """Minibatch-loss points drawn on the Curves view (the live main run's)."""
    view = next(v for v in w.views if v.title == "Curves")
    x, _y = view.c_step_loss.getData()
    return 0 if x is None else len(x)


def test_lessons_dock_runs_a_lesson_live_and_shows_its_check(open_main_window, qtbot, screenshot_dir, tmp_path):
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

    # One click on a training lesson: it becomes the window's main run, trained live (the
    # speed slider's pace does not hold it back), then the check shows in the dock.
    before = w.controller.run_id
    w.controller.set_speed(10.0)  # the app's watchable default pace: a lesson is not held to it
    panel.tree.itemClicked.emit(_item(panel, "overfitting"), 0)
    assert w.controller.worker.max_steps_per_s is None and w.controller.max_steps_per_s == 10.0
    assert panel.stack.currentWidget() is panel.lesson_page and panel.running and panel.watching == "run"
    assert w.controller.run_id != before and w.controller.config.model.hidden == [128, 128]
    assert panel.lbl_title.text().startswith("Overfitting") and panel.lbl_bullets.text().count("•") == 2
    assert w.tabs.currentWidget().title == "Curves"
    qtbot.waitUntil(lambda: panel.progress.value() >= 250 or not panel.running, timeout=120000)
    assert panel.running and w.controller.state == RunState.RUNNING
    assert panel.lbl_progress.text().startswith("training in the window at full speed · epoch ")
    qtbot.wait(300)  # the bridge draws what has arrived
    assert _curve_points(w) > 0
    w.grab().save(str(screenshot_dir / "lessons_running.png"))
    qtbot.waitUntil(lambda: not panel.running, timeout=120000)
    assert panel.result is not None and panel.result.passed
    assert panel.lbl_check.text().startswith("✓  The validation loss ended ")
    w.controller.set_speed(None)
    assert "overfit_rise = " in panel.lbl_value.text() and "> 0.3" in panel.lbl_value.text()
    # The finished lesson is the window's own run: Train more and Restart work on it.
    assert w.controller.state == RunState.FINISHED and w.controller.can_train_more()
    body = panel.lbl_text.parentWidget()  # the lesson page's text column, in its scroll area
    assert body.minimumSizeHint().width() <= body.parentWidget().width()  # three view buttons fit: nothing cut off
    qtbot.wait(50)  # the dock lays out the check's sentence
    w.grab().save(str(screenshot_dir / "lessons_finished.png"))

    # Now try: the lesson's change runs live too and the check reports ✗; the list keeps the lesson's ✓.
    panel.run_lesson(panel.lesson_by_id("small-gaussian-depth"))
    qtbot.waitUntil(lambda: not panel.running, timeout=120000)
    assert panel.result.passed and panel.lbl_check.text().startswith("✓  At init, the last layer's activations have")
    assert w.tabs.currentWidget().title == "Depth profile"
    panel.btn_now.click()
    qtbot.waitUntil(lambda: not panel.running, timeout=120000)
    assert not panel.result.passed and panel.lbl_check.text().startswith("✗  At init, the last layer keeps")
    assert w.controller.config.model.init == "xavier_normal"
    panel.btn_back.click()
    assert _item(panel, "small-gaussian-depth").text(1) == PASSED

    # A comparison lesson runs live in the Compare tab; the panel shows what its variants share,
    # and marks pending exactly where that differs from the main run still in force.
    in_force = w.panel.applied
    assert in_force is not None and in_force.data.name == "spiral"
    panel.run_lesson(panel.lesson_by_id("standardize-inputs"))
    assert panel.watching == "compare" and w.tabs.currentWidget().title == "Compare"
    assert sorted(w.controller.compare.spec.variants[i].name for i in range(2)) == ["raw", "standardized"]
    base = w.controller.compare.spec.base
    assert w.controller.config == base and base.data.name == "wine" and base.model.hidden == [32]
    assert w.panel.editors["data.name"].widget.currentText() == "wine"
    assert w.panel.editors["model.hidden"].widget.text() == "32"
    pending = w.panel.pending_keys()
    assert {"data.name", "model.hidden", "train.epochs"} <= set(pending)
    assert pending == [k for k in w.panel.editors if base.get(k) != in_force.get(k)]
    assert (
        w.panel.rows["data.name"][1].text().startswith("•")
        and "running: spiral" in w.panel.rows["data.name"][1].toolTip()
    )
    assert not w.panel.rows["seed"][1].text().startswith("•")  # the same in both: not pending
    button = w.panel.restart_button
    assert button.isVisible() and f"and {len(pending) - 2} more (Ctrl+R)" in button.text()
    assert all(w.panel.labels[k] in button.toolTip() for k in pending)
    assert w.panel_dock.width() < 400  # the long list does not widen the panel over the views
    qtbot.waitUntil(lambda: not panel.running, timeout=120000)
    assert panel.result.passed and w.controller.compare.state == RunState.FINISHED
    table = next(v for v in w.views if v.title == "Compare").table
    states = [table.item(r, 1).text() for r in range(table.rowCount())]
    assert states == [RunState.FINISHED] * 2  # drawn with the comparison's end, not a redraw later
    qtbot.wait(50)  # the dock lays out the check's sentence
    w.grab().save(str(screenshot_dir / "lessons_compare.png"))

    # An explorer lesson opens the Init explorer at its state; the check reads its numbers.
    panel.run_lesson(panel.lesson_by_id("large-init-saturation"))
    explorer = next(v for v in w.views if v.title == "Init explorer")
    assert w.tabs.currentWidget() is explorer and explorer.std.value() == 1.0 and explorer.depth.value() == 6
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    sat = explorer.study.summary.extra["saturated"]
    assert panel.result.passed and panel.result.value == pytest.approx(float(sat.mean()), abs=1e-9)
    w.grab().save(str(screenshot_dir / "lessons_explorer.png"))

    # A playground race runs live in the Playground; Next lesson runs the following one.
    panel.run_lesson(panel.lesson_by_id("saddle-point"))
    assert panel.watching == "playground" and w.tabs.currentWidget().title == "Playground"
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    assert panel.result.passed
    panel.btn_next.click()
    assert panel.current.id == "plateau"
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    w.grab().save(str(screenshot_dir / "lessons_playground.png"))


def test_a_lesson_stops_watching_when_the_user_starts_other_work(open_main_window, qtbot):
    w = open_main_window(ExperimentConfig().with_updates({"train.epochs": 1, "data.n_samples": 200}))
    panel = w.lessons_dock.panel
    panel.run_lesson(panel.lesson_by_id("gradient-noise"))
    assert panel.watching == "run"
    w.controller.start()  # the user restarts with the panel's config
    assert not panel.running and "another run started" in panel.lbl_progress.text()
    assert panel.btn_again.isEnabled() and not panel.lbl_check.isVisible()
    # A run that diverges ends the lesson too: its check reads the diverged run.
    panel.run_lesson(panel.lesson_by_id("lr-too-high"))
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    assert w.controller.state == RunState.DIVERGED and panel.result.passed
    assert panel.lbl_check.text().startswith("✓  The loss diverged to NaN/Inf by step ")


def test_a_search_lesson_runs_live_in_the_search_tab(open_main_window, qtbot, screenshot_dir):
    w = open_main_window(ExperimentConfig().with_updates({"train.epochs": 1, "data.n_samples": 200}), (1600, 950))
    panel = w.lessons_dock.panel
    search = next(v for v in w.views if v.title == "Search")
    panel.run_lesson(panel.lesson_by_id("coarse-to-fine"))
    assert panel.watching == "search" and w.tabs.currentWidget() is search
    # The panel shows the config every trial starts from (no main run: nothing pending), and
    # the Search tab's next round starts from it.
    cfg = w.controller.config
    assert cfg.data.name == "spiral" and cfg.optim.name == "sgd" and cfg.train.batch_size == 16
    assert w.panel.editors["optim.name"].widget.currentText() == "sgd" and w.panel.pending_keys() == []
    assert search.settings().base == cfg
    qtbot.waitUntil(lambda: search.snapshot is not None and len(search.snapshot.finished) >= 3, timeout=60000)
    assert panel.running  # the trials appear while the search runs
    qtbot.waitUntil(lambda: not panel.running, timeout=120000)
    assert panel.result.passed and [r.number for r in search.snapshot.rounds] == [1, 2]
    assert len(search.snapshot.finished) == 14
    # One parameter: the picture is the validation loss over it, not lr against lr.
    assert search.x_combo.currentText() == "optim.lr" and search.y_combo.currentText() == "validation loss"
    assert search.picture.plot.getAxis("left").labelText == "validation loss"
    qtbot.wait(50)  # the dock lays out the check's sentence
    w.grab().save(str(screenshot_dir / "lessons_search.png"))


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
