"""The Landscape tab's 2D contour marks the cells above the drawn range in grey, as the 3D
view does, and says so in its title; the rest keeps the colour map."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from desktop.plotting import configure_pyqtgraph

pytestmark = pytest.mark.gui


def test_landscape_contour_marks_clipped_cells_grey(qtbot, screenshot_dir):
    from desktop.views.landscape_plots import CLIPPED_RGBA, LandscapeContour, SurfaceShape

    configure_pyqtgraph()
    a = b = np.linspace(-1.0, 1.0, 21)
    A, B = np.meshgrid(a, b, indexing="ij")
    loss = 0.2 + A**2 + 0.5 * B**2
    loss[-1, :] = 50.0  # a far wall along a = 1: above the 95th percentile
    loss[0, 0] = np.nan  # a cell that did not evaluate
    shape = SurfaceShape(a, b, loss, log=False)
    assert shape.clipped[-1, :].all() and shape.clipped[0, 0] and 22 <= shape.clipped.sum() <= 25

    w = LandscapeContour()
    qtbot.addWidget(w)
    w.resize(520, 460)
    w.show()
    qtbot.waitExposed(w)
    w.set_surface(shape)
    img = w.image.image
    assert img.shape == (21, 21, 4)
    grey = np.all(img[..., :3] == np.asarray(CLIPPED_RGBA[:3]), axis=-1)
    assert grey[-1, :].all() and grey[0, 0]  # the wall and the missing cell
    assert not grey[5:15, 5:15].any()  # the valley keeps its colours ...
    low = np.asarray(w.cmap.map(np.array([0.0]), mode="byte"))[0][:3]
    assert np.abs(img[10, 10, :3].astype(int) - low.astype(int)).max() <= 3  # ... the minimum the map's low end
    assert 0.03 < grey.mean() < 0.1
    assert "grey: clipped above" in w.getPlotItem().titleLabel.text and "clipped" in w.getPlotItem().titleLabel.text

    whole = SurfaceShape(a, b, 0.2 + A**2, log=True)  # a log height shows the whole range: nothing clipped
    assert not whole.clipped.any()
    w.set_surface(whole)
    assert not np.all(w.image.image[..., :3] == np.asarray(CLIPPED_RGBA[:3]), axis=-1).any()
    assert "clipped" not in w.getPlotItem().titleLabel.text

    w.set_surface(shape)
    t = np.linspace(0, 1, 30)
    w.set_path(np.c_[0.8 - 0.8 * t, -0.7 + 0.7 * t])
    qtbot.wait(100)
    assert w.grab().save(str(screenshot_dir / "landscape_contour_clipped.png"))
