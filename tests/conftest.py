"""Shared test set-up: isolated settings, deterministic torch, screenshot folder."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# Qt settings (recent files, window layout) go to a throw-away folder, never the user's.
_cfg_home = tempfile.mkdtemp(prefix="descent-test-config-")
os.environ["XDG_CONFIG_HOME"] = _cfg_home
os.environ.setdefault("XDG_DATA_HOME", tempfile.mkdtemp(prefix="descent-test-data-"))
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pytest  # noqa: E402
import torch  # noqa: E402

try:  # before pytest-qt creates the QApplication
    from desktop.qt_setup import prepare_qt

    prepare_qt()
except ImportError:  # no Qt: engine-only test runs
    pass

torch.set_num_threads(2)

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "tests" / "screenshots"
PYTHON = sys.executable


@pytest.fixture
def one_torch_thread():
    """Tiny matmuls: one torch thread avoids OpenMP barriers that stall on a loaded shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(params=["compiled", "torch"])
def probe_path(request, monkeypatch):
    """Run a probe-statistics test on both paths: the compiled CPU kernels (engine/probes/
    kernels.py) and the torch path a GPU run takes (forced here on the CPU)."""
    from engine.probes import kernels

    if request.param == "torch":
        monkeypatch.setattr(kernels, "AVAILABLE", False)
    elif not kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    return request.param


@pytest.fixture
def open_main_window(qtbot, tmp_path):
    """A factory: the real main window on a config, with throw-away settings, shown at a size;
    its views' background work and its engine are shut down after the test."""
    from PySide6.QtCore import QSettings

    from desktop.controller import AppController
    from desktop.main_window import MainWindow
    from desktop.plotting import configure_pyqtgraph

    made = []

    def make(config, size=(1400, 900)):
        configure_pyqtgraph()
        c = AppController(config)
        w = MainWindow(c, settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
        qtbot.addWidget(w)
        w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w

    yield make
    for w in made:
        for v in w.views:
            v.shutdown()
        w.controller.shutdown(2.0)


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def small_config():
    """A fast experiment: small spiral, tiny MLP, few epochs."""
    from engine.config import ExperimentConfig

    return ExperimentConfig().with_updates(
        {"data.n_samples": 300, "model.hidden": [16, 16], "train.epochs": 3, "train.batch_size": 32, "device": "cpu"}
    )
