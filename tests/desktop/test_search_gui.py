"""The Search tab: a live search in a worker process, a refine round, a trial opened as a run."""

from __future__ import annotations

import math

import pytest

from engine.config import ExperimentConfig
from engine.session import Session
from engine.states import RunState
from engine.tuning.storage import search_of

pytestmark = pytest.mark.gui


def test_search_tab_runs_refines_and_opens_a_trial(open_main_window, qtbot, screenshot_dir) -> None:
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    config = ExperimentConfig().with_updates(
        {"data.name": "moons", "data.n_samples": 200, "model.hidden": [8], "train.epochs": 3, "optim.name": "sgd"}
    )
    window = open_main_window(config, size=(1700, 950))
    assert window.show_tab("Search")
    view = next(v for v in window.views if v.title == "Search")
    view.space_edit.setText("optim.lr=log:1e-3:1 optim.weight_decay=log:1e-6:1e-1")
    view.trials.setValue(8)
    view.jobs_spin.setValue(1)
    view.start_button.click()
    assert view.searching and view.stop_button.isEnabled() and not view.start_button.isEnabled()
    qtbot.waitUntil(lambda: view.snapshot is not None and len(view.snapshot.finished) >= 3, timeout=240_000)
    view.redraw()
    window.grab()  # painting widens the axes to their new tick labels; the next paint shows them so
    QApplication.sendPostedEvents(None, QEvent.LayoutRequest)  # (and nothing else: the search keeps running)
    window.grab().save(str(screenshot_dir / "search_running.png"))
    qtbot.waitUntil(lambda: not view.searching and view.snapshot.state == RunState.FINISHED, timeout=240_000)
    qtbot.waitUntil(lambda: bool(view.importance), timeout=120_000)
    snap = view.snapshot
    assert len(snap.complete) == 8
    assert view.table.rowCount() == 8
    assert len(view.picture.scatter.data) == 8 and len(view.picture.best.data) == 1
    assert len(view.curves.items) == 8 and len(view.parallel.items) == 8
    assert set(view.importance) == {"optim.lr", "optim.weight_decay"}
    assert math.isclose(sum(view.importance.values()), 1.0, rel_tol=1e-6)
    window.grab().save(str(screenshot_dir / "search_done.png"))

    view.top_k.setValue(3)
    view.trials.setValue(4)
    view.refine_best.click()
    qtbot.waitUntil(lambda: not view.searching and len(view.snapshot.rounds) == 2, timeout=240_000)
    qtbot.waitUntil(
        lambda: view.snapshot.state == RunState.FINISHED and len(view.snapshot.trials) == 12, timeout=240_000
    )
    view.redraw()
    round2 = [t for t in view.snapshot.trials if t.round == 2]
    space2 = view.snapshot.rounds[1].space
    lr_low, lr_high = (float(x) for x in space2[0].split(":")[1:])
    assert 1e-3 <= lr_low and lr_high <= 1 and lr_high / lr_low < 1e3
    assert all(lr_low <= t.params["optim.lr"] <= lr_high for t in round2)
    symbols = {s["symbol"] for s in view.picture.scatter.data}
    assert len(symbols) == 2  # each round its own marker
    qtbot.wait(200)  # the axes widen to their new tick labels
    window.grab().save(str(screenshot_dir / "search_refined.png"))
    # At a true 1700×950 with the panel and Lessons docks open, the tab fits the room they
    # leave (under 1,000 px would still fit): no sideways scrolling, every plot whole, every column shown.
    assert window.grab().size().toTuple() == (1700, 950)
    assert window.panel_dock.isVisible() and window.lessons_dock.isVisible()
    page = window.tabs.page_of(view)  # the tab's scroll area
    assert view.minimumSizeHint().width() <= min(page.viewport().width(), 1000)
    assert page.horizontalScrollBar().maximum() == 0 and view.width() == page.viewport().width()
    for plot in (view.history, view.curves, view.picture, view.parallel, view.importance_plot):
        box = plot.plot.sceneBoundingRect()
        assert box.left() >= 0 and box.right() <= view.graphics.width() and box.bottom() <= view.graphics.height()
        assert box.width() >= 200 and box.height() >= 150, (type(plot).__name__, box)
    assert view.table.horizontalScrollBar().maximum() == 0

    best = view.snapshot.best(1)[0]
    view.select_trial(best.number)
    assert view.selected == best.number and view.open_button.isEnabled()
    assert view.open_trial()
    assert window.controller.config.optim.lr == best.params["optim.lr"]
    assert window.controller.config.optim.weight_decay == best.params["optim.weight_decay"]

    session = Session()
    view.save_into(session)
    back = search_of(session)
    assert back is not None and [t.score for t in back.trials] == [t.score for t in view.snapshot.trials]


