"""Desktop test set-up: Qt prepared before pytest-qt makes its QApplication, the main
window factory, and the folder screenshots are saved to (look at them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.qt_setup import prepare_qt

prepare_qt()

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


@pytest.fixture(autouse=True)
def _train_as_fast_as_possible(monkeypatch):
    """Windows in tests train unpaced (the app's default speed is slow enough to watch;
    tests of the speed control set it back)."""
    import desktop.run_controls

    monkeypatch.setattr(desktop.run_controls, "DEFAULT_SPEED", None)


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
