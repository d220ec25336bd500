"""The data, decision-boundary, augmentation and batch-norm tabs, driven for real under Xvfb."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QPushButton

from desktop.controller import AppController
from desktop.plotting import configure_pyqtgraph
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import record_of

pytestmark = pytest.mark.gui
FAST = {"device": "cpu", "train.threads": 1}


def _pixels(widget) -> np.ndarray:
    img = widget.grab().toImage().convertToFormat(QImage.Format_RGB32)
    a = np.frombuffer(bytes(img.constBits()), dtype=np.uint8).reshape(img.height(), img.width(), 4)
    return a[:, :, :3]


def _save(widget, screenshot_dir, name: str) -> np.ndarray:
    widget.grab().save(str(screenshot_dir / name))
    return _pixels(widget)


def _show(qtbot, view, w=1000, h=620):
    qtbot.addWidget(view)
    view.resize(w, h)
    view.show()
    qtbot.waitExposed(view)


def _click(qtbot, view, text: str) -> None:
    """Click the view's push button labelled `text`, as a user would."""
    button = next(b for b in view.findChildren(QPushButton) if b.text() == text)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_data_view_whitening_before_after(qtbot, screenshot_dir):
    configure_pyqtgraph()
    from desktop.views.data_view import DataView

    c = AppController(ExperimentConfig().with_updates({"data.name": "wine", "data.preprocess": "zca_whiten"}))
    v = DataView(c)
    _show(qtbot, v)
    qtbot.waitUntil(lambda: v.report is not None, timeout=60000)  # the first report imports scikit-learn
    assert v.report.kind == "zca_whiten"
    assert np.abs(v.report.cov_after - np.eye(13)).max() < 1e-4
    assert "1.29e+07" in v.cond_before.text() and "<b>1</b>" in v.cond_after.text()
    qtbot.wait(100)
    px = _save(v, screenshot_dir, "data_view_wine_zca.png")
    assert px.std() > 20
    # the panel edits the controller's config: the view follows (2D set → scatter plots)
    c.set_field("data.name", "moons")
    c.set_field("data.preprocess", "standardize")
    qtbot.waitUntil(lambda: v.report is not None and v.report.name == "moons", timeout=10000)
    assert v.report.before.shape[1] == 2 and abs(v.report.after.std(0).mean() - 1) < 0.05
    qtbot.wait(100)
    _save(v, screenshot_dir, "data_view_moons_standardize.png")


def test_data_view_reports_a_bad_file_in_one_line(qtbot, tmp_path, monkeypatch):
    from desktop.views.data_view import DataView

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4\n")
    c = AppController(ExperimentConfig())
    v = DataView(c)
    _show(qtbot, v)
    qtbot.waitUntil(lambda: v.report is not None, timeout=60000)  # the first report imports scikit-learn
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: (str(bad), ""))
    _click(qtbot, v, "Open CSV…")
    qtbot.waitUntil(lambda: "no label column" in v.summary.text(), timeout=10000)
    assert str(bad) in v.summary.text() and v.report is None
    assert c.config.data.name == "csv" and c.config.data.path == str(bad)


def test_augment_preview_grid(qtbot, screenshot_dir):
    configure_pyqtgraph()
    from desktop.views.augment_preview import AugmentPreviewView

    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "augment.hflip_p": 0.5,
            "augment.crop_p": 0.5,
            "augment.crop_padding": 1,
            "augment.affine_p": 0.7,
            "augment.rotate_degrees": 25,
            "augment.noise_p": 0.3,
        }
    )
    c = AppController(cfg)
    v = AugmentPreviewView(c)
    _show(qtbot, v, 900, 640)
    qtbot.waitUntil(lambda: v.preview is not None, timeout=10000)
    p = v.preview
    assert p.originals.shape == (8, 1, 8, 8) and p.augmented.shape == (4, 8, 1, 8, 8)
    assert sorted(p.labels) == [str(k) for k in range(8)]  # one image per class first
    changed = np.abs(p.augmented - p.originals[None]).reshape(32, -1).max(1) > 1e-6
    assert 0.5 < changed.mean() <= 1.0
    assert "flip" in v.info.text() and "never" in v.info.text()
    qtbot.wait(100)
    px = _save(v, screenshot_dir, "augment_preview_digits.png")
    assert px.std() > 20
    first = p.augmented.copy()
    _click(qtbot, v, "New random draw")
    qtbot.waitUntil(lambda: v.preview is not p, timeout=10000)
    assert not np.array_equal(v.preview.augmented, first)
    c.set_field("data.name", "moons")
    qtbot.waitUntil(lambda: v.preview is None, timeout=10000)
    assert "image data" in v.info.text()


