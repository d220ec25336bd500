"""The Compare tab, driven for real under Xvfb: Compare optimizers, live add/remove, save/open, exports, autosave."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QImage

from desktop.autosave import Autosaver
from desktop.controller import AppController
from desktop.export.menu import export_tab
from desktop.main_window import MainWindow
from desktop.plotting import color, configure_pyqtgraph
from desktop.views.compare import CompareView
from engine.config import ExperimentConfig
from engine.session import load_session

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path):
    configure_pyqtgraph()
    cfg = ExperimentConfig().with_updates(
        {
            "train.epochs": 150,
            "data.n_samples": 300,
            "model.hidden": [16],
            "device": "cpu",
            "diagnostics.enabled": False,
            "metrics.enabled": False,
            "probes.every": 10,
        }
    )
    c = AppController(cfg)
    w = MainWindow(c, settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    yield w
    compare_view(w).compare.shutdown(2.0)
    c.shutdown(2.0)


def compare_view(w: MainWindow) -> CompareView:
    return next(v for v in w.views if isinstance(v, CompareView))


def _colour_pixels(img: QImage, hex_color: str, tol: int = 40) -> int:
    rgb = img.convertToFormat(QImage.Format_RGB32)
    a = np.frombuffer(bytes(rgb.constBits()), np.uint8).reshape(rgb.height(), rgb.bytesPerLine() // 4, 4)
    c = QColor(hex_color)
    target = np.array([c.blue(), c.green(), c.red()])
    return int((np.abs(a[..., :3].astype(int) - target).sum(-1) < tol).sum())


def test_compare_optimizers_shows_three_coloured_runs(window, qtbot, tmp_path, screenshot_dir):
    view = compare_view(window)
    assert view.checked_optimizers() == ["sgd", "momentum", "adam"]
    window.act_compare.trigger()
    assert window.tabs.currentWidget() is view
    qtbot.waitUntil(
        lambda: len(view.runs) == 3 and all(len(r.curves.epoch_step) >= 4 for r in view.runs.values()), timeout=90000
    )
    names = [r.name for r in view.runs.values()]
    assert names == ["sgd", "momentum", "adam"]
    assert len({r.color for r in view.runs.values()}) == 3
    view.redraw()
    qtbot.wait(200)
    for r in view.runs.values():
        xs, ys = r.items["val_loss"].getData()
        assert len(xs) >= 4 and np.all(np.isfinite(ys))
        assert r.items["loss"].opts["pen"].color().name() == r.color.lower()
    img = window.grab().toImage()
    img.save(str(screenshot_dir / "compare_optimizers.png"))
    plots = view.glw.grab().toImage()
    for i in range(3):
        assert _colour_pixels(plots, color(i)) > 200, f"run {i}'s colour {color(i)} is not drawn"
    # table: one row per run, sortable by final val loss
    t = view.table
    assert t.rowCount() == 3
    t.sortItems(4, Qt.AscendingOrder)
    vals = [t.item(r, 4).value for r in range(3)]
    assert vals == sorted(vals)
    # histograms side by side: one plot per run with the latest activation histogram
    assert len(view.hist_plots) == 3

    def hist_counts():
        return [item.getData()[1] for _, item in view.hist_plots.values()]

    qtbot.waitUntil(lambda: all(y is not None and len(y) > 0 for y in hist_counts()), timeout=20000)
    assert all(abs(float(np.sum(y)) - 1.0) < 1e-9 for y in hist_counts())  # normalized per run

    # live: add a run, remove one, the others keep going
    view.ed_overrides.setText("optim.name=rmsprop, optim.lr=0.003")
    view.btn_add.click()
    qtbot.waitUntil(lambda: view.compare.run_id("name=rmsprop lr=0.003") in view.runs, timeout=5000)
    assert view.runs[view.compare.run_id("sgd")].state == "running"
    sgd_epochs = len(view.runs[view.compare.run_id("sgd")].curves.epoch_step)
    adam_epochs = len(view.runs[view.compare.run_id("adam")].curves.epoch_step)
    view.compare.remove("sgd")
    assert view.compare.run_id("sgd") not in view.runs
    new = view.runs[view.compare.run_id("name=rmsprop lr=0.003")]
    qtbot.waitUntil(lambda: len(new.curves.epoch_step) >= 3, timeout=60000)
    assert len(view.runs[view.compare.run_id("adam")].curves.epoch_step) > adam_epochs  # the others kept going
    assert new.color == color(3)  # a new colour, never reused
    view.btn_stop.click()
    qtbot.waitUntil(lambda: view.compare.state == "stopped", timeout=10000)

    # save, then open: the comparison comes back with its colours and full series
    path = tmp_path / "cmp.descent"
    assert window.save_session(str(path))
    s = load_session(path)
    by_name = {r.name: r for r in s.runs}
    assert {"sgd", "momentum", "adam", "name=rmsprop lr=0.003"} <= set(by_name)
    assert by_name["sgd"].state == "stopped" and by_name["sgd"].final["epochs"] >= sgd_epochs
    assert (
        by_name["adam"].state == "stopped" and by_name["adam"].checkpoint.meta["step"] == by_name["adam"].final["steps"]
    )
    assert s.meta["comparison"]["hidden"] == ["sgd"]
    assert all(r.checkpoint is not None for r in s.runs)
    assert window.open_session(str(path))
    assert [r.name for r in view.runs.values()] == ["momentum", "adam", "name=rmsprop lr=0.003"]
    np.testing.assert_array_equal(
        view.runs["saved:adam"].curves.epoch["val_loss"].view(), by_name["adam"].series["epoch/val_loss"]
    )
    assert view.runs["saved:name=rmsprop lr=0.003"].color == color(3)

    files = export_tab(view, tmp_path / "png", "png")
    assert len(files) >= 6 and all(QImage(str(f)).width() >= 1600 for f in files if not f.name.startswith("3d_"))


def test_bad_variant_is_named_and_nothing_starts(window, qtbot):
    view = compare_view(window)
    view.ed_overrides.setText("optim.lr=500")
    view.btn_add.click()
    assert "optim.lr" in view.lbl_message.text() and not view.runs
    for cb in view.opt_boxes.values():
        cb.setChecked(False)
    assert not window.compare_optimizers()
    assert "at least one optimizer" in view.lbl_message.text()


def test_autosave_and_recovery_after_a_crash(window, qtbot, tmp_path):
    view = compare_view(window)
    folder = tmp_path / "autosave"
    saver = Autosaver(window.controller, window, folder=folder, offer=False)
    assert saver.save_now() is None  # nothing to save yet: no file
    view.compare.compare_optimizers(["sgd", "adam"])
    qtbot.waitUntil(
        lambda: all(len(r.curves.epoch_step) >= 1 for r in view.runs.values()) and len(view.runs) == 2, timeout=60000
    )
    f = saver.save_now()
    assert f is not None and {r.name for r in load_session(f).runs} == {"sgd", "adam"}
    # a "crashed" instance: its marker names a process that no longer exists
    shutil.copy(f, folder / "autosave-999999.descent")
    (folder / "running-999999.json").write_text("{}")
    view.compare.shutdown()
    other = Autosaver(window.controller, window, folder=folder, offer=False)
    assert other.recoverable == [folder / "autosave-999999.descent"]
    assert other.recover()
    assert {r.name for r in view.runs.values()} == {"sgd", "adam"}
    assert not (folder / "running-999999.json").exists()
    saver.close_cleanly()
    assert not saver.marker.exists() and not saver.file.exists()


def test_shared_loss_surface_shows_every_path(window, qtbot, tmp_path, screenshot_dir):
    view = compare_view(window)
    short = window.controller.config.with_updates(
        {"train.epochs": 4, "landscape.snapshot_every": 2, "landscape.sharpness_every": 0}
    )
    window.tabs.setCurrentWidget(view)
    view.compare.compare_optimizers(["sgd", "momentum", "adam"], base=short)
    qtbot.waitUntil(lambda: view.compare.state == "finished", timeout=90000)
    view.side_tabs.setCurrentWidget(view.surface_panel)
    assert view.surface_panel.compute()
    qtbot.waitUntil(lambda: view.surface_panel.surface is not None, timeout=120000)
    s = view.surface_panel.surface
    assert list(s.paths) == ["sgd", "momentum", "adam"] and np.isfinite(s.loss).all()
    pens = [it.opts["pen"].color().name() for it in view.surface_panel.path_items[::2]]
    assert pens == [color(i).lower() for i in range(3)]
    view.redraw()
    qtbot.wait(200)
    img = window.grab().toImage()
    img.save(str(screenshot_dir / "compare_shared_surface.png"))
    panel = view.surface_panel.plot_widget.grab().toImage()
    assert _colour_pixels(panel, color(2)) > 30
    path = tmp_path / "surf.descent"
    assert window.save_session(str(path))
    assert window.open_session(str(path))
    assert view.surface_panel.surface is not None
    np.testing.assert_array_equal(view.surface_panel.surface.paths["adam"], s.paths["adam"])


def test_line_between_two_runs(window, qtbot, tmp_path, screenshot_dir):
    """Compare tab → Line between runs: loss and accuracy along (1−α)·θ_A + α·θ_B, exact at both
    runs; a run of another architecture is refused by name; saved and shown again on open."""
    view = compare_view(window)
    short = window.controller.config.with_updates(
        {"train.epochs": 6, "landscape.sharpness_every": 0, "probes.enabled": False}
    )
    window.tabs.setCurrentWidget(view)
    view.compare.compare_optimizers(["sgd", "adam"], base=short)
    qtbot.waitUntil(lambda: view.compare.state == "finished", timeout=90000)
    view.ed_name.setText("wide")
    view.ed_overrides.setText("model.hidden=8")
    view.btn_add.click()
    qtbot.waitUntil(lambda: view.compare.state == "finished" and len(view.runs) == 3, timeout=90000)
    panel = view.line_panel
    view.side_tabs.setCurrentWidget(panel)
    assert [panel.cb_a.itemText(i) for i in range(panel.cb_a.count())] == ["sgd", "adam", "wide"]
    panel.choose("sgd", "wide")
    assert panel.compute()
    qtbot.waitUntil(lambda: not panel.busy and panel.btn.isEnabled(), timeout=30000)
    assert "different architectures" in panel.status.text() and "model.hidden ([16] vs [8])" in panel.status.text()
    panel.choose("sgd", "sgd")
    assert not panel.compute() and "two different runs" in panel.status.text()
    panel.choose("sgd", "adam")
    assert panel.compute()
    qtbot.waitUntil(lambda: ("sgd", "adam") in panel.lines, timeout=30000)
    line = panel.lines[("sgd", "adam")]
    recs = {r.name: r for r in view.compare.records()}
    i0, i1 = int(np.flatnonzero(line.alpha == 0)[0]), int(np.flatnonzero(line.alpha == 1)[0])
    # the whole validation set is the evaluation subset here: the ends are the runs' final val losses
    assert line.eval_samples == recs["sgd"].meta["n_val"]
    assert line.val_loss[i0] == pytest.approx(recs["sgd"].final["val_loss"], rel=1e-4)
    assert line.val_loss[i1] == pytest.approx(recs["adam"].final["val_loss"], rel=1e-4)
    assert line.val_acc[i1] == pytest.approx(recs["adam"].final["val_acc"], abs=1e-6)
    assert line.alpha[0] < -0.2 and line.alpha[-1] > 1.2
    assert "barrier" in panel.status.text()
    xs, ys = panel.plot.items["val_loss"].getData()
    assert len(xs) == len(line.alpha) and np.all(np.isfinite(ys))
    assert panel.plot.marks[0].label.textItem.toPlainText() == "sgd"
    qtbot.wait(200)
    window.grab().toImage().save(str(screenshot_dir / "compare_line_between_runs.png"))
    img = panel.plot.grab().toImage()
    assert _colour_pixels(img, "#0072B2") > 100 and _colour_pixels(img, "#D55E00") > 50  # train and val drawn
    assert _colour_pixels(img, color(1)) > 20  # adam's marker in adam's colour
    # saved with the comparison, shown again when opened
    path = tmp_path / "line.descent"
    assert window.save_session(str(path))
    s = load_session(path)
    assert s.meta["comparison_lines"][0]["a"] == "sgd" and "comparison/line/0/val_loss" in s.arrays
    assert window.open_session(str(path))
    assert ("sgd", "adam") in panel.lines and panel.cb_b.currentText() == "adam"
    np.testing.assert_array_equal(panel.lines[("sgd", "adam")].val_loss, line.val_loss)
    np.testing.assert_array_equal(panel.plot.items["train_acc"].getData()[1], line.train_acc)
