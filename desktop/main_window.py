"""The main window: tabs of views, the hyperparameter dock, run controls, menus, status."""

from __future__ import annotations

import html
import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QFont, QFontMetrics, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QToolBar

from desktop.autosave import Autosaver
from desktop.bridge import Bridge
from desktop.controller import AppController
from desktop.elided_label import ElidedLabel
from desktop.export.menu import add_export_entries, install_export_menu
from desktop.help_menu import HelpMenu
from desktop.panels.hyperparams import HyperparameterPanel
from desktop.run_scope import RunScope
from desktop.tabs import GroupedTabs
from desktop.unsaved import QuitGuard, UnsavedWork
from desktop.views.base import View
from desktop.views.registry import tab_groups
from engine.session import Session, SessionError
from engine.states import RunState, parse_state

MAX_RECENT = 8
STATUS_EVERY_S = 0.25
"""The speed and step labels change at most 4 times a second (the bridge ticks at 30 Hz)."""
STATE_COLORS = {
    RunState.RUNNING: "#009E73",
    RunState.PAUSED: "#E69F00",
    RunState.DIVERGED: "#D55E00",
    RunState.ERROR: "#D55E00",
    RunState.FINISHED: "#0072B2",
    RunState.STOPPED: "#555555",
    RunState.REPLAY: "#CC79A7",
}


