"""pyqtgraph's plot context menus, made on first use instead of with every plot.

Each pyqtgraph ViewBox builds its right-click menu (ViewBoxMenu: two axis panels of a
dozen widgets each, their signals) when it is made. The main window holds about fifty
plots, most of them on tabs not yet shown, and the menus were a sixth of the time it took
to build them, all before the first paint. `install_lazy_view_menus` has every ViewBox
made afterwards get a LazyViewBoxMenu instead: it keeps the entries the app adds (the plot
export and legend entries, desktop/export/plot_menu.py) and builds pyqtgraph's menu, with
those entries after its own, the first time the menu is really needed (a right click).
"""

from __future__ import annotations

import weakref

from PySide6.QtGui import QAction


class LazyViewBoxMenu:
    """Stands for a ViewBox's ViewBoxMenu until the menu is used, then passes everything on
    to that menu: the entries the app adds are kept, and any other use (pyqtgraph adding
    the parents' entries to it and popping it up at a right click) builds the real menu."""

    def __init__(self, view) -> None:
        self._view = weakref.ref(view)
        self._menu = None
        self._pending: list[QAction] = []  # entries added before the menu exists, in order
        self._view_list: list | None = None

    @property
    def built(self) -> bool:
        return self._menu is not None

    def real(self):
        """pyqtgraph's menu for the view, built now if it is not yet."""
        if self._menu is None:
            from pyqtgraph.graphicsItems.ViewBox.ViewBoxMenu import ViewBoxMenu

            view = self._view()
            if view is None:
                raise RuntimeError("the plot of this menu is gone")
            menu = ViewBoxMenu(view)
            if self._view_list is not None:
                menu.setViewList(self._view_list)
            for action in self._pending:
                menu.addAction(action)
            self._menu = menu
        return self._menu

    # -- what the app and pyqtgraph do with a menu before it is shown ---------------------
    def actions(self) -> list[QAction]:
        return self._menu.actions() if self._menu is not None else list(self._pending)

    def addAction(self, action: QAction | str) -> QAction:
        if self._menu is not None:
            return self._menu.addAction(action)
        if isinstance(action, str):
            action = QAction(action)
        self._pending.append(action)
        return action

    def addSeparator(self) -> QAction:
        if self._menu is not None:
            return self._menu.addSeparator()
        sep = QAction()
        sep.setSeparator(True)
        self._pending.append(sep)
        return sep

    def setViewList(self, views: list) -> None:
        """The views the axis-link combos offer (pyqtgraph updates it as views come and go)."""
        if self._menu is not None:
            self._menu.setViewList(views)
        else:
            self._view_list = list(views)

    def __getattr__(self, name: str):
        return getattr(self.real(), name)


def install_lazy_view_menus() -> None:
    """Every ViewBox made from now on gets a LazyViewBoxMenu (idempotent)."""
    import importlib

    module = importlib.import_module("pyqtgraph.graphicsItems.ViewBox.ViewBox")
    if module.ViewBoxMenu is LazyViewBoxMenu:
        return
    module.ViewBoxMenu = LazyViewBoxMenu  # the name ViewBox.__init__ builds its menu with
