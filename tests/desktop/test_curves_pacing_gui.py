"""Curves at full speed: epochs that race in several per redraw are drawn as lines without
markers (pyqtgraph re-makes every marker at every redraw); a calm run keeps its markers,
and a raced run gets them back when it ends."""

from __future__ import annotations

import numpy as np

from engine.config import ExperimentConfig
from engine.events import EpochEnd, RunFinished, StepBatch
from engine.states import RunState

METRICS = {"train_loss": 1.0, "val_loss": 1.1, "train_acc": 0.5, "val_acc": 0.4}


def _epoch(k: int) -> list:
    steps = np.arange(10 * (k - 1) + 1, 10 * k + 1)
    return [
        StepBatch("r", steps, np.ones(10), np.full(10, 0.01), np.ones(10), k, 100.0),
        EpochEnd("r", k, int(steps[-1]), METRICS),
    ]


def _racing_view(qtbot):
    """A Curves view of a running run that has raced (six epochs in one redraw)."""
    from desktop.controller import AppController
    from desktop.views.curves import CurvesView

    c = AppController(ExperimentConfig())
    v = CurvesView(c)
    qtbot.addWidget(v)
    v.show()
    v.on_run_started("r", ExperimentConfig())
    c.state = RunState.RUNNING  # (as the controller sets it before it signals)
    c.state_changed.emit(RunState.RUNNING, "")
    return c, v


def test_racing_epochs_drop_their_markers_until_the_run_ends(qtbot):
    _c, v = _racing_view(qtbot)
    epoch_curves = (v.c_val_loss, v.c_train_loss, v.c_val_acc, v.c_train_acc_eval)
    for k in (1, 2, 3):  # one epoch per redraw: a calm run, markers on
        v.handle_events(_epoch(k))
        v.redraw()
    assert all(c.opts["symbol"] is not None for c in epoch_curves)
    assert len(v.c_val_loss.getData()[0]) == 3
    v.handle_events([e for k in range(4, 10) for e in _epoch(k)])  # six epochs in one redraw
    v.redraw()
    assert all(c.opts["symbol"] is None for c in epoch_curves)
    assert len(v.c_val_loss.getData()[0]) == 9  # every epoch drawn, as a line
    v.handle_events(_epoch(10))  # one more: still racing (no flicker of markers)
    v.redraw()
    assert v.c_val_loss.opts["symbol"] is None
    v.handle_events([RunFinished("r", {})])
    v.redraw()
    assert all(c.opts["symbol"] is not None for c in epoch_curves)
    assert len(v.c_val_loss.getData()[0]) == 10


def test_a_paused_or_stopped_raced_run_shows_its_epoch_markers(qtbot):
    """Markers are dropped only while epochs race in: a pause brings them back (drawn at
    once, with no new event), resuming at full speed drops them again, a stop brings them back."""
    c, v = _racing_view(qtbot)
    epoch_curves = (v.c_val_loss, v.c_train_loss, v.c_val_acc, v.c_train_acc_eval)
    v.handle_events([e for k in range(1, 7) for e in _epoch(k)])
    v.redraw()
    assert all(cv.opts["symbol"] is None for cv in epoch_curves)
    v._last_draw = 0.0  # noqa: SLF001 - the redraw throttle's clock: the pause comes later than 0.25 s
    c.state_changed.emit(RunState.PAUSED, "")
    assert all(cv.opts["symbol"] is not None for cv in epoch_curves)
    assert len(v.c_val_loss.getData()[0]) == 6
    # epochs that were still in the channel at the pause do not make a paused run race
    v.handle_events([e for k in range(7, 10) for e in _epoch(k)])
    v.redraw()
    assert v.c_val_loss.opts["symbol"] == "o"
    assert len(v.c_val_loss.getData()[0]) == 9
    c.state_changed.emit(RunState.RUNNING, "")
    v.handle_events([e for k in range(10, 14) for e in _epoch(k)])
    v.redraw()
    assert v.c_val_loss.opts["symbol"] is None
    c.state_changed.emit(RunState.STOPPED, "")
    v.redraw()
    assert all(cv.opts["symbol"] is not None for cv in epoch_curves)
    assert len(v.c_val_loss.getData()[0]) == 13


