"""Autosave and crash recovery.

Every few minutes the app's session (AppController.snapshot(): the run, the comparison,
what the views hold) is written atomically to the user data folder as `autosave-<pid>.descent`, next to a
`running-<pid>.json` marker. A clean exit removes both. At start-up, a marker whose
process is gone means that instance crashed: the window offers to recover its autosave.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.controller import AppController
from engine.session import SessionError, save_session

INTERVAL_MS = 3 * 60 * 1000


def autosave_folder() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("Descent", appauthor=False)) / "autosave"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class Autosaver(QObject):
    """Saves `controller.snapshot()` on a timer; messages go out as the controller's notices;
    the recovery question is a dialog over `parent`."""

    def __init__(
        self,
        controller: AppController,
        parent: QWidget | None = None,
        folder: str | Path | None = None,
        interval_ms: int = INTERVAL_MS,
        offer: bool = True,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.parent_widget = parent
        self.folder = Path(folder) if folder is not None else autosave_folder()
        self.pid = os.getpid()
        self.file = self.folder / f"autosave-{self.pid}.descent"
        self.marker = self.folder / f"running-{self.pid}.json"
        self.last_saved: float | None = None
        self.last_error = ""
        self.recovery_box: QMessageBox | None = None
        self.enabled = True
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.recoverable = self.find_recoverable()
            self.marker.write_text(json.dumps({"pid": self.pid, "started": time.time()}))
        except OSError as e:
            self.enabled = False
            self.recoverable = []
            self.last_error = f"autosave is off: {self.folder} is not writable ({e.strerror or e})"
            controller.notice.emit(self.last_error, "warning")
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.save_now)
        if self.enabled:
            self.timer.start()
        if offer and self.recoverable:
            QTimer.singleShot(0, self.offer_recovery)

    # -- saving --------------------------------------------------------------------------
    def save_now(self) -> Path | None:
        """Write the autosave now (nothing to save: no file). Errors go to the status bar."""
        if not self.enabled:
            return None
        try:
            session = self.controller.snapshot()
            if not session.runs:
                return None
            save_session(session, self.file)
        except SessionError as e:
            self.last_error = f"autosave failed: {e}"
            self.controller.notice.emit(self.last_error, "warning")
            return None
        self.last_saved = time.time()
        return self.file

    def close_cleanly(self) -> None:
        """A normal exit: nothing to recover next time."""
        self.timer.stop()
        for p in (self.file, self.marker):
            try:
                p.unlink()
            except OSError:
                pass

    # -- recovery ------------------------------------------------------------------------
    def find_recoverable(self) -> list[Path]:
        """Autosaves of instances that did not exit cleanly, newest first."""
        out = []
        for m in self.folder.glob("running-*.json"):
            try:
                pid = int(m.stem.split("-", 1)[1])
            except ValueError:
                continue
            if _alive(pid):
                continue
            f = self.folder / f"autosave-{pid}.descent"
            if f.exists():
                out.append(f)
            else:
                m.unlink(missing_ok=True)  # crashed before its first autosave: nothing to offer
        return sorted(out, key=lambda p: p.stat().st_mtime, reverse=True)

    def offer_recovery(self) -> None:
        """A non-blocking question: recover the newest autosave, or discard them."""
        if not self.recoverable:
            return
        newest = self.recoverable[0]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(newest.stat().st_mtime))
        box = QMessageBox(
            QMessageBox.Question,
            "Recover session",
            f"Descent did not close normally last time. Recover the session autosaved at {when}?",
            QMessageBox.Yes | QMessageBox.Discard,
            self.parent_widget,
        )
        box.button(QMessageBox.Yes).setText("Recover")
        box.finished.connect(lambda r: self.recover() if r == QMessageBox.Yes else self.discard())
        self.recovery_box = box
        box.open()

    def recover(self) -> bool:
        """Open the newest crashed autosave; it becomes this instance's autosave."""
        if not self.recoverable:
            return False
        newest = self.recoverable[0]
        try:
            self.controller.open(newest)
        except SessionError as e:
            self.controller.notice.emit(f"could not recover: {e}", "warning")
            self.discard()
            return False
        try:
            os.replace(newest, self.file)
        except OSError:
            pass
        self.discard()
        self.controller.notice.emit("recovered the autosaved session", "info")
        return True

    def discard(self) -> None:
        for f in self.recoverable:
            pid = f.stem.split("-", 1)[1]
            for p in (f, self.folder / f"running-{pid}.json"):
                try:
                    p.unlink()
                except OSError:
                    pass
        self.recoverable = []
