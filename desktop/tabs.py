"""The main window's views in groups: a tab bar of groups, and inside a group with several
views a second tab bar. Sixteen views in one bar were hard to scan; grouped, a user finds
"what happens inside the network" or "the data" in one click.

The class keeps the small QTabWidget-like API the rest of the app uses, over the *flat*
list of views in display order: count(), tabText(i), currentIndex(), setCurrentIndex(i),
currentWidget(), setCurrentWidget(view), indexOf(view), plus `current_changed(int)`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFrame, QScrollArea, QTabWidget, QVBoxLayout, QWidget


class _MinimumOnlyLayout(QVBoxLayout):
    """The holder's layout between a view and its scroll area. It reports no height-for-width:
    a word-wrapped label inside a view gives the view's layout height-for-width, and a
    resizable QScrollArea then makes the view as tall as its *preferred* height, so views
    that fit (the Init explorer, the Landscape) scrolled vertically with their plots cut off
    at the fold. Without it the scroll area keeps the view at the room it has, and scrolls
    only below the view's minimum size."""

    def hasHeightForWidth(self) -> bool:
        return False


class GroupedTabs(QWidget):
    current_changed = Signal(int)  # flat index of the view now shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.groups = QTabWidget()
        self.groups.setDocumentMode(True)
        self.groups.setObjectName("tabs:groups")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.groups)
        self._views: list[QWidget] = []
        self._pages: list[QScrollArea] = []  # per view: the scroll area it sits in
        self._titles: list[str] = []
        self._where: list[tuple[int, QTabWidget | None]] = []  # per view: group index, inner tabs
        self._group_names: list[str] = []
        self._inner: list[QTabWidget | None] = []
        self.actions: list[QAction] = []  # the navigation shortcuts (for a View menu)
        self.groups.currentChanged.connect(lambda _i: self._emit_current())

    # -- building ------------------------------------------------------------------------
    def add_group(self, name: str, views: list[tuple[QWidget, str]]) -> None:
        """A group of (view, title). One view: the view is the group's page itself."""
        if not views:
            return
        g = len(self._group_names)
        self._group_names.append(name)
        if len(views) == 1:
            view, title = views[0]
            self._inner.append(None)
            self.groups.addTab(self._add(view, title, g, None), title)
            self.groups.setTabToolTip(g, title)
            return
        inner = QTabWidget()
        inner.setDocumentMode(True)
        inner.setObjectName(f"tabs:{name}")
        for view, title in views:
            inner.addTab(self._add(view, title, g, inner), title)
        inner.currentChanged.connect(lambda _i: self._emit_current())
        self._inner.append(inner)
        self.groups.addTab(inner, name)
        self.groups.setTabToolTip(g, " · ".join(t for _, t in views))

    def _add(self, view: QWidget, title: str, g: int, inner: QTabWidget | None) -> QScrollArea:
        """The view's page: a scroll area, so that a view wider or taller than the room left
        by the docks scrolls instead of widening the window past the screen."""
        page = QScrollArea()
        page.setWidgetResizable(True)  # the view fills the page, and scrolls only below its minimum size
        page.setFrameShape(QFrame.NoFrame)
        holder = QWidget()
        lay = _MinimumOnlyLayout(holder)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(view)
        page.setWidget(holder)
        self._views.append(view)
        self._pages.append(page)
        self._titles.append(title)
        self._where.append((g, inner))
        return page

    def install_shortcuts(self, window: QWidget) -> None:
        """Ctrl+1 … Ctrl+9 select a group; Ctrl+PgDown/PgUp step through every view."""

        def add(text: str, key: str, fn) -> QAction:
            a = QAction(text, window)
            a.setShortcut(QKeySequence(key))
            a.setShortcutContext(Qt.WindowShortcut)
            a.triggered.connect(lambda _=False: fn())
            window.addAction(a)
            self.actions.append(a)
            return a

        for g, name in enumerate(self._group_names[:9]):
            add(name, f"Ctrl+{g + 1}", lambda g=g: self.groups.setCurrentIndex(g))
        add("Next view", "Ctrl+PgDown", lambda: self.setCurrentIndex((self.currentIndex() + 1) % self.count()))
        add("Previous view", "Ctrl+PgUp", lambda: self.setCurrentIndex((self.currentIndex() - 1) % self.count()))

    # -- the flat API --------------------------------------------------------------------
    def count(self) -> int:
        return len(self._views)

    def tabText(self, i: int) -> str:
        return self._titles[i]

    def widget(self, i: int) -> QWidget:
        return self._views[i]

    def indexOf(self, view: QWidget) -> int:
        try:
            return self._views.index(view)
        except ValueError:
            return -1

    def group_of(self, i: int) -> str:
        return self._group_names[self._where[i][0]]

    def group_names(self) -> list[str]:
        return list(self._group_names)

    def page_of(self, view: QWidget) -> QScrollArea:
        """The scroll area a view sits in."""
        return self._pages[self._views.index(view)]

    def currentIndex(self) -> int:
        g = self.groups.currentIndex()
        if not 0 <= g < len(self._inner):
            return -1
        inner = self._inner[g]
        page = inner.currentWidget() if inner is not None else self.groups.widget(g)
        return self._pages.index(page) if page in self._pages else -1

    def currentWidget(self) -> QWidget | None:
        i = self.currentIndex()
        return self._views[i] if i >= 0 else None

    def setCurrentIndex(self, i: int) -> None:
        if not 0 <= i < len(self._views):
            return
        g, inner = self._where[i]
        if inner is not None:
            inner.setCurrentWidget(self._pages[i])
        self.groups.setCurrentIndex(g)

    def setCurrentWidget(self, view: QWidget) -> None:
        self.setCurrentIndex(self.indexOf(view))

    def select(self, title: str) -> bool:
        """Show the view with this title, or the group with this name (showing the view last
        shown in it)."""
        low = title.strip().lower()
        for i, t in enumerate(self._titles):
            if t.lower() == low:
                self.setCurrentIndex(i)
                return True
        for g, name in enumerate(self._group_names):
            if name.lower() == low:
                self.groups.setCurrentIndex(g)
                return True
        return False

    def _emit_current(self) -> None:
        self.current_changed.emit(self.currentIndex())
