"""The window paints before the engine builds the run (desktop.app.after_first_paint)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QLabel

from desktop.app import after_first_paint

pytestmark = pytest.mark.gui


def test_the_engine_starts_only_after_the_first_paint(qtbot):
    w = QLabel("starting engine…")
    qtbot.addWidget(w)
    paints: list[int] = []

    class CountPaints(QObject):
        def eventFilter(self, obj, event) -> bool:
            if event.type() == QEvent.Paint:
                paints.append(1)
            return False

    counter = CountPaints(w)
    w.installEventFilter(counter)
    started: list[int] = []
    after_first_paint(w, lambda: started.append(len(paints)), fallback_ms=60000)
    qtbot.wait(50)
    assert started == []  # not shown, not painted: nothing started
    w.show()
    qtbot.waitUntil(lambda: bool(started), timeout=10000)
    assert started[0] >= 1  # the window had painted when the engine was asked to start
    w.update()
    qtbot.wait(100)
    assert len(started) == 1  # once