def test_the_loss_plot_keeps_a_rising_validation_loss_in_view(qtbot):
    """Step losses stay at 1 while the validation loss climbs to 3: the top follows it."""
    from desktop.controller import AppController
    from desktop.views.curves import CurvesView

    v = CurvesView(AppController(ExperimentConfig()))
    qtbot.addWidget(v)
    v.show()
    v.on_run_started("r", ExperimentConfig())
    for k in range(1, 6):
        steps = np.arange(10 * (k - 1) + 1, 10 * k + 1)
        metrics = dict(METRICS, val_loss=1.0 + 0.5 * k)
        v.handle_events([StepBatch("r", steps, np.ones(10), np.full(10, 0.01), np.ones(10), k, 100.0)])
        v.handle_events([EpochEnd("r", k, int(steps[-1]), metrics)])
        v.redraw()
    top = v.p_loss.vb.viewRange()[1][1]
    assert top >= 3.5, top


def test_at_full_speed_a_costly_picture_is_redrawn_less_often(qtbot):
    """Redraws are spaced so that drawing (a redraw and its paint, in GUI-thread CPU time)
    stays within DRAW_BUDGET of a core while the run goes as fast as it can; between
    MIN_REDRAW_S and MAX_REDRAW_S; a paced run keeps MIN_REDRAW_S."""
    c, v = _racing_view(qtbot)
    qtbot.waitExposed(v)
    v.handle_events(_epoch(1))
    v._last_draw = 0.0  # noqa: SLF001 - due now
    v.handle_events(_epoch(2))
    qtbot.waitUntil(lambda: v.glw.paint_s > 0, timeout=3000)  # the paint is measured
    painted = v.glw.paint_s
    v._last_draw = 0.0  # noqa: SLF001 - due now
    v.handle_events(_epoch(3))
    assert v._draw_cpu_s >= painted * 0.3 > 0  # noqa: SLF001 - counts the paints
    budget = v.DRAW_BUDGET
    for cost, interval in ((0.001, v.MIN_REDRAW_S), (0.012, 0.012 / budget), (0.2, v.MAX_REDRAW_S)):
        v._draw_cpu_s = cost  # noqa: SLF001 - a picture that costs this much
        assert abs(v.redraw_interval() - interval) < 1e-9, (cost, v.redraw_interval())
    c.max_steps_per_s = 200.0  # a paced run leaves the engine time: the usual pace
    assert v.redraw_interval() == v.MIN_REDRAW_S


def test_a_run_that_ends_at_full_speed_is_drawn_whole_at_once(qtbot):
    """At full speed a costly picture waits up to MAX_REDRAW_S between redraws; when the run
    ends its last steps are drawn at once (the lesson's check and the finished state must not
    show beside a curve that stops short), and with no run training the budget no longer applies."""
    c, v = _racing_view(qtbot)
    v.handle_events(_epoch(1))
    v.redraw()
    v._draw_cpu_s = 0.2  # noqa: SLF001 - a picture that costs this much: redrawn once a second
    assert v.redraw_interval() == v.MAX_REDRAW_S
    v.handle_events([e for k in range(2, 6) for e in _epoch(k)])  # arrive within the second
    assert v.has_pending_redraw and v.c_step_loss.getData()[0][-1] == 10
    c.state = RunState.FINISHED
    c.state_changed.emit(RunState.FINISHED, "")
    assert not v.has_pending_redraw
    assert v.c_step_loss.getData()[0][-1] == 50 and len(v.c_val_loss.getData()[0]) == 5
    assert v.redraw_interval() == v.MIN_REDRAW_S
