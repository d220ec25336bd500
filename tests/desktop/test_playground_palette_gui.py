"""The Playground's racers take the runs' colour-blind-safe palette (desktop/plotting.py),
and past its tenth colour another line style, so no two racers look alike."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from desktop.plotting import PALETTE, configure_pyqtgraph
from desktop.views.playground import PlaygroundView
from engine.playground.config import make_config

pytestmark = pytest.mark.gui


def test_playground_racers_use_the_shared_palette_then_line_styles(qtbot, screenshot_dir):
    configure_pyqtgraph()
    cfg = make_config("rosenbrock", None, {"steps": 300})
    shared = {c.lower() for c in PALETTE}
    assert [r.color.lower() for r in cfg.racers] == [c.lower() for c in PALETTE[: len(cfg.racers)]]
    v = PlaygroundView(None, config=cfg, grid_n=60)
    qtbot.addWidget(v)
    v.resize(1400, 850)
    v.show()
    qtbot.waitExposed(v)
    assert v.wait_computed(30)
    qtbot.wait(200)
    assert v.grab().save(str(screenshot_dir / "playground_palette.png"))

    add = next(b for b in v.editor.findChildren(QPushButton) if b.text() == "Add")
    v.editor.add_combo.setCurrentText("sgd")
    while len(v.cfg.racers) < 12:  # as the user adding optimizers
        add.click()
    colors = [r.color.lower() for r in v.cfg.racers]
    assert set(colors) <= shared and len(set(colors[:10])) == 10  # ten racers, ten palette colours
    pens = [c.opts["pen"] for c in v.loss_plot.curves]
    assert len(pens) == 12
    assert all(p.style() == Qt.SolidLine for p in pens[:10])
    for i in (10, 11):  # the colour comes round again, the line style differs
        assert colors[i] == colors[i - 10] and pens[i].style() != pens[i - 10].style()
    contour_pens = [c.opts["pen"] for c in v.contour.curves]
    assert contour_pens[10].style() != contour_pens[0].style()
    # the 3D view has no line styles: the eleventh racer on draw their paths with gaps
    # (GL "lines" pairs in the 2D style's dash pattern), in the colour that came round again
    assert v.wait_computed(30)
    qtbot.wait(300)
    surface = v.surface.ensure()
    paths = surface.paths
    assert len(paths) == 12
    assert all(p.mode == "line_strip" for p in paths[:10])
    for i in (10, 11):
        assert paths[i].mode == "lines" and paths[i].color == paths[i - 10].color
        seg = np.asarray(paths[i].pos).reshape(-1, 2, 3)
        assert len(seg) >= 3, len(seg)
        gaps = np.linalg.norm(seg[1:, 0] - seg[:-1, 1], axis=1)
        assert (gaps > 0.05).sum() >= 2  # dashes, not one continuous line
    assert v.grab().save(str(screenshot_dir / "playground_palette_12_racers.png"))


def test_a_dashed_path_keeps_its_dashes_and_drops_its_gaps():
    from desktop.views.playground_3d import dashed

    path = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 2.0, 0.0]])  # 3 units long
    seg = dashed(path, (0.3, 0.15)).reshape(-1, 2, 3)
    drawn = np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1).sum()
    assert abs(drawn - 7 * 0.3) < 1e-9  # seven dashes of 0.3 (the corner splits one in two)
    assert np.allclose(seg[1], [[0.45, 0, 0], [0.75, 0, 0]])  # the second dash, after a gap of 0.15
    assert np.allclose(seg[3], [[1, 0, 0], [1, 0.2, 0]])  # the dash round the corner goes on up