class MainWindow(QMainWindow):
    def __init__(
        self,
        controller: AppController,
        settings: QSettings | None = None,
        ask_before_quit: bool = False,
        lessons_now: bool = True,
    ) -> None:
        super().__init__()
        self.controller = controller
        self.settings = settings or QSettings("Descent", "Descent")
        self.setWindowTitle("Descent — optimization lab[*]")  # [*]: the unsaved-work marker
        self.resize(1500, 950)

        self.tabs = GroupedTabs()
        self.views: list[View] = []
        for group, classes in tab_groups():
            views = [cls(controller) for cls in classes]
            self.views += views
            self.tabs.add_group(group, [(v, v.title) for v in views])
        for v in self.views:
            controller.add_session_part(v.save_into)  # what File ▸ Save, autosave and export see
        self.tabs.install_shortcuts(self)
        self.setCentralWidget(self.tabs)

        self.panel = HyperparameterPanel(controller)
        self.panel_dock = QDockWidget("Hyperparameters", self)
        self.panel_dock.setObjectName("dock:hyperparameters")
        self.panel_dock.setWidget(self.panel)
        self.panel_dock.setMinimumWidth(300)
        self.addDockWidget(Qt.LeftDockWidgetArea, self.panel_dock)

        self._build_actions()
        self._build_status()
        self.lessons_dock = None  # the lecture's claims, each one click away (install_lessons)
        if lessons_now:  # the app adds it once the engine has loaded (it imports torch)
            self.install_lessons()

        self.bridge = Bridge(controller, self.views, parent=self)
        controller.run_started.connect(self._on_controller_run_started)
        controller.state_changed.connect(self._on_controller_state_changed)
        controller.notice.connect(self._on_controller_notice)
        controller.session_loaded.connect(self._on_controller_session_loaded)
        controller.pending_restart.connect(self._on_controller_pending_restart)
        self._status_at = 0.0  # when the speed and step labels were last set
        self.bridge.timer.timeout.connect(self._update_status)
        from desktop.run_controls import RunControls

        self.run_controls = RunControls(self, self.run_toolbar)  # speed, Train more
        self.bridge.start()
        self._restore_layout()
        self.export_menu = install_export_menu(
            self.file_menu,
            self,
            controller.snapshot,
            self.tabs.currentWidget,
            self.last_dir,
            self.statusBar().showMessage,
        )
        for v in self.views:
            add_export_entries(v)  # plots not made with style_plot get the plot menu's entries too
        # every few minutes to the user data folder; offers recovery after a crash
        self.autosave = Autosaver(controller, self)
        self.unsaved = UnsavedWork(controller, self, parts=[v.work_token for v in self.views])
        self.unsaved.changed.connect(self.setWindowModified)
        self.ask_before_quit = ask_before_quit  # the app asks; windows made by tests close at once
        self.quit_guard = QuitGuard(self, self.unsaved, self.save_session_dialog)
        self.run_scope = RunScope(self)  # what the toolbar acts on; the dock hidden where it does not apply
        self.help_menu = HelpMenu(
            self, lambda: self.tabs.tabText(self.tabs.currentIndex()), lambda: self.controller.config.device
        )

    # -- actions -------------------------------------------------------------------------
    def _action(self, text: str, shortcut: str | QKeySequence | None, slot, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.WindowShortcut)
        a.setToolTip(f"{tip or text} ({QKeySequence(shortcut).toString()})" if shortcut else (tip or text))
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        c = self.controller
        self.act_pause = self._action("Pause", Qt.Key_Space, c.toggle_pause, "Pause / resume the main run")
        self.act_step = self._action(
            "Step", Qt.Key_Right, c.single_step, "Pause the main run and take one minibatch step"
        )
        self.act_restart = self._action(
            "Restart", "Ctrl+R", c.restart, "Restart the main run from a fresh init with the panel's settings"
        )
        self.act_stop = self._action("Stop", "Ctrl+.", c.stop, "Stop the main run (keeps its data)")
        self.act_open = self._action("Open session…", QKeySequence.Open, self.open_session_dialog)
        self.act_save = self._action("Save session…", QKeySequence.Save, self.save_session_dialog)
        self.act_quit = self._action("Quit", QKeySequence.Quit, self.close)

        tb = QToolBar("Run")
        tb.setObjectName("toolbar:run")
        tb.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for a in (self.act_pause, self.act_step, self.act_restart, self.act_stop):
            tb.addAction(a)
        self.addToolBar(Qt.TopToolBarArea, tb)
        self.run_toolbar = tb

        mb = self.menuBar()
        self.file_menu = mb.addMenu("&File")
        self.file_menu.addAction(self.act_open)
        self.recent_menu = self.file_menu.addMenu("Open recent")
        self.file_menu.addAction(self.act_save)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.act_quit)
        run_menu = mb.addMenu("&Run")
        for a in (self.act_pause, self.act_step, self.act_restart, self.act_stop):
            run_menu.addAction(a)
        run_menu.addSeparator()
        self.act_compare = self._action(
            "Compare optimizers",
            "Ctrl+Shift+C",
            self.compare_optimizers,
            "One run per optimizer checked in the Compare tab, same init and batches",
        )
        run_menu.addAction(self.act_compare)
        self.act_lr_find = self._action(
            "Find learning rate…",
            None,
            self.find_learning_rate,
            "LR range test on the panel's config: loss vs a growing lr, and a suggested lr",
        )
        run_menu.addAction(self.act_lr_find)
        self.act_lr_find_weights = self._action(
            "Find learning rate from the current weights…",
            None,
            lambda: self.find_learning_rate(from_weights=True),
            "LR range test from the current (or reopened) run's weights and optimizer state",
        )
        run_menu.addAction(self.act_lr_find_weights)
        self.run_menu = run_menu  # Train more joins it (desktop/run_controls.py)
        self.view_menu = mb.addMenu("&View")
        self.view_menu.addAction(self.panel_dock.toggleViewAction())
        self.view_menu.addAction(tb.toggleViewAction())
        go = self.view_menu.addMenu("Go to")  # the view groups and their shortcuts
        for a in self.tabs.actions:
            go.addAction(a)
        self._refresh_recent()

    def _build_status(self) -> None:
        sb = self.statusBar()
        sb.messageChanged.connect(lambda m: sb.setToolTip(m))  # a message longer than the bar: whole on hover
        self.lbl_state = QLabel(f"main run: {RunState.IDLE}")
        self.lbl_device = QLabel()
        self.lbl_speed = QLabel()
        self.lbl_epoch = QLabel()
        self.lbl_pending = QLabel()
        self.lbl_finding = ElidedLabel()  # the run's highest-ranked diagnostic (Diagnostics tab for all)
        self.lbl_finding.setMaximumWidth(520)
        self.controller.finding_changed.connect(self._on_controller_finding_changed)
        sb.addWidget(self.lbl_finding, 1)
        # fixed sizes: a new text then repaints the label alone (a label that may resize
        # re-lays the window and repaints the whole central area at every change)
        self.lbl_speed.setFixedSize(110, self.lbl_speed.sizeHint().height())
        self.lbl_epoch.setFixedSize(170, self.lbl_epoch.sizeHint().height())
        # the run state's label as wide as its longest state (bold): a new state neither clips nor re-lays it
        bold = QFont(self.lbl_state.font())
        bold.setBold(True)
        widest = max(QFontMetrics(bold).horizontalAdvance(f"main run: {s}") for s in RunState)
        self.lbl_state.setFixedSize(widest + 8, self.lbl_state.sizeHint().height())
        for live in (self.lbl_speed, self.lbl_epoch):  # opaque: the bar and window behind are not repainted
            live.setAutoFillBackground(True)
        for w in (self.lbl_state, self.lbl_device, self.lbl_speed, self.lbl_epoch, self.lbl_pending):
            sb.addPermanentWidget(w)
        self._show_device(self.controller.config)

    def _show_device(self, config) -> None:
        """The device the run uses; until the engine has loaded torch, the configured one."""
        if "torch" not in sys.modules:  # resolving would import torch on the GUI thread
            self.lbl_device.setText(f"device: {config.device}")
            return
        from engine.train.device import resolve_device

        try:
            self.lbl_device.setText(f"device: {resolve_device(config.device)}")
        except RuntimeError as e:
            self.lbl_device.setText(f"device: {e}")

    # -- slots ---------------------------------------------------------------------------
    def _on_controller_run_started(self, run_id: str, config) -> None:
        for v in self.views:
            v.on_run_started(run_id, config)
        self._show_device(config)

    def _on_controller_state_changed(self, state: str, message: str) -> None:
        col = STATE_COLORS.get(parse_state(state, RunState.IDLE), "#000")
        self.lbl_state.setText(f"main run: <b style='color:{col}'>{state}</b>")
        self.act_pause.setText("Pause" if state == RunState.RUNNING else "Resume")
        if state != RunState.BUILDING:
            self._show_device(self.controller.config)  # the engine has loaded torch by now
        if message:
            self.statusBar().showMessage(message, 15000)

    def _on_controller_notice(self, message: str, level: str) -> None:
        self.statusBar().showMessage(message, 15000 if level != "error" else 60000)
        if level == "error" and not getattr(self, "quiet_errors", False):
            short = message if len(message) <= 80 else message[:79] + "…"  # whole in the tooltip
            self.lbl_pending.setText(f"<span style='color:#D55E00'>⚠ {html.escape(short)}</span>")
            self.lbl_pending.setToolTip(message)

    def _on_controller_finding_changed(self, message: str, level: str) -> None:
        col = {"error": "#D55E00", "warning": "#E69F00"}.get(level, "#555")
        self.lbl_finding.setStyleSheet(f"color: {col}")
        self.lbl_finding.set_full_text(f"⚑ {message}" if message else "")  # elided to its room, whole on hover

    def _on_controller_pending_restart(self, pending: bool) -> None:
        self.lbl_pending.setText(
            "<span style='color:#E69F00'>edits apply on restart (Ctrl+R)</span>" if pending else ""
        )

    def _on_controller_session_loaded(self, session: Session) -> None:
        for v in self.views:
            v.load_session(session)

    def _update_status(self) -> None:
        now = time.perf_counter()
        if now - self._status_at < STATUS_EVERY_S:
            return
        self._status_at = now
        w = self.controller.worker
        t = w.trainer if w is not None else None
        if t is not None:
            for label, text in (
                (self.lbl_speed, f"{t.steps_per_s:,.0f} steps/s"),
                (self.lbl_epoch, f"epoch {t.epoch}/{t.config.train.epochs} · step {t.step}"),
            ):
                if label.text() != text:
                    need = label.fontMetrics().horizontalAdvance(text) + 8
                    if need > label.width():  # grown: wider in 40 px steps (rarely re-lays the bar)
                        label.setFixedWidth(-(-need // 40) * 40)
                    label.setText(text)

    def compare_optimizers(self) -> bool:
        """Show the Compare tab and start one run per checked optimizer."""
        from desktop.views.compare import CompareView

        view = next((v for v in self.views if isinstance(v, CompareView)), None)
        if view is None:
            return False
        self.tabs.setCurrentWidget(view)
        return view.compare_checked_optimizers()

    def find_learning_rate(self, from_weights: bool = False) -> bool:
        """Show the LR range test tab and start the test on the panel's config (or from the
        current run's weights)."""
        from desktop.views.lr_find_view import LrFindView

        view = next((v for v in self.views if isinstance(v, LrFindView)), None)
        if view is None:
            return False
        self.tabs.setCurrentWidget(view)
        view.from_weights.setChecked(from_weights)
        return view.start()

    def continue_saved_run(self) -> bool:
        """Train the opened session's first run for as many epochs again (Train more)."""
        session = self.controller.session
        if session is None or not session.runs or self.controller.state != RunState.REPLAY:
            self.statusBar().showMessage("open a session first: there is no saved run to continue", 15000)
            return False
        if not self.controller.train_more(session.runs[0].config.train.epochs):
            return False
        self.tabs.setCurrentIndex(0)
        return True

    # -- sessions ------------------------------------------------------------------------
    def save_session_dialog(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save session", str(self.last_dir() / "session.descent"), "Descent sessions (*.descent)"
        )
        return bool(path) and self.save_session(path)

    def save_session(self, path: str) -> bool:
        if not path.endswith(".descent"):
            path += ".descent"
        try:
            self.controller.save(path)
        except SessionError as e:
            QMessageBox.warning(self, "Save session", str(e))
            return False
        self.add_recent(path)
        self.statusBar().showMessage(f"saved {path}", 8000)
        self.setWindowTitle(f"Descent — {Path(path).name}[*]")
        self.unsaved.mark_saved()
        return True

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open session", str(self.last_dir()), "Descent sessions (*.descent);;All files (*)"
        )
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> bool:
        try:
            self.controller.open(path)
        except SessionError as e:
            QMessageBox.warning(self, "Open session", str(e))
            return False
        self.add_recent(path)
        self.setWindowTitle(f"Descent — {Path(path).name}[*]")
        return True

    def last_dir(self) -> Path:
        """Where file dialogs open: the folder of the most recent session file."""
        recent = self._recent()
        return Path(recent[0]).parent if recent else Path.home()

    def _recent(self) -> list[str]:
        v = self.settings.value("recent_files", [])
        if isinstance(v, str):
            v = [v]
        return [str(x) for x in (v or [])]

    def add_recent(self, path: str) -> None:
        """Put a session file first in File ▸ Open recent."""
        path = str(Path(path).resolve())
        items = [p for p in self._recent() if p != path]
        self.settings.setValue("recent_files", [path] + items[: MAX_RECENT - 1])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        items = self._recent()
        for p in items:
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _=False, p=p: self.open_session(p))
        self.recent_menu.setEnabled(bool(items))

    # -- layout memory and shutdown ------------------------------------------------------
    def _restore_layout(self) -> None:
        geo = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geo is not None:
            self.restoreGeometry(geo)
        if state is not None:
            self.restoreState(state)
        tab = self.settings.value("window/tab")
        if tab is not None:
            self.tabs.setCurrentIndex(int(tab) if int(tab) < self.tabs.count() else 0)

    def install_lessons(self):
        """Add the Lessons dock (once), where the saved layout had it."""
        if self.lessons_dock is None:
            from desktop.lessons.dock import install_lessons

            self.lessons_dock = install_lessons(self)
            if self.isVisible():  # added after the saved layout was restored: its place, then open or not
                self.restoreDockWidget(self.lessons_dock)
                self.lessons_dock.setVisible(self.settings.value("window/lessons", True, type=bool))
        return self.lessons_dock

    def show_tab(self, title: str) -> bool:
        """Show a view by its title (or a group by its name)."""
        return self.tabs.select(title)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.ask_before_quit and not self.quit_guard.allow_close():
            event.ignore()
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        if self.lessons_dock is not None:
            self.settings.setValue("window/lessons", self.lessons_dock.isVisible())
        self.bridge.stop()
        self.autosave.close_cleanly()
        self.controller.shutdown(timeout=1.5)
        for v in self.views:
            v.shutdown()
        event.accept()
