"""The activation and initialization explorers (no run needed)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtGui import QImage

from desktop.controller import AppController
from desktop.views.explorers import ActivationExplorerView, InitExplorerView
from engine.config import ExperimentConfig

pytestmark = pytest.mark.gui


def not_blank(img: QImage) -> bool:
    rgb = img.convertToFormat(QImage.Format_RGB32)
    return np.frombuffer(bytes(rgb.constBits()), dtype=np.uint8).std() > 10


def test_activation_explorer_curves_slope_and_shading(qtbot, screenshot_dir):
    v = ActivationExplorerView(AppController(ExperimentConfig()))
    qtbot.addWidget(v)
    v.resize(1000, 500)
    v.show()
    v.checks["leaky_relu"].setChecked(True)
    v.slope.setValue(0.2)
    x, df = v.curves_df["leaky_relu"].getData()
    assert np.allclose(df[x < -0.01], 0.2) and np.allclose(df[x > 0.01], 1.0)
    x, f = v.curves_f["sigmoid"].getData()
    assert np.allclose(f, 1 / (1 + np.exp(-x)))
    # Sigmoid's shaded regions start where σ(x) = 0.99.
    lo, hi = v.regions["sigmoid"][2].getRegion()  # [left f, left f′, right f, right f′]
    assert 1 / (1 + np.exp(-lo)) == pytest.approx(0.99)
    assert v.regions["tanh"][0].isVisible() and not v.regions["prelu"]
    keys = [lab.text for _s, lab in v.p_df.legend.items]
    assert "sigmoid: saturated (shaded)" in keys and "relu: f′ = 0 (shaded)" in keys  # whose shade is whose
    v.checks["tanh"].setChecked(False)
    assert not v.curves_f["tanh"].isVisible() and not v.regions["tanh"][0].isVisible()
    assert "tanh: saturated (shaded)" not in [lab.text for _s, lab in v.p_df.legend.items]
    v.checks["tanh"].setChecked(True)
    img = v.grab().toImage()
    assert not_blank(img)
    img.save(str(screenshot_dir / "explorer_activations.png"))


def run_study(qtbot, v: InitExplorerView, **settings):
    v.init.setCurrentText(settings.get("init", "normal"))
    v.activation.setCurrentText(settings.get("activation", "tanh"))
    v.std.setValue(settings.get("std", 0.01))
    v.run_study()
    qtbot.waitUntil(lambda: v.run_button.isEnabled(), timeout=30000)
    return v.study


def test_init_explorer_small_gaussian_collapses_xavier_stays_constant_is_symmetric(qtbot, screenshot_dir):
    v = InitExplorerView(AppController(ExperimentConfig()))
    qtbot.addWidget(v)
    v.resize(1100, 640)
    v.show()
    qtbot.waitUntil(lambda: v.study is not None and v.run_button.isEnabled(), timeout=30000)  # runs when shown
    s = run_study(qtbot, v, init="normal", std=0.01)
    assert len(s.labels) == 5 and s.std[-1] / s.std[0] < 0.1
    assert v.c_std.getData()[1][-1] == pytest.approx(s.std[-1])
    # each layer's histogram spans its own values: the collapsed last layer is not a spike
    first, last = (v.strip.plots[k].vb.viewRange()[0] for k in (0, -1))
    assert (last[1] - last[0]) < 0.2 * (first[1] - first[0])
    v.same_x.setChecked(True)  # one range for all, on request
    assert v.strip.plots[-1].vb.viewRange()[0] == pytest.approx(v.strip.plots[0].vb.viewRange()[0])
    v.same_x.setChecked(False)
    v.grab().save(str(screenshot_dir / "explorer_init_small_gaussian.png"))
    s = run_study(qtbot, v, init="xavier_uniform")
    assert s.std[-1] / s.std[0] > 0.5 and v.symmetry.text() == ""
    img = v.grab().toImage()
    assert not_blank(img)
    img.save(str(screenshot_dir / "explorer_init_xavier.png"))
    s = run_study(qtbot, v, init="constant")
    assert s.symmetric.all() and "symmetry" in v.symmetry.text()
    v.grab().save(str(screenshot_dir / "explorer_init_constant.png"))
    assert v.width.minimum() == 1  # a zero-width layer cannot be asked for
