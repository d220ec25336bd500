"""Empty states: when a view does not apply or has no data yet, one sentence saying why and
a button that fixes it, over the view's plots (instead of empty axes)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

# Data sets the views can tell apart by name alone (files may hold either kind).
TWO_D_DATASETS = frozenset({"spiral", "moons", "circles", "xor", "blobs"})
IMAGE_DATASETS = frozenset({"digits", "image_folder"})


class EmptyState(QFrame):
    """Covers `host` (a view's plot area) while shown: a sentence and an optional button.

    A splitter host would take a child widget as one more pane, so there the overlay is a
    child of the splitter's parent, kept over the splitter's geometry."""

    def __init__(self, host: QWidget) -> None:
        parent = host.parentWidget() if isinstance(host, QSplitter) else host
        super().__init__(parent)
        self.host = host
        self.setObjectName("empty-state")
        self.setAutoFillBackground(True)
        self.setStyleSheet("#empty-state { background: white; }")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setStyleSheet("font-size: 12pt; color: #333;")
        self.button = QPushButton()
        self.button.clicked.connect(self._on_button_clicked)
        self._action: Callable[[], object] | None = None
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        lay.addWidget(self.message, 0, Qt.AlignHCenter)
        lay.addSpacing(8)
        lay.addWidget(self.button, 0, Qt.AlignHCenter)
        lay.addStretch(1)
        host.installEventFilter(self)
        self.hide()

    def show_message(self, text: str, button: str = "", action: Callable[[], object] | None = None) -> None:
        """Show why the view is empty; with `button`, a button that runs `action`."""
        self.message.setText(text)
        self.button.setText(button)
        self.button.setVisible(bool(button and action))
        self._action = action
        self._fit()
        self.raise_()
        self.show()

    def _fit(self) -> None:
        rect = self.host.rect()
        if self.parentWidget() is not self.host:
            rect.moveTopLeft(self.host.mapTo(self.parentWidget(), QPoint(0, 0)))
        self.setGeometry(rect)
        # a fixed width lets the wrapped sentence take the height it needs
        width = max(200, min(560, rect.width() - 40))
        self.message.setFixedWidth(width)
        height = self.message.heightForWidth(width)
        if height > 0:
            self.message.setMinimumHeight(height)

    def clear(self) -> None:
        self._action = None
        self.hide()

    @property
    def showing(self) -> bool:
        return not self.isHidden()

    def _on_button_clicked(self) -> None:
        if self._action is not None:
            self._action()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.host and event.type() in (QEvent.Type.Resize, QEvent.Type.Move):
            self._fit()
        return False


def apply_and_restart(controller, updates: dict[str, object]) -> bool:
    """Set panel fields (dotted keys) and restart the main run with them; a refused value
    is said in the status bar (controller.notice)."""
    for key, value in updates.items():
        err = controller.set_field(key, value)
        if err is not None:
            controller.notice.emit(err, "error")
            return False
    controller.set_config(controller.config)  # the panel shows the new values
    controller.restart()
    return True