def test_batchnorm_view_shows_batch_vs_running(qtbot, screenshot_dir):
    configure_pyqtgraph()
    from desktop.views.batchnorm_view import BatchNormView

    cfg = ExperimentConfig().with_updates(
        {
            **FAST,
            "data.name": "digits",
            "model.batch_norm": "before",
            "model.hidden": [32, 32],
            "train.batch_size": 8,
            "train.epochs": 2,
            "train.val_fraction": 0.5,
        }
    )
    events: list = []
    t = build_trainer(cfg, emit=events.append, run_id="bn1")
    c = AppController(cfg)
    v = BatchNormView(c)
    _show(qtbot, v)
    v.on_run_started("bn1", cfg)
    t.run()
    for i in range(0, len(events), 50):  # arrive in batches, as from the bridge
        v.handle_events(events[i : i + 50])
    assert v.layer.count() == 2
    xs, ys = v.c_bmean.getData()
    assert len(xs) == len(record_of(t).arrays["batchnorm/steps"]) and np.isfinite(ys).all()
    _, rv = v.c_rvar.getData()
    assert rv.min() > 0
    assert v.c_expected.value() == pytest.approx(0.2821, abs=1e-3)  # √(2/π)/√8
    ex, ey = v.c_acc_batch.getData()
    assert len(ex) == 2
    qtbot.wait(100)
    px = _save(v, screenshot_dir, "batchnorm_view_digits_b8.png")
    assert px.std() > 20
    # replay from a session record
    from engine.session import Session

    w = BatchNormView(c)
    w.load_session(Session(runs=[record_of(t, "bn1")]))
    assert len(w.c_bmean.getData()[0]) == len(xs)


def test_decision_boundary_live_through_the_bridge(qtbot, screenshot_dir):
    """Engine thread → channel → bridge → view, as in the main window (which lists the tab)."""
    configure_pyqtgraph()
    from desktop.bridge import Bridge
    from desktop.views.decision_boundary import DecisionBoundaryView
    from desktop.views.registry import tab_classes

    assert DecisionBoundaryView in tab_classes()
    cfg = ExperimentConfig().with_updates(
        {
            **FAST,
            "data.name": "spiral",
            "data.n_samples": 600,
            "train.epochs": 300,
            "model.hidden": [32, 32],
            "optim.lr": 0.01,
        }
    )
    c = AppController(cfg)
    v = DecisionBoundaryView(c)
    _show(qtbot, v, 900, 700)
    bridge = Bridge(c, [v])
    bridge.start()
    c.run_started.connect(v.on_run_started)
    c.start()
    try:
        qtbot.waitUntil(lambda: v.grids_drawn >= 3 and v.last_step > 120, timeout=60000)
    finally:
        c.stop()
        qtbot.wait(300)
        bridge.stop()
        c.shutdown(2.0)
    assert len(v.train_items) == 3 and len(v.val_items) == 3
    assert sum(len(it.data) for it in v.train_items) == 480 and sum(len(it.data) for it in v.val_items) == 120
    img = v.image.image
    assert img.shape == (90, 90, 3)
    # the heat map is no longer uniform: different regions carry different class colours
    assert img.reshape(-1, 3).std(0).max() > 20
    px = _save(v, screenshot_dir, "decision_boundary_spiral_live.png")
    assert px.std() > 20


def test_a_hidden_data_view_recomputes_only_when_shown(qtbot):
    from desktop.views.data_view import DataView

    c = AppController(ExperimentConfig().with_updates({"data.name": "moons"}))
    v = DataView(c)
    _show(qtbot, v)
    qtbot.waitUntil(lambda: v.report is not None and v.report.name == "moons", timeout=10000)
    v.hide()
    c.set_field("data.name", "circles")
    qtbot.wait(300)
    assert v.report.name == "moons"  # nothing computed while hidden
    v.show()
    qtbot.waitUntil(lambda: v.report.name == "circles", timeout=10000)


def test_data_view_without_preprocessing_shows_one_plot_and_says_why(qtbot, screenshot_dir):
    from desktop.views.data_view import DataView

    configure_pyqtgraph()
    c = AppController(ExperimentConfig().with_updates({"data.n_samples": 200, "data.preprocess": "none"}))
    v = DataView(c)
    _show(qtbot, v)
    qtbot.waitUntil(lambda: v.report is not None, timeout=60000)
    assert v.report.kind == "none"
    assert v.p_before.isVisible() and not v.p_after.isVisible()  # no identical "after none" plot
    assert "no preprocessing" in v.cond_after.text() and "after none" not in v.cond_after.text()
    _save(v, screenshot_dir, "data_view_spiral_none.png")
    c.set_field("data.preprocess", "standardize")
    qtbot.waitUntil(lambda: v.report is not None and v.report.kind == "standardize", timeout=60000)
    assert v.p_after.isVisible() and "after standardize" in v.cond_after.text()
