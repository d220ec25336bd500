"""Run a function off the GUI thread and get its result back on the GUI thread.

Used by views that load or transform data (reading an image folder, fitting a whitening):
anything heavier than a few milliseconds stays off the GUI thread. A newer request
supersedes an older one: only the latest result is delivered. The worker thread never
touches a Qt object (it only fills a Python queue that a GUI-thread timer polls), so a
view closed while its task still runs is safe.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal


class BackgroundTask(QObject):
    """`run(fn)` computes fn() on a daemon thread; `done(result)` or `failed(message)` follow."""

    done = Signal(object)
    failed = Signal(str)
    POLL_MS = 30

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(self.POLL_MS)
        self._timer.timeout.connect(self._on_timer_tick)
        self.busy = False

    def run(self, fn: Callable[[], Any]) -> None:
        self._generation += 1
        gen, results = self._generation, self._results
        self.busy = True
        self._timer.start()

        def work() -> None:
            try:
                results.put((gen, fn(), ""))
            except Exception as e:  # noqa: BLE001 - reported as one line in the view
                results.put((gen, None, str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"))

        threading.Thread(target=work, name="descent-view-task", daemon=True).start()

    def _on_timer_tick(self) -> None:
        while True:
            try:
                gen, result, err = self._results.get_nowait()
            except queue.Empty:
                return
            if gen != self._generation:
                continue                  # superseded by a newer request
            self.busy = False
            self._timer.stop()
            if err:
                self.failed.emit(err)
            else:
                self.done.emit(result)