def test_a_saved_search_opens_in_the_search_tab(open_main_window, qtbot, tmp_path, screenshot_dir) -> None:
    import numpy as np

    from engine.tuning.snapshot import Round, SearchSnapshot, TrialRecord
    from engine.tuning.storage import save_search

    rng = np.random.default_rng(0)
    trials = []
    for n in range(12):  # a bowl in (log lr, log wd) with its floor at lr 0.1, wd 1e-4
        lr, wd = 10 ** rng.uniform(-4, 0), 10 ** rng.uniform(-6, -1)
        score = 0.2 + 0.5 * (math.log10(lr) + 1) ** 2 + 0.02 * (math.log10(wd) + 4) ** 2
        state = RunState.PRUNED if score > 3.5 else RunState.FINISHED
        curve = tuple(score * (1 + 1.0 / e) for e in (1, 2, 3))
        trials.append(
            TrialRecord(
                n,
                1 if n < 8 else 2,
                state,
                {"optim.lr": lr, "optim.weight_decay": wd},
                score=score if state == RunState.FINISHED else math.nan,
                curve=curve if state == RunState.FINISHED else curve[:1],
                t_start=1.0,
                t_end=2.0,
            )
        )
    space = ("optim.lr=log:0.0001:1", "optim.weight_decay=log:1e-06:0.1")
    snap = SearchSnapshot(
        "saved", ExperimentConfig(), (Round(1, space, "random"), Round(2, space, "random")), tuple(trials), 12
    )
    path = save_search(snap, tmp_path / "saved.descent")
    window = open_main_window(ExperimentConfig(), size=(1700, 950))
    window.controller.open(path)
    assert window.show_tab("Search")
    view = next(v for v in window.views if v.title == "Search")
    qtbot.waitUntil(lambda: bool(view.importance), timeout=120_000)
    assert view.table.rowCount() == 12
    assert len(view.picture.scatter.data) == 12  # pruned trials too (grey), each where it was sampled
    assert {s["symbol"] for s in view.picture.scatter.data} == {"o", "t"}
    best = snap.best(1)[0]
    assert view.status.text().startswith("Saved search 'saved'") and f"#{best.number}" in view.status.text()
    assert max(view.importance, key=view.importance.get) == "optim.lr"  # the bowl is steeper along lr
    window.grab()  # painting widens the importance plot's axis to the parameters' names
    qtbot.wait(50)
    assert view.importance_plot.plot.getAxis("left").width() > 100  # "optim.weight_decay" has room
    window.grab().save(str(screenshot_dir / "search_saved.png"))


def test_refine_to_the_rectangle_then_stop_keeps_the_finished_trials(
    open_main_window, qtbot, tmp_path, screenshot_dir
) -> None:
    from engine.tuning.snapshot import Round, SearchSnapshot, TrialRecord
    from engine.tuning.storage import save_search

    base = ExperimentConfig().with_updates(
        {"data.name": "moons", "data.n_samples": 200, "model.hidden": [8], "train.epochs": 4, "optim.name": "sgd"}
    )
    trials = tuple(
        TrialRecord(n, 1, RunState.FINISHED, {"optim.lr": lr, "optim.weight_decay": wd}, score=s, curve=(s,))
        for n, (lr, wd, s) in enumerate([(1e-3, 1e-5, 0.6), (0.05, 1e-4, 0.3), (0.5, 1e-2, 0.5), (0.02, 1e-3, 0.35)])
    )
    space = ("optim.lr=log:0.0001:1", "optim.weight_decay=log:1e-06:0.1")
    path = save_search(SearchSnapshot("rect", base, (Round(1, space, "random"),), trials, 4), tmp_path / "r.descent")
    window = open_main_window(base, size=(1500, 900))
    window.controller.open(path)
    assert window.show_tab("Search")
    view = next(v for v in window.views if v.title == "Search")
    assert (view.picture.px.key, view.picture.py.key) == ("optim.lr", "optim.weight_decay")
    view.picture.roi.setPos([-2.0, -5.0])  # the rectangle (log10 axes): lr 1e-2..1e-1, wd 1e-5..1e-3
    view.picture.roi.setSize([1.0, 2.0])
    view.trials.setValue(400)  # more than finish before Stop
    view.jobs_spin.setValue(1)
    view.refine_rect.click()
    assert view.searching
    lr_range, wd_range = (tuple(float(x) for x in text.split(":")[1:]) for text in view.snapshot.rounds[1].space)
    assert lr_range == pytest.approx((1e-2, 1e-1)) and wd_range == pytest.approx((1e-5, 1e-3))
    qtbot.waitUntil(lambda: sum(t.round == 2 for t in view.snapshot.finished) >= 3, timeout=240_000)
    view.redraw()
    window.grab().save(str(screenshot_dir / "search_rectangle_running.png"))
    view.stop_button.click()
    qtbot.waitUntil(lambda: not view.searching and view.snapshot.state != RunState.RUNNING, timeout=60_000)
    snap = view.snapshot
    assert snap.state == RunState.CANCELLED and "ended by Stop" in view.status.text()
    round2 = [t for t in snap.trials if t.round == 2]
    kept = [t for t in round2 if t.state == RunState.FINISHED]
    assert 3 <= len(kept) < 400 and all(math.isfinite(t.score) and len(t.curve) == 4 for t in kept)
    assert not [t for t in snap.trials if t.state == RunState.RUNNING]  # a running trial ended as stopped
    assert all(1e-2 <= t.params["optim.lr"] <= 1e-1 and 1e-5 <= t.params["optim.weight_decay"] <= 1e-3 for t in round2)
    assert len(snap.trials) == 4 + len(round2)  # round 1 kept beside the stopped round
    session = Session()
    view.save_into(session)
    back = search_of(session)
    assert back is not None and len([t for t in back.trials if t.state == RunState.FINISHED and t.round == 2]) == len(
        kept
    )
