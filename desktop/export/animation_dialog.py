"""File ▸ Export ▸ Animation: which animations, GIF and/or MP4, frame rate, duration and size;
then the frames drawn with a progress dialog whose Cancel removes what was begun.

The frames are widgets grabbed on the GUI thread (desktop/export/animation.py), so the job is
stepped here by a zero-interval timer, one frame per tick, between the window's own events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QMessageBox,
    QProgressDialog,
    QSpinBox,
    QWidget,
)

from desktop.export.animation import ANIMATIONS, AnimationSpec, animation_job, available_animations
from engine.export.files import ExportError
from engine.jobs import error_message
from engine.session.record import Session

TITLES = {
    "race": "Playground race",
    "landscape": "Path over the loss landscape",
    "curves": "Training curves growing",
}


class AnimationDialog(QDialog):
    """The choices; animations the session has no data for are disabled, their tooltip says
    what to run first."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        form = QFormLayout(self)
        self.kinds: dict[str, QCheckBox] = {}
        for kind, missing in available_animations(session).items():
            cb = QCheckBox(TITLES[kind])
            cb.setObjectName(f"animation:{kind}")
            cb.setEnabled(missing is None)
            cb.setChecked(missing is None)
            if missing:
                cb.setToolTip(missing)
            self.kinds[kind] = cb
            form.addRow(cb)
        fmt = QHBoxLayout()
        self.gif, self.mp4 = QCheckBox("GIF"), QCheckBox("MP4")
        self.gif.setChecked(True)
        self.mp4.setChecked(True)
        fmt.addWidget(self.gif)
        fmt.addWidget(self.mp4)
        form.addRow("Formats", fmt)
        self.fps = QSpinBox(minimum=1, maximum=60, value=15, suffix=" fps")
        self.seconds = QDoubleSpinBox(minimum=0.5, maximum=600, value=6.0, decimals=1, suffix=" s")
        self.width_box = QSpinBox(minimum=16, maximum=4096, value=960, singleStep=2, suffix=" px")
        self.height_box = QSpinBox(minimum=16, maximum=4096, value=540, singleStep=2, suffix=" px")
        form.addRow("Frame rate", self.fps)
        form.addRow("Duration", self.seconds)
        form.addRow("Width", self.width_box)
        form.addRow("Height", self.height_box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        for cb in [*self.kinds.values(), self.gif, self.mp4]:
            cb.toggled.connect(self._on_choice_toggled)
        self._on_choice_toggled()

    def chosen(self) -> tuple[list[str], list[str], AnimationSpec]:
        kinds = [k for k in ANIMATIONS if self.kinds[k].isChecked()]
        formats = [f for f, cb in (("gif", self.gif), ("mp4", self.mp4)) if cb.isChecked()]
        spec = AnimationSpec(
            float(self.fps.value()), self.seconds.value(), self.width_box.value(), self.height_box.value()
        )
        return kinds, formats, spec

    def _on_choice_toggled(self, *_) -> None:
        kinds, formats, _ = self.chosen()
        self.ok.setEnabled(bool(kinds and formats))


class AnimationExport:
    """Runs the chosen animations one after another, a frame per timer tick, with a progress
    dialog; Cancel closes the running job (its files are removed) and skips the rest."""

    def __init__(
        self,
        session: Session,
        folder: str | Path,
        kinds: list[str],
        formats: list[str],
        spec: AnimationSpec,
        parent: QWidget | None = None,
        status: Callable[[str, int], None] | None = None,
    ) -> None:
        self.session, self.folder, self.formats, self.spec = session, Path(folder), formats, spec
        self.pending = list(kinds)
        self.parent, self.status = parent, status
        self.files: list[Path] = []
        self.error = ""
        self.cancelled = False
        self.job = None
        self.total = len(kinds) * spec.frames
        self.done = 0
        self.progress = QProgressDialog("Drawing the animation…", "Cancel", 0, self.total, parent)
        self.progress.setObjectName("animation:progress")
        self.progress.setWindowTitle("Export animation")
        self.progress.setWindowModality(Qt.WindowModality.WindowModal)
        self.progress.setMinimumDuration(0)
        self.progress.canceled.connect(self.cancel)
        self.timer = QTimer()
        self.timer.setInterval(0)
        self.timer.timeout.connect(self._on_timer_tick)

    def start(self) -> None:
        self.progress.show()
        self.timer.start()

    @property
    def running(self) -> bool:
        return self.timer.isActive()

    def cancel(self) -> None:
        self.cancelled = True
        self._stop()
        if self.status is not None:
            self.status("animation export cancelled; nothing was written for the unfinished one", 8000)

    def _stop(self) -> None:
        self.timer.stop()
        if self.job is not None:
            self.job.close()  # its writer removes the files it had begun
            self.job = None
        self.progress.reset()
        self.progress.hide()

    def _on_timer_tick(self) -> None:
        try:
            if self.job is None:
                if not self.pending:
                    self._finish()
                    return
                self.job = animation_job(self.session, self.pending.pop(0), self.folder, self.formats, self.spec)
            try:
                p = next(self.job)
            except StopIteration as stop:
                self.files += stop.value
                self.job = None
                return
            self.done += 1
            self.progress.setLabelText(p.message)
            self.progress.setValue(min(self.done, self.total))
        except Exception as e:  # noqa: BLE001 - ExportError and the encoders' errors: shown, the app goes on
            self.error = str(e) if isinstance(e, ExportError) else error_message(e)
            self._stop()
            if self.parent is not None:
                QMessageBox.warning(self.parent, "Export animation", self.error)

    def _finish(self) -> None:
        self._stop()
        if self.status is not None:
            self.status(f"exported {len(self.files)} animation file(s) to {self.folder}", 8000)
