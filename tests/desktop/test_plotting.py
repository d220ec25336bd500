"""Small plotting helpers the live views rely on."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
from desktop.plotting import nice_ceiling


@pytest.mark.parametrize(
    "x, want",
    [
        (1, 1),
        (1.01, 1.5),
        (7, 8),
        (8.5, 10),
        (99, 100),
        (101, 150),
        (1234, 1500),
        (0.03, 0.03),
        (0.031, 0.04),
        (0, 1.0),
        (np.nan, 1.0),
    ],
)
def test_nice_ceiling(x, want):
    assert nice_ceiling(x) == pytest.approx(want)


def test_nice_ceiling_changes_rarely_for_a_growing_series():
    ends = {nice_ceiling(x) for x in range(10, 100_001)}
    assert len(ends) <= 5 * 8 + 1  # at most 8 ends per decade over four decades
    xs = np.arange(10, 100_001)
    assert all(nice_ceiling(x) >= x for x in xs[::97])


def test_curves_view_follows_the_run_in_coarse_steps_until_the_user_zooms(qtbot):
    from desktop.controller import AppController
    from desktop.views.curves import CurvesView
    from engine.config import ExperimentConfig
    from engine.events import StepBatch

    v = CurvesView(AppController(ExperimentConfig()))
    qtbot.addWidget(v)
    v.show()
    v.on_run_started("run", ExperimentConfig())
    ranges = []
    for k in range(40):
        steps = np.arange(k * 25 + 1, (k + 1) * 25 + 1)
        v.handle_events([StepBatch("run", steps, np.ones(25), np.full(25, 0.01), np.ones(25), 0, 100.0)])
        v.redraw()
        ranges.append(tuple(v.p_loss.vb.viewRange()[0]))
    # 25 → 1,000 steps in 40 redraws: a growing run gets room ahead, about five axis ends
    # per decade (1.6 decades here), each with the data inside it
    assert ranges[-1][1] >= 1000 and len(set(ranges)) <= 8
    assert all(hi >= k * 25 + 25 for k, (_lo, hi) in enumerate(ranges))
    # y (loss, gradient norm): from 0 to a nice top, unchanged while the data stay under it
    assert v.p_loss.vb.viewRange()[1] == pytest.approx([-0.045, 1.5])
    assert v.p_gn.vb.viewRange()[1] == pytest.approx([-0.045, 1.5])
    v.handle_events([StepBatch("run", np.arange(1001, 1011), np.full(10, 3.0), np.full(10, 0.01), np.ones(10), 0, 1.0)])
    v.redraw()
    assert v.p_loss.vb.viewRange()[1][1] == pytest.approx(4.0)  # outgrown: the next nice top
    v.log_y.setChecked(True)  # log-y: pyqtgraph's own auto range
    assert v.p_loss.vb.state["autoRange"][1] is not False
    v.log_y.setChecked(False)
    assert v.p_loss.vb.viewRange()[1][1] == pytest.approx(4.0)
    v.p_loss.vb.sigRangeChangedManually.emit([True, True])  # the user zoomed
    v.p_loss.setXRange(100, 200, padding=0)
    v.handle_events([StepBatch("run", np.arange(1011, 2001), np.ones(990), np.full(990, 0.01), np.ones(990), 0, 1.0)])
    v.redraw()
    assert v.p_loss.vb.viewRange()[0] == pytest.approx([100, 200])
    v.p_loss.vb.enableAutoRange(x=True)  # the "A" button
    v.redraw()
    assert v.p_loss.vb.viewRange()[0][1] >= 2000


def test_curves_step_axis_drops_its_headroom_when_the_run_stops(qtbot):
    """A growing run gets room ahead on the step axis; once it finishes, the axis ends at the
    run's last step again (a 600-step run was shown on an axis to 900)."""
    from desktop.controller import AppController
    from desktop.views.curves import CurvesView
    from engine.config import ExperimentConfig
    from engine.events import StepBatch
    from engine.states import RunState

    v = CurvesView(AppController(ExperimentConfig()))
    qtbot.addWidget(v)
    v.show()
    v.on_run_started("run", ExperimentConfig())
    v.controller.state_changed.emit(RunState.RUNNING, "")
    for k in range(24):
        steps = np.arange(k * 25 + 1, (k + 1) * 25 + 1)
        v.handle_events([StepBatch("run", steps, np.ones(25), np.full(25, 0.01), np.ones(25), 0, 100.0)])
        v.redraw()
    running_hi = v.p_loss.vb.viewRange()[0][1]
    assert running_hi > 700  # 600 steps, with room ahead while it runs
    v.controller.state_changed.emit(RunState.FINISHED, "")
    v.redraw()
    assert 600 <= v.p_loss.vb.viewRange()[0][1] < 620  # fits the run (nice end 600, 1% padding)


