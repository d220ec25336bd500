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
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal


class BackgroundTask(QObject):
    """`run(fn)` computes fn() on a daemon thread; `done(result)` or `failed(message)` follow.
    `run(fn, cancellable=True)` calls fn(cancelled) instead, `cancelled()` turning True once
    `cancel()` (or a newer run) supersedes it; a cancelled result is never delivered."""

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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self, fn: Callable[..., Any], cancellable: bool = False, name: str = "descent-view-task") -> None:
        self._stop.set()  # a running older task may stop early
        self._generation += 1
        gen, results = self._generation, self._results
        stop = self._stop = threading.Event()
        self.busy = True
        self._timer.start()

        def work() -> None:
            try:
                results.put((gen, fn(stop.is_set) if cancellable else fn(), ""))
            except Exception as e:  # noqa: BLE001 - reported as one line in the view
                own = isinstance(e, (ValueError, RuntimeError))  # our errors speak for themselves
                results.put((gen, None, str(e) if own else f"{type(e).__name__}: {e}"))

        self._thread = threading.Thread(target=work, name=name, daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Drop the running task's result (and let a cancellable one stop early)."""
        self._stop.set()
        self._generation += 1
        self.busy = False
        self._timer.stop()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel and wait for the thread (the view is closing)."""
        self.cancel()
        if self._thread is not None:
            self._thread.join(timeout)

    def _on_timer_tick(self) -> None:
        while True:
            try:
                gen, result, err = self._results.get_nowait()
            except queue.Empty:
                return
            if gen != self._generation:
                continue  # superseded by a newer request
            self.busy = False
            self._timer.stop()
            if err:
                self.failed.emit(err)
            else:
                self.done.emit(result)
