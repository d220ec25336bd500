"""Readable plots: real values on the axes, one palette with line styles, clean comparisons."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
import pyqtgraph as pg

from desktop.plotting import PALETTE, configure_pyqtgraph, run_pen, tick_strings
from engine.compare.layout import comparison_meta
from engine.config import ExperimentConfig
from engine.session import RunRecord, Session

pytestmark = pytest.mark.gui


def _plot(qtbot, ys):
    configure_pyqtgraph()
    w = pg.PlotWidget()
    qtbot.addWidget(w)
    p = w.getPlotItem()
    p.setLabel("left", "lr")
    p.plot(np.arange(len(ys)), ys)
    w.resize(400, 300)
    w.show()
    qtbot.waitExposed(w)
    p.enableAutoRange()
    p.vb.updateAutoRange()
    qtbot.wait(50)
    p.widget_ = w  # keep the widget alive with its plot
    return p


def test_axes_show_real_values_without_si_scaling(qtbot):
    p = _plot(qtbot, [0.0005, 0.001, 0.0012])  # a learning rate
    axis = p.getAxis("left")
    axis.updateAutoSIPrefix()
    assert "(x" not in axis.labelString() and "lr" in axis.labelString()  # not "lr (x0.001)"
    assert axis.autoSIPrefixScale == 1.0
    assert axis.tickStrings([0.0005, 0.001], 1.0, 0.0005) == ["0.0005", "0.0010"]
    big = _plot(qtbot, [1e27, 2e27])  # a diverged loss
    big_axis = big.getAxis("left")
    big_axis.updateAutoSIPrefix()
    assert "(x" not in big_axis.labelString()
    assert tick_strings([1e27, 1.5e27], 5e26) == ["1.0e+27", "1.5e+27"]
    assert tick_strings([900000, 1e6], 1e5) == ["900000", "1000000"]  # one format per axis
    # log axes: decades labelled, not 0.2 … 0.9 of each
    p.setLogMode(y=True)
    levels = axis.logTickValues(-4, 0, 300, [])
    assert levels[0][1] == [-4.0, -3.0, -2.0, -1.0, 0.0]


def test_twelve_runs_never_look_alike():
    pens = [run_pen(i) for i in range(12)]
    looks = {(p.color().name(), p.style().value) for p in pens}
    assert len(looks) == 12
    assert "#f0e442" not in {c.lower() for c in PALETTE}  # no yellow on white
    assert len(set(PALETTE)) == 10


def _record(name: str, opt: str, n: int = 30) -> RunRecord:
    cfg = ExperimentConfig().with_updates({"optim.name": opt})
    x = np.linspace(1.0, 0.2, n)
    return RunRecord(
        name,
        cfg,
        series={
            "step/loss": x,
            "step/lr": np.full(n, 0.01),
            "epoch/val_loss": x[::10],
            "epoch/val_acc": 1 - x[::10] / 2,
        },
    )


def comparison_with_main_run() -> Session:
    runs = [_record(n, n) for n in ("sgd", "momentum", "adam")]
    meta = {"comparison": comparison_meta(None, [r.name for r in runs])}
    return Session(runs=[_record("run1", "adam"), *runs], meta=meta)  # the main run saved first


def test_compare_tab_shows_only_the_comparisons_runs(open_main_window, qtbot, screenshot_dir):
    from desktop.views.compare import CompareView
    from engine.export.report import html_report

    w = open_main_window(ExperimentConfig(), size=(1600, 1000))  # the reference size: every view fits (docks open)
    cv = next(v for v in w.views if isinstance(v, CompareView))
    session = comparison_with_main_run()
    w.controller.show_session(session)
    assert sorted(r.name for r in cv.runs.values()) == ["adam", "momentum", "sgd"]  # not run1
    colours = [pg.mkPen(r.items["loss"].opts["pen"]).color().name() for r in cv.runs.values()]
    assert len(set(colours)) == 3
    assert len(cv.legend.items) == 3
    assert not cv.empty.showing
    w.show_tab("Compare")
    qtbot.wait(200)
    t = cv.table
    assert sum(t.columnWidth(j) for j in range(t.columnCount())) <= t.viewport().width()  # no column cut off
    assert w.grab().save(str(screenshot_dir / "compare_three_runs.png"))
    # the saved again session keeps one comparison of three (not four) runs
    saved = Session()
    cv.save_into(saved)
    assert [r.name for r in saved.runs] == ["sgd", "momentum", "adam"]
    # the report and the comparison plots: three runs, each its own colour
    from desktop.export.plots import render_comparison_plots
    from desktop.plotting import color
    from engine.compare.layout import comparison_session, run_colors

    (_key, _title, pw), *_rest = render_comparison_plots(session, 300, 200, keys=["loss"])
    assert len(pw.ci.getItem(0, 0).listDataItems()) == 3
    cols = run_colors(session)
    assert cols["run1"] not in {cols["sgd"], cols["momentum"], cols["adam"]}
    compared = comparison_session(session)
    html = html_report(compared, [], [color(cols[r.name]) for r in compared.runs])
    assert "run1" not in html and html.count(color(cols["sgd"])) >= 1
    # Line between runs: B is another run than A
    lp = cv.line_panel
    lp.sync_runs()
    assert lp.cb_a.currentText() != lp.cb_b.currentText()
    # probes: the note gives the reason that holds
    cv.redraw()
    assert "enable probes.enabled" not in cv.hist_note.text()
    assert "probes are on" in cv.hist_note.text()


def test_line_b_defaults_to_another_run_as_runs_arrive(qtbot):
    from desktop.jobs import JobRunner
    from desktop.views.compare_line import RunLinePanel

    names: list[str] = []
    panel = RunLinePanel(lambda: [], lambda: {}, lambda: list(names), JobRunner())
    qtbot.addWidget(panel)
    for n in ("sgd", "momentum", "adam"):  # runs join one at a time, as in a live comparison
        names.append(n)
        panel.sync_runs()
    assert (panel.cb_a.currentText(), panel.cb_b.currentText()) == ("sgd", "momentum")


def test_landscape_3d_has_a_key_range_and_start_end_markers(qtbot, screenshot_dir):
    from desktop.views.landscape_plots import CLIPPED_RGBA, Lazy3D, SurfaceShape

    configure_pyqtgraph()
    a = b = np.linspace(-1.0, 1.0, 21)
    A, B = np.meshgrid(a, b, indexing="ij")
    loss = 0.2 + A**2 + 0.5 * B**2
    loss[-1, :] = 50.0  # a far wall: clipped at the 95th percentile
    shape = SurfaceShape(a, b, loss, log=False)
    assert shape.clipped.sum() == 21 and shape.hi < 50
    w = Lazy3D()
    qtbot.addWidget(w)
    w.resize(640, 520)
    w.show()
    qtbot.waitExposed(w)
    w.set_surface(shape)
    t = np.linspace(0, 1, 30)
    path = np.c_[0.8 - 0.8 * t, -0.7 + 0.7 * t]
    w.set_path(path)
    key = w.key
    assert key.isVisible() and key.lo_label.text() == f"{shape.lo:.4g}" and key.hi_label.text() == f"{shape.hi:.4g}"
    assert "clipped (5% of the grid)" in key.range_label.text() and "α (direction 1) -1 … 1" in key.range_label.text()
    assert "start" in key.markers.text() and "end (now)" in key.markers.text()
    v = w.view
    assert v.start.pos[0][:2] == pytest.approx(shape.scene_xy(path[:1])[0])  # start at the path's first point
    assert v.head.pos[0][:2] == pytest.approx(shape.scene_xy(path[-1:])[0])
    assert len(v.halo.pos) == len(v.path.pos)  # the dark halo under the path
    colors = v.surface.opts["colors"] if "colors" in v.surface.opts else None
    if colors is not None:
        grey = np.all(np.asarray(colors).reshape(-1, 4)[:, :3] == np.asarray(CLIPPED_RGBA[:3]) / 255.0, axis=1)
        assert grey.sum() >= 21
    qtbot.wait(200)
    assert w.grab().save(str(screenshot_dir / "landscape_3d_key.png"))


def test_a_log_axis_within_one_decade_labels_at_least_three_values(qapp):
    """A loss between 0.3 and 1.5 on a log axis: not only "0.5" and "1"."""
    import math

    from desktop.views.log_axis import DecadeLogAxis

    axis = DecadeLogAxis("left")
    (_, ticks), *_ = axis.logTickValues(math.log10(0.3), math.log10(1.5), 300, [])
    values = [round(10**t, 6) for t in ticks]
    assert values == [0.3, 0.5, 1.0], values
    (_, ticks), *_ = axis.logTickValues(math.log10(0.6), math.log10(0.95), 300, [])
    assert len(ticks) >= 3 and all(0.6 <= 10**t <= 0.95 for t in ticks)
    (_, ticks), *_ = axis.logTickValues(math.log10(0.00095), math.log10(0.0021), 300, [])
    labels = axis.logTickStrings(ticks, 1.0, 0.1)
    assert labels == ["0.001", "0.0015", "0.002"], labels  # each label names its own value
    decades = [round(math.log10(v), 9) for v in (1e-5, 1e-4, 0.01, 1, 10, 100, 1500, 1e4, 1e5, 2.5e6)]
    labels = axis.logTickStrings(decades, 1.0, 1.0)
    assert labels == ["1e-05", "0.0001", "0.01", "1", "10", "100", "1500", "10000", "1e+05", "2.5e+06"], labels
    majors = axis.logTickValues(-3, 0, 300, [])[0][1]
    assert majors == [-3.0, -2.0, -1.0, 0.0]  # several decades: decades only on the first level


def test_the_search_pictures_log_axes_write_values_as_the_other_log_axes_do(qapp):
    """The score picture's log axes (positions log10 of the values) label decades like every
    other log axis: 0.001 … 1, not "1e-3 … 1e0"."""
    import pyqtgraph as pg

    from desktop.views.search_plots import _ticks_for
    from engine.tuning.space import Param

    axis = pg.AxisItem("bottom")
    _ticks_for(axis, Param("optim.lr", "log", 1e-3, 1.0))
    (majors, _minors) = axis._tickLevels  # noqa: SLF001 - the ticks set on the axis
    assert [label for _, label in majors] == ["0.001", "0.01", "0.1", "1"]
    _ticks_for(axis, Param("reg.l2", "log", 1e-6, 1e-5))
    assert [label for _, label in axis._tickLevels[0]] == ["1e-06", "1e-05"]  # noqa: SLF001 - as above
