"""The plots' right-click menus are built on first use: none while the main window is made,
and a right click shows pyqtgraph's entries with the app's export entries after them."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from engine.config import ExperimentConfig

pytestmark = pytest.mark.gui


def test_no_plot_menu_is_built_before_a_right_click_and_then_it_has_every_entry(open_main_window, qtbot):
    import pyqtgraph as pg
    from PySide6.QtCore import QPoint, Qt

    from desktop.lazy_menus import LazyViewBoxMenu
    from desktop.views.curves import CurvesView

    w = open_main_window(ExperimentConfig())
    scenes = {gv.scene() for v in w.views for gv in v.findChildren(pg.GraphicsView)}
    boxes = [item for s in scenes for item in s.items() if isinstance(item, pg.ViewBox) and item.menu is not None]
    lazy = [b.menu for b in boxes if isinstance(b.menu, LazyViewBoxMenu)]
    assert len(boxes) >= 40 and len(lazy) == len(boxes)
    assert not any(m.built for m in lazy)
    curves = next(v for v in w.views if isinstance(v, CurvesView))
    w.show_tab("Curves")
    qtbot.waitExposed(curves)
    vb = curves.p_loss.vb
    center = curves.glw.mapFromScene(vb.sceneBoundingRect().center())
    qtbot.mouseClick(curves.glw.viewport(), Qt.RightButton, pos=QPoint(int(center.x()), int(center.y())))
    qtbot.waitUntil(lambda: vb.menu.built and vb.menu.real().isVisible(), timeout=3000)
    texts = [a.text() for a in vb.menu.real().actions() if not a.isSeparator()]
    assert texts[0] == "View All" and {"X axis", "Y axis", "Mouse Mode"} <= set(texts)
    ours = ["Save plot as PNG…", "Save plot as SVG…", "Save plot as PDF…", "Save curves as CSV…", "Show legend"]
    assert set(ours) <= set(texts) and min(texts.index(t) for t in ours) > texts.index(
        "Mouse Mode"
    )  # after pyqtgraph's
    vb.menu.real().close()
    assert not any(b.menu.built for b in boxes if b is not vb)  # the others still wait


def test_a_line_plot_on_a_hidden_side_tab_is_built_when_shown_with_the_line_given_before(qtbot):
    import numpy as np

    from desktop.views.compare_line import RunLinePlot
    from engine.landscape.between import RunLine

    plot = RunLinePlot()
    qtbot.addWidget(plot)
    alpha = np.linspace(-0.25, 1.25, 7)
    line = RunLine("sgd", "adam", alpha, 1 + alpha**2, 0.5 + 0 * alpha, 1.2 + alpha**2, 0.4 + 0 * alpha)
    plot.set_line(line, "#0072B2", "#E69F00")
    assert not plot.built and not plot.ci.items  # nothing made while hidden
    plot.show()
    qtbot.waitExposed(plot)
    assert plot.built and len(plot.ci.items) == 2
    item = plot.items["val_loss"]  # (xData, yData: the values, not their log10 on the log axis)
    assert np.allclose(item.xData, alpha) and np.allclose(item.yData, 1.2 + alpha**2)
    assert [m.label.format for m in plot.marks] == ["sgd", "adam", "sgd", "adam"]
