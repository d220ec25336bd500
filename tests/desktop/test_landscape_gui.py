"""The Landscape tab in the real window: the surface appears while the default experiment
trains and the path grows live; sessions replay the surface; bad states give a message."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtGui import QImage

from desktop.main_window import MainWindow
from desktop.views.landscape import LandscapeView
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.landscape.analysis import stored_result
from engine.session import load_session, record_of

pytestmark = pytest.mark.gui


def _not_blank(img: QImage) -> bool:
    rgb = img.convertToFormat(QImage.Format_RGB32)
    return np.frombuffer(bytes(rgb.constBits()), dtype=np.uint8).std() > 10


@pytest.fixture
def window(open_main_window):
    # The default experiment, long enough to keep training while we look.
    return open_main_window(
        ExperimentConfig().with_updates(
            {"train.epochs": 400, "device": "cpu", "landscape.grid": 21, "landscape.refresh_epochs": 5}
        ),
        size=(1600, 1000),  # the reference size (both docks open)
    )


def view(w: MainWindow) -> LandscapeView:
    return next(v for v in w.views if isinstance(v, LandscapeView))


def test_surface_appears_and_path_grows_while_training(window, qtbot, screenshot_dir, tmp_path):
    assert window.show_tab("Landscape")
    window.controller.start()
    lv = view(window)
    qtbot.waitUntil(lambda: lv.result is not None, timeout=60000)
    n0 = len(lv.coords)
    surf = lv.result.surface
    assert surf.complete and np.isfinite(surf.loss).all() and np.ptp(surf.loss) > 0.05
    # The live path keeps growing on the plane as snapshots stream in.
    qtbot.waitUntil(lambda: len(lv.coords) >= n0 + 10, timeout=30000)
    assert np.isfinite(lv.coords).all()
    assert lv.surface3d.path.pos is not None and len(lv.surface3d.path.pos) >= 2
    assert "plane" in lv.status.text() and "eval mode" in lv.status.text()
    assert "Faithfulness" in lv.faith_label.text()
    qtbot.waitUntil(lambda: len(lv.sharp) >= 1, timeout=30000)
    qtbot.wait(500)
    drawn, _lam = lv.side.sharp.getData()
    assert drawn is not None and len(drawn) == len(lv.sharp)  # shown: drawn as the estimates arrive
    img = window.grab().toImage()
    img.save(str(screenshot_dir / "landscape_training.png"))
    assert _not_blank(img)
    # Saving keeps the surface; opening the session shows it again.
    window.controller.pause()
    qtbot.waitUntil(lambda: window.controller.state == "paused", timeout=10000)
    path = tmp_path / "live.descent"
    extra = __import__("engine.session", fromlist=["Session"]).Session()
    lv.save_into(extra)
    window.controller.save(path, extra)
    back = stored_result(load_session(path), "live")
    assert back is not None and np.allclose(back.surface.loss, lv.result.surface.loss)


def test_cancel_keeps_the_previous_surface_and_replay_computes(window, qtbot, tmp_path):
    from desktop.cli import main
    from engine.session import save_session
    from engine.session.record import Session

    cfg = ExperimentConfig().with_updates(
        {"data.n_samples": 300, "train.epochs": 4, "device": "cpu", "landscape.grid": 9, "landscape.sharpness_every": 0}
    )
    t = build_trainer(cfg)
    t.run()
    src = save_session(Session(runs=[record_of(t, "r")]), tmp_path / "r.descent")
    out = tmp_path / "r2.descent"
    assert main(["landscape", str(src), "--quiet", "--out", str(out)]) == 0
    lv = view(window)
    window.controller.open(out)
    assert lv.result is not None and lv.result.surface.loss.shape == (9, 9)
    assert len(lv.coords) == len(record_of(t, "r").arrays["landscape/trajectory"])
    xs, ys = lv.side.line.getData()
    assert xs is not None and len(xs) > 20 and ys[np.argmin(abs(xs - 1.0))] < ys[np.argmin(abs(xs))]
    before = lv.result.surface.loss.copy()
    lv.grid.setValue(61)
    lv.kind.setCurrentText("random")
    lv.compute()
    lv.cancel()
    qtbot.wait(300)
    assert np.array_equal(lv.result.surface.loss, before)
    lv.grid.setValue(7)
    lv.compute()
    qtbot.waitUntil(lambda: lv.result is not None and lv.result.surface.loss.shape == (7, 7), timeout=30000)
    assert lv.result.surface.plane.kind == "random"


def test_diverged_run_is_refused_with_a_message(window, qtbot):
    lv = view(window)
    c = window.controller
    # A linear network with lr 10 and momentum overflows to NaN within a few steps.
    c.set_config(
        c.config.with_updates(
            {
                "data.name": "digits",
                "model.hidden": [64, 64],
                "optim.name": "momentum",
                "optim.lr": 10.0,
                "model.activation": "leaky_relu",
                "model.leaky_slope": 1.0,
                "train.epochs": 5,
            }
        )
    )
    c.start()
    qtbot.waitUntil(lambda: c.state == "diverged", timeout=30000)
    lv.compute()
    qtbot.waitUntil(lambda: "diverged" in lv.status.text(), timeout=10000)


def test_shared_plane_replay_draws_every_run(window, tmp_path):
    from desktop.cli import main
    from engine.session import save_session
    from engine.session.record import Session

    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "iris",
            "train.epochs": 4,
            "device": "cpu",
            "landscape.sharpness_every": 0,
            "probes.enabled": False,
            "diagnostics.enabled": False,
            "metrics.enabled": False,
        }
    )
    recs = []
    for name, lr in (("a", 0.01), ("b", 0.05)):
        t = build_trainer(cfg.with_updates({"optim.lr": lr}), run_id=name)
        t.run()
        recs.append(record_of(t, name))
    src = save_session(Session(runs=recs), tmp_path / "ab.descent")
    out = tmp_path / "ab2.descent"
    assert main(["landscape", str(src), "--shared", "--grid", "7", "--quiet", "--out", str(out)]) == 0
    window.controller.open(out)
    lv = view(window)
    assert lv.result is not None and lv.result.surface.plane.kind == "pca"
    assert len(lv.contour.other_items) == 1 and len(lv.surface3d.others) == 1
    xs, _ = lv.contour.other_items[0].getData()
    assert len(xs) == len(recs[1].arrays["landscape/trajectory"])
    assert "Shared plane" in lv.faith_label.text() and " b" in lv.faith_label.text()


def test_automatic_refreshes_leave_the_training_its_core(window, qtbot, monkeypatch):
    """The default experiment's epochs last ~15 ms: refreshing every 5 epochs would start
    several surface jobs a second. Automatic refreshes wait ≥ MIN_AUTO_REFRESH_S and
    AUTO_REFRESH_IDLE × the last job's time after the previous one."""
    import time

    from desktop.views import landscape as lmod

    lv = view(window)
    starts: list[float] = []
    real = LandscapeView.compute

    def counting(self):
        if self.controller.worker.trainer.state == "running":  # (the run's end refreshes at once)
            starts.append(time.perf_counter())
        real(self)

    monkeypatch.setattr(LandscapeView, "compute", counting)
    assert window.show_tab("Landscape")
    window.controller.start()
    qtbot.waitUntil(lambda: lv.result is not None, timeout=60000)
    t0 = time.perf_counter()
    qtbot.wait(5000)
    during = [s for s in starts if s > t0]
    assert window.controller.worker.trainer.epoch > 40  # many refresh_epochs passed…
    assert 1 <= len(during) <= 5.0 / lmod.MIN_AUTO_REFRESH_S + 1  # …but few surface jobs
    gaps = np.diff(starts[1:])  # (the first job starts at once)
    assert (gaps >= lmod.MIN_AUTO_REFRESH_S * 0.95).all()
