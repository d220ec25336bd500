"""One place that says what is running: the run toolbar is labelled as the main run's; on a
tab that runs its own work with its own controls (the Playground's race, the Compare tab's
comparison) the label says so; and the hyperparameter dock is hidden on a tab it does not
apply to (the Playground has its own settings), and shown again on leaving it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel

if TYPE_CHECKING:
    from desktop.main_window import MainWindow


class RunScope:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.label = QLabel()
        self.label.setObjectName("toolbar:scope")
        self.label.setContentsMargins(6, 0, 6, 0)
        toolbar = window.run_toolbar
        toolbar.insertWidget(toolbar.actions()[0], self.label)
        self.dock_hidden_here = False  # the dock was visible and this tab hid it
        window.tabs.current_changed.connect(lambda _i: self.update())
        self.update()

    def update(self) -> None:
        view = self.window.tabs.currentWidget()
        own = str(getattr(view, "own_work", ""))
        title = str(getattr(view, "title", ""))
        if own:
            self.label.setText(
                f"<b>Main run</b> <span style='color:#555'>(the {own} has its own controls below)</span>"
            )
            self.label.setToolTip(
                f"These buttons act on the main run (the Training tabs). The {title} tab's {own} "
                f"is started, paused and stopped with the buttons inside the tab."
            )
        else:
            self.label.setText("<b>Main run</b>")
            self.label.setToolTip("These buttons act on the main run, trained with the hyperparameter panel's settings")
        dock = self.window.panel_dock
        if not getattr(view, "uses_panel", True):
            if dock.isVisible():
                dock.hide()
                self.dock_hidden_here = True
        elif self.dock_hidden_here:
            dock.show()
            self.dock_hidden_here = False
