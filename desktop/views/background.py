"""Run a function off the GUI thread and get its result back on the GUI thread.

Used by views that load or transform data (reading an image folder, fitting a whitening):
anything heavier than a few milliseconds stays off the GUI thread. A newer request
supersedes an older one: only the latest result is delivered.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal


class BackgroundTask(QObject):
    """`run(fn)` computes fn() on a daemon thread; `done(result)` or `failed(message)` follow."""

    done = Signal(object)
    failed = Signal(str)
    _finished = Signal(int, object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self.busy = False
        self._finished.connect(self._on_finished)

    def run(self, fn: Callable[[], Any]) -> None:
        self._generation += 1
        gen = self._generation
        self.busy = True

        def work() -> None:
            try:
                result, err = fn(), ""
            except Exception as e:  # noqa: BLE001 - reported as one line in the view
                result, err = None, str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
            try:
                self._finished.emit(gen, result, err)
            except RuntimeError:     # the view was closed meanwhile
                pass

        threading.Thread(target=work, name="descent-view-task", daemon=True).start()

    def _on_finished(self, gen: int, result: Any, err: str) -> None:
        if gen != self._generation:
            return
        self.busy = False
        if err:
            self.failed.emit(err)
        else:
            self.done.emit(result)
