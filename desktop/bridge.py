"""The bridge: drains the engine channel on a timer and hands batches to the views.

One QTimer on the GUI thread (≤ 60 Hz). Each tick takes everything that arrived, lets the
controller update its state, then gives the same batch to every view. Training never
waits for this: the channel coalesces step batches when the GUI falls behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from PySide6.QtCore import QObject, QTimer

from desktop.controller import AppController
from desktop.views.base import View


class Bridge(QObject):
    def __init__(
        self, controller: AppController, views: Iterable[View], interval_ms: int = 33, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.views = list(views)
        self.timer = QTimer(self)
        self.timer.setInterval(max(16, interval_ms))  # never faster than 60 Hz
        self.timer.timeout.connect(self._on_timer_tick)
        self.ticks = 0
        self.events_seen = 0
        self.last_tick_ms = 0.0
        self.max_tick_ms = 0.0
        self.view_ms: dict[str, float] = {}  # time spent in each view's handle_events, summed

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def add_view(self, view: View) -> None:
        self.views.append(view)

    def _on_timer_tick(self) -> None:
        self.tick()

    def tick(self) -> None:
        """Drain the channel and hand the batch to the controller and the views now."""
        events = self.controller.channel.drain()
        if not events:
            # Views that throttle their redraws draw what is still pending (the last
            # batch of a run may have arrived just after a redraw).
            for v in self.views:
                if v.has_pending_redraw:
                    v.handle_events([])
            return
        t0 = time.perf_counter()
        self.ticks += 1
        self.events_seen += len(events)
        self.controller.process(events)
        view_ms = self.view_ms
        for v in self.views:
            t = time.perf_counter()
            try:
                v.handle_events(events)
            except Exception as e:  # noqa: BLE001 - one broken view must not take the app down
                self.controller.notice.emit(f"{type(v).__name__}: {type(e).__name__}: {e}", "error")
            name = type(v).__name__
            view_ms[name] = view_ms.get(name, 0.0) + (time.perf_counter() - t) * 1000
        self.last_tick_ms = (time.perf_counter() - t0) * 1000
        self.max_tick_ms = max(self.max_tick_ms, self.last_tick_ms)
