"""Start the Qt application: the window on an experiment or a session, or a screenshot."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engine.config import ExperimentConfig
from engine.session import Session

DESKTOP_ID = "io.github.descent.Descent"


def app_icon():
    """Descent's icon: the scalable SVG plus the 48/128/256 px PNGs (resources/icons)."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon

    from engine.resources import resource

    icon = QIcon()
    folder = resource("icons")
    if folder.joinpath("descent.svg").is_file():
        icon.addFile(str(folder.joinpath("descent.svg")))
    for size in (48, 128, 256):
        node = folder.joinpath(f"descent-{size}.png")
        if node.is_file():
            icon.addFile(str(node), QSize(size, size))
    return icon


def _make_app():
    from desktop.qt_setup import prepare_qt

    prepare_qt()
    from PySide6.QtWidgets import QApplication

    from desktop.plotting import configure_pyqtgraph

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Descent")
    app.setOrganizationName("Descent")
    # the installed desktop entry's name (make install-desktop): the task bar groups the window
    # under it and shows its icon
    app.setDesktopFileName(DESKTOP_ID)
    app.setWindowIcon(app_icon())
    configure_pyqtgraph()
    return app


def run_app(
    config: ExperimentConfig | None = None,
    session: Session | None = None,
    session_path: str | None = None,
    screenshot: str | None = None,
    run_for: float = 5.0,
    tab: str | None = None,
    paused: bool = False,
) -> int:
    """Open the main window. With `screenshot`, run for `run_for` seconds, save a PNG of
    the whole window and exit."""
    if (
        not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and not os.environ.get("QT_QPA_PLATFORM")
    ):
        print("descent: error: no display (set DISPLAY, or run under xvfb-run -a)", file=sys.stderr)
        return 2
    app = _make_app()
    from PySide6.QtCore import QTimer

    from desktop.controller import AppController
    from desktop.main_window import MainWindow

    controller = AppController(config)
    settings = None
    if screenshot:
        # Screenshots are reproducible: default layout and size, not the user's saved ones.
        import tempfile

        from PySide6.QtCore import QSettings

        settings = QSettings(str(Path(tempfile.mkdtemp(prefix="descent-shot-")) / "s.ini"), QSettings.IniFormat)
    window = MainWindow(controller, settings=settings, ask_before_quit=not screenshot, lessons_now=False)
    window.show()
    where = Path(session_path) if session_path else None

    def after_paint() -> None:
        if session is not None:
            controller.show_session(session, where)
        else:
            controller.start(paused=paused)
        # The Lessons dock imports torch: it comes once the engine thread has loaded it (at
        # once for a session: there is no run to build).
        when_engine_ready(controller, window.install_lessons)

    # The window paints first; then the session fills the views (several import torch), or
    # the engine builds the run on its thread (which would otherwise take the GIL from the
    # first paint). The status bar says what is coming.
    window.statusBar().showMessage(f"opening {where.name if where else 'session'}…" if session else "starting engine…")
    after_first_paint(window, after_paint)
    if session is not None and session_path:
        window.add_recent(session_path)
    if tab and not window.show_tab(tab):
        print(f"descent: warning: no tab named '{tab}'", file=sys.stderr)
    if screenshot:
        out = Path(screenshot)

        def shoot() -> None:
            window.bridge.tick()  # draw what arrived last
            app.processEvents()
            ok = window.grab().save(str(out))
            if not ok:
                print(f"descent: error: cannot write screenshot {out}", file=sys.stderr)
            else:
                print(f"screenshot saved to {out}")
            window.close()
            app.exit(0 if ok else 2)

        QTimer.singleShot(int(max(0.0, run_for if session is None else 1.0) * 1000), shoot)
    rc = int(app.exec())
    # The window closed at once; now let the engine thread end before the interpreter does
    # (a thread still inside torch at exit aborts the process).
    controller.shutdown(timeout=10.0)
    return rc


def when_engine_ready(controller, fn) -> None:
    """Call fn once the main run is no longer being built (torch is loaded by then), or at
    once when nothing is being built."""
    from engine.states import RunState

    if controller.state != RunState.BUILDING:
        fn()
        return

    def on_state(state: str, _message: str) -> None:
        if state != RunState.BUILDING:
            controller.state_changed.disconnect(on_state)
            fn()

    controller.state_changed.connect(on_state)


def after_first_paint(widget, fn, fallback_ms: int = 5000) -> None:
    """Call fn once, right after the widget's first paint (or after fallback_ms if it has
    not painted by then, e.g. a minimized window)."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    done = [False]

    def fire() -> None:
        if not done[0]:
            done[0] = True
            widget.removeEventFilter(watcher)
            fn()

    class _FirstPaint(QObject):
        def eventFilter(self, obj, event) -> bool:
            if event.type() == QEvent.Paint:
                QTimer.singleShot(0, fire)  # after this frame is drawn
            return False

    watcher = _FirstPaint(widget)
    widget.installEventFilter(watcher)
    QTimer.singleShot(fallback_ms, fire)
