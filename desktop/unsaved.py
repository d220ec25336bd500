"""Nothing lost on quit: whether the window holds work not yet saved (the title's `*`), and
the Save / Discard / Cancel question when quitting with such work.

Work is unsaved when the main run or the comparison has moved on since the last save or
open (another run, more steps, a run that finished), while either is still training, when
the config was edited (even before any run), or when a view holds work of its own that
changed (`parts`: e.g. the Playground's race of racers the user set up).
Autosave (desktop/autosave.py) keeps covering crashes; a quit the user confirmed is a
clean exit, so Discard really discards (the autosave is removed with it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from engine.states import RunState

CHECK_MS = 1000


class UnsavedWork(QObject):
    """Tracks the controller's work against what was last saved or opened."""

    changed = Signal(bool)  # dirty

    def __init__(
        self,
        controller,
        parent: QObject | None = None,
        check_ms: int = CHECK_MS,
        parts: list[Callable[[], object]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.parts = list(parts or [])  # each: a token of what a view alone holds (None: nothing)
        self.dirty = False
        self._saved = self.progress()
        controller.run_started.connect(lambda *_: self.refresh())
        controller.field_edited.connect(lambda _key: self.refresh())
        controller.config_changed.connect(lambda _cfg: self.refresh())
        controller.session_loaded.connect(lambda _s: self.mark_saved())
        controller.compare.state_changed.connect(lambda _s: self.refresh())
        self.timer = QTimer(self)
        self.timer.setInterval(check_ms)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def progress(self) -> tuple[Any, ...]:
        """What identifies the work held now: the run, its step and state, the comparison's
        generation and its runs' states, the config, and what the views hold."""
        c = self.controller
        t = c.worker.trainer if c.worker is not None else None
        cmp = c.compare
        return (
            c.run_id,
            int(getattr(t, "step", 0) or 0),
            str(c.state),
            cmp.generation,
            tuple(sorted((k, str(v)) for k, v in cmp.states.items())),
            c.config,
            tuple(part() for part in self.parts),
        )

    def running(self) -> bool:
        return self.controller.state == RunState.RUNNING or self.controller.compare.state == RunState.RUNNING

    def refresh(self) -> bool:
        dirty = self.running() or self.progress() != self._saved
        if dirty != self.dirty:
            self.dirty = dirty
            self.changed.emit(dirty)
        return dirty

    def mark_saved(self) -> None:
        """The work as it stands is saved (File ▸ Save) or was just opened."""
        self._saved = self.progress()
        self.refresh()


class QuitGuard:
    """Asks before a quit that would lose work: Save (then quit, unless the save was
    cancelled or failed), Discard (quit), Cancel (stay)."""

    def __init__(self, parent: QWidget, unsaved: UnsavedWork, save: Callable[[], bool]) -> None:
        self.parent = parent
        self.unsaved = unsaved
        self.save = save
        self.box: QMessageBox | None = None  # the open question (tests answer it)

    def allow_close(self) -> bool:
        if not self.unsaved.refresh():
            return True
        box = QMessageBox(
            QMessageBox.Warning,
            "Quit Descent",
            "This window holds work that is not saved (the current run"
            + (" and the comparison" if self.unsaved.controller.compare.states else "")
            + ").\nSave it before quitting?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel,
            self.parent,
        )
        box.setObjectName("dialog:quit")
        box.setDefaultButton(QMessageBox.Save)
        box.setEscapeButton(QMessageBox.Cancel)
        box.button(QMessageBox.Discard).setText("Discard and quit")
        box.setInformativeText("Discard throws the unsaved work away, autosave included.")
        self.box = box
        try:
            answer = box.exec()
        finally:
            self.box = None
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard
