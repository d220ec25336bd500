"""The main window, driven for real under Xvfb with pytest-qt."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QImage

from desktop.controller import AppController
from desktop.main_window import MainWindow
from desktop.plotting import configure_pyqtgraph
from desktop.views.curves import CurvesView
from engine.config import ExperimentConfig

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def window(qtbot, tmp_path):
    configure_pyqtgraph()
    cfg = ExperimentConfig().with_updates({"train.epochs": 400, "data.n_samples": 600, "device": "cpu"})
    c = AppController(cfg)
    w = MainWindow(c, settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.show_tab("Curves")  # these tests watch the curves (the Network view is the first view)
    w.activateWindow()  # shortcuts need an active window (no window manager under Xvfb)
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    yield w
    c.shutdown(2.0)


def curves(w: MainWindow) -> CurvesView:
    return next(v for v in w.views if isinstance(v, CurvesView))


def image_is_not_blank(img: QImage) -> bool:
    rgb = img.convertToFormat(QImage.Format_RGB32)  # keep a reference while reading its bits
    a = np.frombuffer(bytes(rgb.constBits()), dtype=np.uint8)
    return a.std() > 10


def test_curves_receive_points_and_screenshot(window, qtbot, screenshot_dir):
    window.controller.start()
    qtbot.waitUntil(lambda: len(curves(window).run.epoch_step) >= 3, timeout=30000)
    cv = curves(window)
    # the view redraws at its own pace (within its drawing budget at full speed)
    qtbot.waitUntil(lambda: cv.c_val_loss.getData()[0] is not None and len(cv.c_val_loss.getData()[0]) >= 3)
    assert len(cv.run.step) > 0 and len(cv.run.loss) == len(cv.run.step)
    xs, ys = cv.c_val_loss.getData()
    assert len(xs) >= 3 and np.all(np.isfinite(ys))
    img = window.grab().toImage()
    path = screenshot_dir / "main_window_training.png"
    img.save(str(path))
    assert image_is_not_blank(img)


def test_changing_lr_in_panel_changes_running_optimizer(window, qtbot):
    c = window.controller
    c.start()
    qtbot.waitUntil(lambda: c.state == "running", timeout=20000)
    ed = window.panel.editor("optim.lr")
    ed.widget.setText("0.0042")
    ed.widget.editingFinished.emit()
    qtbot.waitUntil(lambda: c.worker.trainer.optimizer.param_groups[0]["lr"] == 0.0042, timeout=10000)
    assert c.config.optim.lr == 0.0042
    assert not c.restart_needed  # a live edit needs no restart


def test_invalid_input_is_marked_at_the_field(window, qtbot):
    ed = window.panel.editor("optim.lr")
    ed.widget.setText("-3")
    ed.widget.editingFinished.emit()
    assert ed.error and "optim.lr" in ed.error
    assert "border" in ed.widget.styleSheet()
    assert window.controller.config.optim.lr == 0.01  # nothing applied
    ed.widget.setText("abc")
    ed.widget.editingFinished.emit()
    assert "cannot read" in ed.error
    ed.widget.setText("0.02")
    ed.widget.editingFinished.emit()
    assert ed.error is None and window.controller.config.optim.lr == 0.02


def test_structural_edit_waits_for_restart(window, qtbot):
    c = window.controller
    c.start()
    qtbot.waitUntil(lambda: c.state == "running", timeout=20000)
    window.panel.editor("model.activation").widget.setCurrentText("tanh")
    assert c.restart_needed and window.panel.restart_button.isVisibleTo(window.panel)
    old = c.run_id
    qtbot.keyClick(window, Qt.Key_R, Qt.ControlModifier)
    qtbot.waitUntil(lambda: c.run_id != old and c.state == "running", timeout=20000)
    assert c.worker.trainer.config.model.activation == "tanh"
    assert not c.restart_needed


def test_pause_step_resume_with_shortcuts(window, qtbot):
    c = window.controller
    c.start()
    qtbot.waitUntil(lambda: c.state == "running", timeout=20000)
    qtbot.keyClick(window, Qt.Key_Space)
    qtbot.waitUntil(lambda: c.state == "paused", timeout=10000)
    qtbot.wait(200)
    s0 = c.worker.trainer.step
    qtbot.keyClick(window, Qt.Key_Right)
    qtbot.waitUntil(lambda: c.worker.trainer.step == s0 + 1, timeout=10000)
    qtbot.wait(300)
    assert c.worker.trainer.step == s0 + 1 and c.state == "paused"
    qtbot.keyClick(window, Qt.Key_Space)
    qtbot.waitUntil(lambda: c.state == "running" and c.worker.trainer.step > s0 + 5, timeout=10000)


def test_save_and_open_session(window, qtbot, tmp_path):
    c = window.controller
    c.start()
    qtbot.waitUntil(lambda: len(curves(window).run.epoch_step) >= 2, timeout=30000)
    path = str(tmp_path / "s.descent")
    assert window.save_session(path)
    from engine.session import load_session

    s = load_session(path)
    n = len(s.runs[0].series["step/loss"])
    assert n > 0
    assert window.open_session(path)
    qtbot.waitUntil(lambda: c.state == "replay", timeout=5000)
    assert len(curves(window).run.step) == n
    assert path in window.recent_menu.actions()[0].text()  # first in File ▸ Open recent
    bad = tmp_path / "bad.descent"
    bad.write_bytes(b"junk")
    from PySide6.QtWidgets import QMessageBox

    shown = []
    orig = QMessageBox.warning
    QMessageBox.warning = staticmethod(lambda *a, **k: shown.append(a[2]))
    try:
        assert not window.open_session(str(bad))
    finally:
        QMessageBox.warning = orig
    assert shown and "bad.descent" in shown[0]
    assert len(curves(window).run.step) == n  # the open work is kept


def test_close_while_training_exits_quickly(qtbot, tmp_path):
    configure_pyqtgraph()
    c = AppController(
        ExperimentConfig().with_updates(
            {"train.epochs": 1000, "data.name": "digits", "model.hidden": [256, 256], "device": "cpu"}
        )
    )
    w = MainWindow(c, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    w.show()
    c.start()
    qtbot.waitUntil(lambda: c.state == "running", timeout=20000)
    qtbot.wait(500)
    t0 = time.perf_counter()
    w.close()
    dt = time.perf_counter() - t0
    assert dt < 2.0
    assert not c.worker.alive


def test_screenshot_command(tmp_path):
    png = tmp_path / "w.png"
    r = subprocess.run(
        [sys.executable, "-m", "desktop.cli", "--screenshot", str(png), "--run-for", "4", "--set", "train.epochs=50"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    img = QImage(str(png))
    assert img.width() >= 1000 and img.height() >= 700
    assert image_is_not_blank(img)


def test_open_command_replays_a_session(tmp_path):
    out = tmp_path / "a.descent"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "desktop.cli",
            "run",
            "--quiet",
            "--set",
            "train.epochs=3",
            "--set",
            "data.n_samples=200",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    png = tmp_path / "open.png"
    r = subprocess.run(
        [sys.executable, "-m", "desktop.cli", "open", str(out), "--screenshot", str(png)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    assert image_is_not_blank(QImage(str(png)))
    r = subprocess.run(
        [sys.executable, "-m", "desktop.cli", "open", str(tmp_path / "nope.descent")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
    )
    assert r.returncode == 2 and "no such file" in r.stderr


def test_qt_does_not_leak_references_to_none():
    """PySide6 6.12.0 dropped a reference to None per void call; Python 3.11 then aborts."""
    import sys as _sys

    from PySide6.QtGui import QMatrix4x4

    from desktop.qt_setup import none_refcount_leaks

    m = QMatrix4x4()
    before = _sys.getrefcount(None)
    for _ in range(2000):
        m.translate(1.0, 0.0, 0.0)
    assert _sys.getrefcount(None) > 1000  # pinned or never leaking: far from zero
    if not none_refcount_leaks():
        assert abs(_sys.getrefcount(None) - before) < 100


def test_panel_search_and_folding(window, qtbot):
    p = window.panel
    header, body, _ = p.sections["landscape"]
    assert not body.isVisibleTo(p)  # advanced sections start folded
    header.click()
    assert body.isVisibleTo(p)
    p.search.setText("momentum")
    form, label = p.rows["optim.momentum"]
    assert label.isVisibleTo(p)
    assert not p.rows["data.noise"][1].isVisibleTo(p)
    assert not p.sections["data"][0].isVisibleTo(p)  # no match in Data: its title is hidden too
    p.search.setText("")
    assert p.rows["data.noise"][1].isVisibleTo(p)


def test_diagnostic_markers_on_the_loss_plot(window, qtbot):
    from engine.diagnostics import Diagnostic
    from engine.diagnostics.snapshot import DiagnosticSnapshot

    cv = curves(window)
    cv.on_run_started("r1", window.controller.config)
    cv.handle_events(
        [
            DiagnosticSnapshot(
                "r1", Diagnostic("lr_too_high", "warning", 40, "loss rose above 1.5x its initial value")
            ),
            DiagnosticSnapshot("r1", Diagnostic("initial_loss", "info", 0, "as expected")),
            DiagnosticSnapshot("other", Diagnostic("divergence", "error", 9, "")),
        ]
    )
    assert len(cv.markers) == 1 and cv.markers[0].value() == 40
    cv.on_run_started("r2", window.controller.config)
    assert cv.markers == []


def test_views_are_grouped_and_every_view_is_reachable(window, qtbot):
    """The registry's groups; each view can be shown by title, is the only visible view then, and
    the group shortcuts and the flat QTabWidget-like API agree."""
    from desktop.views.registry import tab_groups

    tabs = window.tabs
    groups = tab_groups()
    assert tabs.group_names() == [g for g, _ in groups]
    assert tabs.count() == len(window.views) == sum(len(c) for _, c in groups)
    for i, view in enumerate(window.views):
        assert window.show_tab(view.title)
        qtbot.wait(20)
        assert tabs.currentIndex() == i and tabs.currentWidget() is view
        assert view.isVisible()
        assert all(not v.isVisible() for v in window.views if v is not view)
    # A group name selects the group, which remembers the view last shown in it.
    window.show_tab("Curves")
    assert window.show_tab("Inside the network") and tabs.currentWidget().title == "Batch norm"
    assert not window.show_tab("No such tab")
    window.activateWindow()  # no window manager under Xvfb: a GL view can take the activation
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    # Ctrl+3 selects the third group (Landscape: a group of one view, no inner tab bar).
    qtbot.keyClick(window, Qt.Key_3, Qt.ControlModifier)
    assert tabs.group_of(tabs.currentIndex()) == groups[2][0]
    qtbot.keyClick(window, Qt.Key_PageDown, Qt.ControlModifier)
    assert tabs.group_of(tabs.currentIndex()) == groups[3][0]
    # The current view is remembered between launches (flat index in the settings).
    window.show_tab("Gradients")
    window.close()
    assert int(window.settings.value("window/tab")) == tabs.indexOf(window.tabs.currentWidget())


def test_view_menu_lists_the_groups_with_their_shortcuts(window):
    go = next(a.menu() for a in window.view_menu.actions() if a.menu() is not None and a.text() == "Go to")
    texts = [a.text() for a in go.actions()]
    names = window.tabs.group_names()
    assert texts[: len(names)] == names
    assert go.actions()[0].shortcut().toString() == "Ctrl+1"
    go.actions()[4].trigger()  # Data
    assert window.tabs.group_of(window.tabs.currentIndex()) == "Data"
