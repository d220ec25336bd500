"""The probe views (histograms over time, depth profile, gradient norms) during a real run."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtGui import QImage

from desktop.bridge import Bridge
from desktop.controller import AppController
from desktop.views.depth_profile import DepthProfileView
from desktop.views.gradients import GradientNormsView
from desktop.views.histograms import HistogramsView
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import Session, record_of

pytestmark = pytest.mark.gui


def not_blank(img: QImage) -> bool:
    rgb = img.convertToFormat(QImage.Format_RGB32)
    return np.frombuffer(bytes(rgb.constBits()), dtype=np.uint8).std() > 10


def cfg(**kw) -> ExperimentConfig:
    base = {
        "data.name": "digits",
        "model.hidden": [64, 64, 64],
        "model.activation": "tanh",
        "train.epochs": 60,
        "probes.every": 5,
        "device": "cpu",
        "train.threads": 1,
        "metrics.enabled": False,
    }
    base.update(kw)
    return ExperimentConfig().with_updates(base)


def test_histogram_views_update_during_a_run(qtbot, screenshot_dir):
    c = AppController(cfg())
    views = [HistogramsView(c), DepthProfileView(c), GradientNormsView(c)]
    for v in views:
        qtbot.addWidget(v)
        v.resize(900, 560)
        v.show()
    hist, depth, grads = views
    c.run_started.connect(lambda rid, conf: [v.on_run_started(rid, conf) for v in views])
    bridge = Bridge(c, views, interval_ms=20)
    bridge.start()
    try:
        c.start()
        qtbot.waitUntil(lambda: len(hist.store) >= 3, timeout=30000)
        # drawn while the run goes on (at most every MIN_REDRAW_S: 0.5 s)
        qtbot.waitUntil(lambda: sum(r.isVisible() for r in hist.ridges) >= 3, timeout=3000)
        early = len(hist.store)
        hist.grab().save(str(screenshot_dir / "probes_histograms_running.png"))
        # The views keep growing while the run goes on.
        qtbot.waitUntil(lambda: len(hist.store) >= early + 3, timeout=30000)
        c.stop()
        qtbot.waitUntil(lambda: c.state == "stopped", timeout=30000)
        qtbot.wait(300)
        for v in views:
            v.redraw()
        n = len(hist.store)
        assert n >= early + 3 and len(depth.store) == len(grads.store) == n
        assert sum(r.isVisible() for r in hist.ridges) == min(n, 24)
        with_grads = sum(1 for s in hist.store.snaps if s.grad.hist[0].sum() > 0)
        assert with_grads >= n - 2  # all but the probe at init (and a final one after stop)
        x, y = hist.ridges[0].getData()
        assert len(x) == cfg().probes.bins and np.all(np.isfinite(y))
        assert hist.layer.count() == 3 and hist.layer.currentText() == "tanh 1"
        img = hist.grab().toImage()
        assert not_blank(img)
        img.save(str(screenshot_dir / "probes_histograms_ridgelines.png"))
        hist.mode.setCurrentIndex(1)
        hist.group.setCurrentIndex(2)  # weight gradients
        assert hist.image.isVisible() and hist.image.image.shape[0] == with_grads
        hist.grab().save(str(screenshot_dir / "probes_histograms_heatmap.png"))
        # Depth profile: 3 layers; std at the last probe and at init drawn.
        xs, ys = depth.c_std.getData()
        assert list(xs) == [1.0, 2.0, 3.0] and np.all(ys > 0)
        assert len(depth.strip.plots) == 3 and depth.step_label.text().startswith(f"step {hist.store.steps[-1]} ")
        assert depth.symmetry.text() == ""
        img = depth.grab().toImage()
        assert not_blank(img)
        img.save(str(screenshot_dir / "probes_depth_profile.png"))
        # Gradient norms: one curve per weight layer (4), at every probe of a training step.
        assert len(grads.c_norm) == 4
        gx, gy = grads.c_norm[0].getData()
        assert len(gx) == with_grads and np.all(np.isfinite(gy))  # log10 of the norms (log-y plot)
        grads.grab().save(str(screenshot_dir / "probes_gradients.png"))
    finally:
        bridge.stop()
        c.shutdown(2.0)


def test_views_replay_a_saved_run_and_show_the_symmetry_indicator(qtbot, screenshot_dir):
    t = build_trainer(cfg(**{"model.init": "constant", "model.init_constant": 0.02, "train.epochs": 1}))
    t.run()
    session = Session(runs=[record_of(t)])
    c = AppController(cfg())
    depth, hist = DepthProfileView(c), HistogramsView(c)
    for v in (depth, hist):
        qtbot.addWidget(v)
        v.resize(900, 560)
        v.show()
        v.load_session(session)
    assert len(depth.store) == len(hist.store) == len(session.runs[0].arrays["probes/steps"])
    assert "symmetry" in depth.symmetry.text() and "tanh 1" in depth.symmetry.text()
    depth.grab().save(str(screenshot_dir / "probes_depth_constant_init.png"))


def test_main_window_shows_live_probes_depth_and_diagnostics_on_the_default_experiment(qtbot, tmp_path, screenshot_dir):
    from PySide6.QtCore import QSettings

    from desktop.main_window import MainWindow
    from desktop.plotting import configure_pyqtgraph
    from desktop.views.diagnostics import DiagnosticsView

    configure_pyqtgraph()
    c = AppController(ExperimentConfig().with_updates({"device": "cpu", "train.epochs": 8}))  # the default experiment
    w = MainWindow(c, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    views = {type(v).__name__: v for v in w.views}
    hist, depth = views["HistogramsView"], views["DepthProfileView"]
    diag: DiagnosticsView = views["DiagnosticsView"]
    try:
        assert w.show_tab(HistogramsView.title)
        c.start()
        qtbot.waitUntil(lambda: len(hist.store) >= 4, timeout=30000)
        qtbot.wait(400)
        assert sum(r.isVisible() for r in hist.ridges) >= 4
        img = w.grab().toImage()
        assert not_blank(img)
        img.save(str(screenshot_dir / "main_window_histograms_live.png"))
        assert w.show_tab(DepthProfileView.title)
        qtbot.wait(400)
        assert len(depth.store) >= 4 and len(depth.strip.plots) == 2  # default: 2 hidden ReLU layers
        w.grab().save(str(screenshot_dir / "main_window_depth_profile_live.png"))
        assert w.show_tab(DiagnosticsView.title)
        qtbot.waitUntil(lambda: diag.table.rowCount() >= 1, timeout=10000)
        assert diag.table.item(0, 3).text() == "initial_loss" and "ln 3" in diag.table.item(0, 5).text()
        qtbot.wait(300)
        w.grab().save(str(screenshot_dir / "main_window_diagnostics_live.png"))
    finally:
        c.shutdown(2.0)
