"""The Help menu: help for the view in front (resources/help/<view>.md, shipped with the app),
the keyboard shortcuts (read from the window's actions, so the list never goes stale), and
About (the versions of Descent, torch, Qt and the device runs train on)."""

from __future__ import annotations

import platform
import re
from collections.abc import Callable

from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.resources import resource


def help_slug(title: str) -> str:
    """The help file's name for a view title: "Decision boundary" -> "decision-boundary"."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def help_text(title: str) -> str | None:
    """The Markdown help of the view with this title, or None when it has none."""
    node = resource("help", f"{help_slug(title)}.md")
    try:
        return node.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def versions(device: str) -> dict[str, str]:
    """What About shows: Descent, Python, torch, Qt (and PySide6), and the device."""
    import PySide6
    import torch  # already loaded when the window is up; About may import it itself

    from engine import __version__

    return {
        "Descent": __version__,
        "Python": platform.python_version(),
        "PyTorch": torch.__version__,
        "Qt": f"{qVersion()} (PySide6 {PySide6.__version__})",
        "Device": device,
    }


def device_text(config_device: str) -> str:
    """The device a run of this config trains on, in words (a GPU by its name)."""
    import torch

    from engine.train.device import resolve_device

    try:
        dev = resolve_device(config_device)
    except RuntimeError as e:
        return str(e)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({torch.get_num_threads()} threads)"


class TextDialog(QDialog):
    """A small non-modal window showing Markdown or HTML."""

    def __init__(self, title: str, text: str, parent: QWidget | None, markdown: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName(f"help:{help_slug(title)}")
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        if markdown:
            self.browser.setMarkdown(text)
        else:
            self.browser.setHtml(text)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)
        self.resize(560, 460)


class HelpMenu:
    """Installs Help ▸ Help for this view (F1), Keyboard shortcuts, About Descent."""

    def __init__(self, window: QMainWindow, current_title: Callable[[], str], config_device: Callable[[], str]) -> None:
        self.window = window
        self.current_title = current_title
        self.config_device = config_device
        self.dialog: QDialog | None = None  # the last one opened (tests read it)
        # one Help menu: the one already there (the Lessons dock may have made it), else a new one
        existing = next((a.menu() for a in window.menuBar().actions() if a.text() == "&Help" and a.menu()), None)
        self.menu: QMenu = existing or window.menuBar().addMenu("&Help")
        self.act_view_help = self._add("Help for this view", QKeySequence.HelpContents, self.show_view_help)
        self.act_shortcuts = self._add("Keyboard shortcuts", "Ctrl+/", self.show_shortcuts)
        self.menu.addSeparator()
        self.act_about = self._add("About Descent", None, self.show_about)

    def _add(self, text: str, shortcut, slot) -> QAction:
        a = QAction(text, self.window)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.WindowShortcut)
        a.triggered.connect(lambda _=False: slot())
        self.window.addAction(a)
        self.menu.addAction(a)
        return a

    def _show(self, dialog: QDialog) -> QDialog:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = dialog
        dialog.show()
        return dialog

    def show_view_help(self) -> QDialog:
        title = self.current_title()
        text = help_text(title) or f"# {title}\n\nThis view has no help text."
        return self._show(TextDialog(f"Help — {title}", text, self.window))

    def shortcuts(self) -> list[tuple[str, str]]:
        """(keys, what) for every action of the window that has a shortcut, sorted by what."""
        seen = {}
        for a in self.window.findChildren(QAction):  # the window's, its toolbars' and its menus'
            if not a.isVisible():
                continue
            keys = a.shortcut().toString(QKeySequence.NativeText)
            if keys:
                seen[(keys, a.text().replace("&", ""))] = None
        return sorted(seen, key=lambda kv: kv[1].lower())

    def show_shortcuts(self) -> QDialog:
        rows = "".join(
            f"<tr><td style='padding-right:16px'><b>{k}</b></td><td>{what}</td></tr>" for k, what in self.shortcuts()
        )
        html = f"<h3>Keyboard shortcuts</h3><table>{rows}</table>"
        return self._show(TextDialog("Keyboard shortcuts", html, self.window, markdown=False))

    def show_about(self) -> QMessageBox:
        v = versions(device_text(self.config_device()))
        rows = "".join(f"<tr><td style='padding-right:12px'>{k}</td><td><b>{val}</b></td></tr>" for k, val in v.items())
        box = QMessageBox(self.window)
        box.setWindowTitle("About Descent")
        box.setObjectName("help:about")
        box.setTextFormat(Qt.RichText)
        box.setText(
            "<h3>Descent</h3><p>A desktop lab for watching the optimization of deep neural networks.</p>"
            f"<table>{rows}</table>"
        )
        box.setStandardButtons(QMessageBox.Ok)
        box.setModal(False)
        self._show(box)
        return box
