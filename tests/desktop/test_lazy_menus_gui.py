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
