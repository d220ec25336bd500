"""A one-line label that elides its text at the right to the width it is given, with the
whole text on hover: a long message in a crowded status bar ends in "…" instead of running
under the widgets beside it."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel, QWidget


class ElidedLabel(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setTextFormat(Qt.PlainText)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = max(self.contentsRect().width(), 0)
        self.setText(self.fontMetrics().elidedText(self._full, Qt.ElideRight, room) if self._full else "")

    def sizeHint(self) -> QSize:  # as wide as the whole text (the layout may give less)
        h = super().sizeHint().height()
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 8, h)

    def minimumSizeHint(self) -> QSize:  # may shrink to nothing: the text elides
        return QSize(0, super().minimumSizeHint().height())