def test_a_fixed_width_axis_grows_to_fit_its_widest_tick_label(qtbot):
    """Views fix their left axes' widths (no re-layout as labels change); a log axis's
    "1e+03" then ran into the axis title (Compare's gradient norm, 'L2 norm' over '1e+02').
    The width grows to what pyqtgraph would reserve itself, and does not shrink back."""
    import pyqtgraph as pg
    from PySide6.QtGui import QFont

    from desktop.plotting import install_readable_axes, style_plot

    install_readable_axes()
    glw = pg.GraphicsLayoutWidget()
    qtbot.addWidget(glw)
    glw.resize(700, 300)
    fixed, auto = glw.addPlot(row=0, col=0), glw.addPlot(row=0, col=1)
    for p in (fixed, auto):
        style_plot(p, "Gradient norm", "step", "L2 norm")
        p.setLogMode(y=True)
        p.plot(np.arange(100.0), np.geomspace(0.05, 5000.0, 100))
        p.getAxis("left").setStyle(tickFont=QFont("DejaVu Sans", 12))  # a larger desktop font than the tests'
    fixed.getAxis("left").setWidth(52)
    glw.show()
    qtbot.waitExposed(glw)
    left, free = fixed.getAxis("left"), auto.getAxis("left")

    def laid_out() -> None:
        for _ in range(3):  # paints measure the tick labels; the layout follows
            glw.grab()
            qtbot.wait(20)

    laid_out()
    need = free.width()
    assert need > 60  # the room pyqtgraph's own sizing gives these labels and the title
    assert left.width() >= need - 1
    fixed.setLogMode(y=False)
    fixed.setYRange(0, 1)
    laid_out()
    assert left.width() >= need - 1  # narrower labels: no re-layout back


def test_count_axes_tick_whole_numbers_only(qtbot):
    """The search's trial and epoch axes: 4 trials or 2 epochs get no "0.5" ticks."""
    import pyqtgraph as pg

    from desktop.plotting import whole_number_ticks

    for hi in (1.0, 3.0, 2000.0):
        axis = pg.AxisItem("bottom")
        whole_number_ticks(axis)
        values = [v for _, level in axis.tickValues(0.0, hi, 300) for v in level]
        assert values and all(float(v).is_integer() for v in values), (hi, values)
        plain = pg.AxisItem("bottom")
        if hi <= 3:  # what pyqtgraph alone gives a short range
            assert any(not float(v).is_integer() for _, level in plain.tickValues(0.0, hi, 300) for v in level)


def test_legends_sit_on_a_white_card(qtbot):
    """A legend over the curves (Curves' loss legend over its validation curve) stays readable."""
    import pyqtgraph as pg

    from desktop.plotting import LEGEND_BRUSH, install_readable_axes

    install_readable_axes()
    legend = pg.PlotItem().addLegend(offset=(-10, 10))
    assert legend.brush().color().getRgb() == LEGEND_BRUSH
    own = pg.PlotItem().addLegend(brush=pg.mkBrush(0, 0, 0, 0))  # a view may still choose its own
    assert own.brush().color().alpha() == 0
