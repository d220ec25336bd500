"""Landscape tab → Line to a saved run: the 1D line from the live run's weights to the final
weights of a run in another session file, refused for another architecture, saved with the
session and shown again in replay."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtGui import QColor, QImage

from desktop.main_window import MainWindow
from desktop.views.landscape import LandscapeView
from desktop.views.landscape_line import B_COLOR
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import Session, load_session, record_of, save_session

pytestmark = pytest.mark.gui

BASE = {
    "data.n_samples": 300,
    "device": "cpu",
    "landscape.grid": 9,
    "landscape.sharpness_every": 0,
    "probes.enabled": False,
    "diagnostics.enabled": False,
    "metrics.enabled": False,
}


def _colour_pixels(img: QImage, hex_color: str, tol: int = 40) -> int:
    rgb = img.convertToFormat(QImage.Format_RGB32)
    a = np.frombuffer(bytes(rgb.constBits()), np.uint8).reshape(rgb.height(), rgb.bytesPerLine() // 4, 4)
    c = QColor(hex_color)
    return int((np.abs(a[..., :3].astype(int) - np.array([c.blue(), c.green(), c.red()])).sum(-1) < tol).sum())


@pytest.fixture
def window(open_main_window):
    return open_main_window(ExperimentConfig().with_updates({**BASE, "train.epochs": 400}))


def lv(w: MainWindow) -> LandscapeView:
    return next(v for v in w.views if isinstance(v, LandscapeView))


def _saved(tmp_path, name: str, **updates) -> tuple:
    t = build_trainer(ExperimentConfig().with_updates({**BASE, "train.epochs": 8, **updates}), run_id=name)
    t.run()
    rec = record_of(t, name)
    return save_session(Session(runs=[rec]), tmp_path / f"{name}.descent"), rec


def test_line_from_the_live_run_to_a_saved_run(window, qtbot, tmp_path, screenshot_dir):
    same, rec_b = _saved(tmp_path, "adam-run", **{"optim.name": "adam", "optim.lr": 0.01})
    wide, _ = _saved(tmp_path, "wide-run", **{"model.hidden": [48]})
    (tmp_path / "junk.descent").write_bytes(b"not a zip")
    view = lv(window)
    panel = view.line_panel
    assert "no run yet" in (panel.compute_to(same) or panel.status.text())
    assert window.show_tab("Landscape")
    window.controller.start()
    qtbot.waitUntil(lambda: view.epochs_seen >= 3, timeout=60000)
    window.controller.pause()
    qtbot.waitUntil(lambda: window.controller.state == "paused", timeout=10000)
    view.side_tabs.setCurrentWidget(panel)
    # another architecture: refused by name
    assert panel.compute_to(wide)
    qtbot.waitUntil(lambda: not panel.busy and panel.btn.isEnabled(), timeout=30000)
    assert "different architectures" in panel.status.text() and "model.hidden ([32, 32] vs [48])" in panel.status.text()
    assert panel.line is None
    assert not panel.compute_to(tmp_path / "junk.descent") and "junk.descent" in panel.status.text()
    # same architecture: the line from the live weights (α=0) to the saved run's (α=1)
    assert panel.compute_to(same)
    qtbot.waitUntil(lambda: panel.line is not None, timeout=30000)
    line = panel.line
    assert line.b == "adam-run (adam-run.descent)" and line.a == window.controller.run_id
    i0, i1 = int(np.flatnonzero(line.alpha == 0)[0]), int(np.flatnonzero(line.alpha == 1)[0])
    assert line.eval_samples == rec_b.meta["n_val"]  # the whole validation set: the end is B's final loss
    assert line.val_loss[i1] == pytest.approx(rec_b.final["val_loss"], rel=1e-4)
    live = window.controller.current_record()
    assert line.val_loss[i0] == pytest.approx(live.final["val_loss"], rel=0.2)  # the epoch's, a few steps earlier
    assert "barrier" in panel.status.text()
    qtbot.wait(200)
    window.grab().toImage().save(str(screenshot_dir / "landscape_line_to_saved_run.png"))
    img = panel.plot.grab().toImage()
    assert _colour_pixels(img, "#0072B2") > 100 and _colour_pixels(img, B_COLOR) > 20
    # saved with the session, shown again in replay
    path = tmp_path / "with_line.descent"
    assert window.save_session(str(path))
    s = load_session(path)
    assert s.meta["landscape"]["line_to"][0]["b"] == "adam-run (adam-run.descent)"
    assert window.open_session(str(path))
    assert panel.line is not None and np.array_equal(panel.line.val_loss, line.val_loss)
    assert np.allclose(panel.plot.items["train_loss"].getData()[1], np.log10(line.train_loss))  # log axis
    # in replay, a line from the saved run to the other file is computed from the saved weights
    assert panel.compute_to(same)
    qtbot.waitUntil(lambda: not panel.busy and panel.btn.isEnabled() and panel.line is not line, timeout=30000)
    assert panel.line is not None and panel.line.a == s.runs[0].name
