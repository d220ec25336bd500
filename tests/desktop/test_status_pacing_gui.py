"""The status bar's speed and step labels follow a run without re-laying the window: each
new text repaints the label alone (a label that may resize re-laid the main window and
repainted its whole central area, all four Curves plots, at every change)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from small_runs import SMALL_RUN

from engine.config import ExperimentConfig


class Counter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[tuple[str, QEvent.Type], int] = {}

    def eventFilter(self, obj, event) -> bool:
        key = (obj.objectName(), event.type())
        self.seen[key] = self.seen.get(key, 0) + 1
        return False

    def count(self, name: str, kind: QEvent.Type) -> int:
        return self.seen.get((name, kind), 0)


def test_status_labels_follow_the_run_without_relaying_the_window(open_main_window, qtbot):
    w = open_main_window(ExperimentConfig().with_updates({**SMALL_RUN, "train.epochs": 400}))
    c = w.controller
    w.statusBar().setObjectName("status")
    w.lbl_epoch.setObjectName("epoch label")
    counter = Counter()
    for obj in (w.statusBar(), w.lbl_epoch):
        obj.installEventFilter(counter)
    texts: set[str] = set()
    c.set_speed(200)  # ~6 s for the 1,200 steps: long enough for many label texts on any machine
    c.start()
    qtbot.waitUntil(lambda: texts.add(w.lbl_epoch.text()) or len(texts) >= 9, timeout=60000)
    c.stop()
    assert all("step" in t for t in texts if t)
    assert counter.count("epoch label", QEvent.Type.Paint) >= 4  # the new texts are drawn
    # fixed sizes: no layout request per new text (only when the label outgrows its width,
    # or the run's state label changes: starting, running, stopped)
    assert counter.count("status", QEvent.Type.LayoutRequest) <= 4 < len(texts) - 4
    assert w.lbl_epoch.minimumSize() == w.lbl_epoch.maximumSize()
