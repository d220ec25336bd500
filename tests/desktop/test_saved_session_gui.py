"""A session saved by an earlier version (format 2, tests/fixtures/format2_main.descent: probes
with PReLU slopes, metrics, diagnostics, batch norm, a decision boundary, a path with its
sharpness) opens in the real window and every view shows what it saved; a session with one
malformed feature says so and still shows the others."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop.views.batchnorm_view import BatchNormView
from desktop.views.curves import CurvesView
from desktop.views.decision_boundary import DecisionBoundaryView
from desktop.views.depth_profile import DepthProfileView
from desktop.views.diagnostics import DiagnosticsView
from desktop.views.gradients import GradientNormsView
from desktop.views.histograms import HistogramsView
from desktop.views.landscape import LandscapeView
from desktop.views.metrics_view import MetricsView
from engine.config import ExperimentConfig
from engine.session import load_session, save_session

pytestmark = pytest.mark.gui

FIXTURE = Path(__file__).parents[1] / "fixtures" / "format2_main.descent"


def _view(window, cls):
    return next(v for v in window.views if isinstance(v, cls))


def _not_blank(widget) -> bool:
    img = widget.grab().toImage()
    colors = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    return len(colors) > 20


def test_a_format_2_session_opens_in_every_view(open_main_window, qtbot, screenshot_dir):
    window = open_main_window(ExperimentConfig())
    notices: list[str] = []
    window.controller.notice.connect(lambda message, _level: notices.append(message))
    assert window.open_session(str(FIXTURE))
    assert notices == []
    curves = _view(window, CurvesView)
    assert len(curves.run.step) == 16 and len(curves.run.epoch_step) == 4
    assert np.isfinite(curves.run.epoch["val_loss"].view()).all()
    for cls in (HistogramsView, DepthProfileView, GradientNormsView):
        assert _view(window, cls).store.steps == [0, 5, 10, 15, 16]
    hist = _view(window, HistogramsView)
    assert hist.layer.count() == 2 and hist.layer.currentText() == "prelu 1"
    grads = _view(window, GradientNormsView)
    assert len(grads.c_slope) == 2 and len(grads.c_slope[0].xData) == 5  # the PReLU slopes
    metrics = _view(window, MetricsView)
    assert metrics.latest.epoch == 4 and metrics.table.rowCount() == 3 and len(metrics.roc_curves) == 3
    assert len(metrics.c_val_loss.xData) == 4
    diag = _view(window, DiagnosticsView)
    assert diag.table.rowCount() == 1 and diag.table.item(0, 3).text() == "initial_loss"
    bn = _view(window, BatchNormView)
    assert bn.layer.count() == 2 and len(bn.c_bmean.xData) == 4 and len(bn.c_acc_run.xData) == 4
    boundary = _view(window, DecisionBoundaryView)
    assert boundary.grids_drawn == 1 and boundary.last_step == 16 and len(boundary.train_items) == 3
    landscape = _view(window, LandscapeView)
    assert landscape.traj is not None and len(landscape.traj) == 5 and len(landscape.sharp) == 3
    for cls, name in (
        (HistogramsView, "saved_histograms"),
        (GradientNormsView, "saved_gradients"),
        (MetricsView, "saved_metrics"),
        (BatchNormView, "saved_batchnorm"),
        (DecisionBoundaryView, "saved_decision_boundary"),
    ):
        assert window.show_tab(_view(window, cls).title)
        qtbot.wait(50)
        view = _view(window, cls)
        view.redraw()
        assert _not_blank(view), name
        view.grab().save(str(screenshot_dir / f"{name}.png"))


def test_a_malformed_feature_is_named_and_the_rest_still_shows(open_main_window, qtbot, tmp_path):
    session = load_session(FIXTURE)
    rec = session.runs[0]
    rec.arrays["probes/act/hist"] = rec.arrays["probes/act/hist"][:, :1]  # one layer's histograms lost
    rec.meta["diagnostics"] = [{"kind": "saturation"}]
    path = save_session(session, tmp_path / "malformed.descent")
    window = open_main_window(ExperimentConfig())
    notices: list[str] = []
    window.controller.notice.connect(lambda message, _level: notices.append(message))
    assert window.open_session(str(path))
    assert any("probes/act/hist" in n for n in notices)
    assert any("diagnostics[0]" in n for n in notices)
    assert len(_view(window, HistogramsView).store) == 0
    assert _view(window, MetricsView).latest.epoch == 4  # the other features still show
    assert _view(window, BatchNormView).layer.count() == 2
