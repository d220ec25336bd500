"""A race computed on a background thread, in chunks, cancellable.

The GUI starts a RaceJob and reads `race.done` / `race.path(i)` on its frame timer: the
arrays are preallocated, so the steps already computed never move while later ones are
written. A chunk is short (a few ms), so cancel() takes effect almost at once.
"""

from __future__ import annotations

import threading

from engine.playground.config import PlaygroundConfig
from engine.playground.race import Race


class RaceJob:
    """Runs `Race(cfg)` to its end on a daemon thread; `error` holds a failure message."""

    CHUNK = 250

    def __init__(self, cfg: PlaygroundConfig) -> None:
        self.race = Race(cfg)
        self.error = ""
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="descent-playground-race", daemon=True)

    def start(self) -> RaceJob:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._cancel.is_set() and not self.race.finished:
                self.race.advance(self.CHUNK)
        except Exception as e:  # noqa: BLE001 - reported to the view, never raised on a thread
            self.error = f"{type(e).__name__}: {e}"

    def cancel(self, wait: float = 1.0) -> None:
        self._cancel.set()
        if self._thread.is_alive():
            self._thread.join(wait)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def progress(self) -> float:
        return self.race.done / max(1, self.race.total)
