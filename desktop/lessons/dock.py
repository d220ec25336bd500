"""The Lessons dock: a list of lessons by lecture section with their state (not run / ✓ / ✗),
and a lesson page with its text, progress, what to look for and, when done, the check.

One click on a lesson runs it as an engine job (engine.lessons.lesson_job) on the app's job
runner, then shows its result in the main window like an opened session and brings its
first view forward. The panel then holds the lesson's config: the user may change
anything and restart — the lesson only sets the start.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.jobs import Progress
from engine.lessons import Change, Lesson, LessonError, LessonResult, lesson_job, load_lesson_file, shipped_lessons
from engine.lessons.schema import SECTIONS
from engine.states import RunState

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

NOT_RUN, PASSED, FAILED = "not run", "✓", "✗"
OWN_SECTION = "Your lessons"
PASS_COLOR, FAIL_COLOR = "#009E73", "#D55E00"


def _label(text: str = "", style: str = "") -> QLabel:
    lbl = QLabel(text)
    lbl.setWordWrap(True)
    lbl.setTextFormat(Qt.PlainText)
    if style:
        lbl.setStyleSheet(style)
    return lbl


class LessonsPanel(QWidget):
    """The dock's content: the list page and the lesson page."""

    def __init__(
        self,
        controller,
        show_tab: Callable[[str], bool],
        settings: QSettings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.show_tab = show_tab
        self.settings = settings
        self.lessons: list[Lesson] = []
        self.own: list[Lesson] = []
        self.current: Lesson | None = None
        self.result: LessonResult | None = None
        self.running = False
        self.stack = QStackedWidget()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.stack)
        self._build_list_page()
        self._build_lesson_page()
        self.load_shipped()

    # -- pages -----------------------------------------------------------------------------
    def _build_list_page(self) -> None:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        intro = _label(
            "Each lesson sets up one claim of the lecture, runs it and checks whether it showed. "
            "Click a lesson to run it."
        )
        lay.addWidget(intro)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Lesson", "State"])
        self.tree.setColumnCount(2)
        self.tree.setRootIsDecorated(True)
        self.tree.setWordWrap(True)
        self.tree.setUniformRowHeights(False)
        self.tree.setTextElideMode(Qt.ElideRight)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, self.tree.header().ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, self.tree.header().ResizeMode.ResizeToContents)
        self.tree.itemClicked.connect(self._on_tree_clicked)
        lay.addWidget(self.tree, 1)
        self.summary = _label("", "color: #555;")
        lay.addWidget(self.summary)
        self.btn_open_file = QPushButton("Open lesson file…")
        self.btn_open_file.clicked.connect(self.open_lesson_dialog)
        lay.addWidget(self.btn_open_file)
        self.stack.addWidget(page)
        self.list_page = page

    def _build_lesson_page(self) -> None:
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 6, 0)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)
        self.lbl_section = _label("", "color: #555;")
        self.lbl_title = _label("", "font-size: 15px; font-weight: bold;")
        self.lbl_text = _label()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.lbl_progress = _label("", "color: #555;")
        self.lbl_look = _label("What to look for", "font-weight: bold; margin-top: 6px;")
        self.lbl_bullets = _label()
        self.lbl_check = _label("", "font-size: 13px; padding: 6px; border-radius: 4px;")
        self.lbl_value = _label("", "color: #555;")
        self.lbl_now = _label("", "margin-top: 6px;")
        self.views_row = QHBoxLayout()
        self.views_row.setContentsMargins(0, 0, 0, 0)
        views_box = QWidget()
        views_box.setLayout(self.views_row)
        for w in (
            self.lbl_section,
            self.lbl_title,
            self.lbl_text,
            self.progress,
            self.lbl_progress,
            views_box,
            self.lbl_look,
            self.lbl_bullets,
            self.lbl_check,
            self.lbl_value,
            self.lbl_now,
        ):
            lay.addWidget(w)
        self.btn_now = QPushButton("Now try it")
        self.btn_now.clicked.connect(self.run_now_try)
        lay.addWidget(self.btn_now)
        lay.addStretch(1)
        row = QHBoxLayout()
        self.btn_back = QPushButton("◀ Lessons")
        self.btn_again = QPushButton("Run again")
        self.btn_next = QPushButton("Next lesson ▶")
        self.btn_back.clicked.connect(self.show_list)
        self.btn_again.clicked.connect(lambda: self.run_lesson(self.current) if self.current else None)
        self.btn_next.clicked.connect(self.next_lesson)
        for b in (self.btn_back, self.btn_again, self.btn_next):
            row.addWidget(b)
        outer.addLayout(row)
        self.stack.addWidget(page)
        self.lesson_page = page

    # -- the list --------------------------------------------------------------------------
    def load_shipped(self) -> None:
        try:
            self.lessons = shipped_lessons()
        except LessonError as e:
            self.lessons = []
            self.summary.setText(f"The shipped lessons cannot be read: {e}")
        self.refresh_list()

    def all_lessons(self) -> list[Lesson]:
        return [*self.lessons, *self.own]

    def state_of(self, lesson: Lesson) -> str:
        return str(self.settings.value(f"lessons/state/{lesson.id}", NOT_RUN))

    def refresh_list(self) -> None:
        self.tree.clear()
        groups: dict[str, list[Lesson]] = {}
        for lesson in self.lessons:
            groups.setdefault(lesson.section_title, []).append(lesson)
        if self.own:
            groups[OWN_SECTION] = list(self.own)
        for title in [f"{n}. {s}" for n, s in SECTIONS.items()] + [OWN_SECTION]:
            if title not in groups:
                continue
            head = QTreeWidgetItem([title, ""])
            font = head.font(0)
            font.setBold(True)
            head.setFont(0, font)
            head.setFlags(head.flags() & ~Qt.ItemIsSelectable)
            self.tree.addTopLevelItem(head)
            for lesson in groups[title]:
                state = self.state_of(lesson)
                item = QTreeWidgetItem([f"{lesson.title}\n{lesson.summary}", state])
                item.setToolTip(0, f"{lesson.title}: {lesson.summary}")
                item.setData(0, Qt.UserRole, lesson.id)
                if state in (PASSED, FAILED):
                    item.setForeground(1, QColor(PASS_COLOR if state == PASSED else FAIL_COLOR))
                head.addChild(item)
            head.setExpanded(True)
        done = sum(self.state_of(lesson) == PASSED for lesson in self.all_lessons())
        self.summary.setText(f"{len(self.all_lessons())} lessons · {done} shown ✓")

    def lesson_by_id(self, lesson_id: str) -> Lesson | None:
        return next((lesson for lesson in self.all_lessons() if lesson.id == lesson_id), None)

    def _on_tree_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        lesson = self.lesson_by_id(str(item.data(0, Qt.UserRole) or ""))
        if lesson is not None:
            self.run_lesson(lesson)

    def show_list(self) -> None:
        self.refresh_list()
        self.stack.setCurrentWidget(self.list_page)

    # -- a teacher's file --------------------------------------------------------------------
    def open_lesson_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open lesson", str(Path.home()), "Lessons (*.toml);;All files (*)")
        if path:
            self.open_lesson_file(path)

    def open_lesson_file(self, path: str | Path) -> Lesson | None:
        """Add a teacher's lesson file to the list and run it; a bad file is refused with its message."""
        try:
            lesson = load_lesson_file(path)
        except LessonError as e:
            QMessageBox.warning(self, "Open lesson", str(e))
            return None
        self.own = [x for x in self.own if x.id != lesson.id] + [lesson]
        self.lessons = [x for x in self.lessons if x.id != lesson.id]
        self.refresh_list()
        self.run_lesson(lesson)
        return lesson

    # -- running -----------------------------------------------------------------------------
    def run_now_try(self) -> None:
        if self.current is not None and self.current.now_try is not None:
            self.run_lesson(self.current, self.current.now_try)

    def run_lesson(self, lesson: Lesson, change: Change | None = None) -> None:
        """Show the lesson's page and run it (with `change`, e.g. its 'now try')."""
        self.current, self.result, self.running = lesson, None, True
        if self.controller.state == RunState.RUNNING:
            self.controller.pause()  # the lesson gets the CPU
        self._show_lesson_text(lesson, change)
        self.controller.jobs.submit(
            "lesson", lesson_job(lesson, change), self._on_job_result, self._on_job_progress, self._on_job_error
        )

    def _show_lesson_text(self, lesson: Lesson, change: Change | None) -> None:
        self.lbl_section.setText(f"Lecture §{lesson.section_title}")
        self.lbl_title.setText(lesson.title + (f"  —  now trying: {change.text}" if change else ""))
        self.lbl_text.setText(" ".join(lesson.explanation.split()))
        self.lbl_bullets.setText("\n".join(f"•  {b}" for b in lesson.look_for))
        self.progress.setValue(0)
        self.progress.show()
        self.lbl_progress.setText("setting up…")
        self.lbl_check.setText("")
        self.lbl_check.hide()
        self.lbl_value.setText("")
        now = lesson.now_try
        self.lbl_now.setText(f"Now try: {now.text}" if now is not None else "")
        self.lbl_now.setVisible(now is not None)
        self.btn_now.setVisible(now is not None and bool(now.set or now.variants or now.race or now.check_args))
        self.btn_now.setEnabled(False)
        self.btn_again.setEnabled(False)
        while self.views_row.count():
            w = self.views_row.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.views_row.addWidget(QLabel("Views:"))
        for title in lesson.views:
            b = QPushButton(title)
            b.setToolTip(f"Show the {title} view")
            b.clicked.connect(lambda _=False, t=title: self.show_tab(t))
            self.views_row.addWidget(b)
        self.views_row.addStretch(1)
        self.btn_next.setEnabled(self._next_of(lesson) is not None)
        self.stack.setCurrentWidget(self.lesson_page)

    def _on_job_progress(self, p: Progress) -> None:
        self.progress.setValue(int(p.fraction * 1000))
        self.lbl_progress.setText(p.message)

    def _on_job_error(self, message: str) -> None:
        self.running = False
        self.progress.hide()
        self.lbl_progress.setText("")
        self._show_check(f"The lesson could not run: {message}", FAIL_COLOR)
        self.btn_again.setEnabled(True)

    def _on_job_result(self, result: LessonResult) -> None:
        self.running = False
        self.result = result
        lesson = result.lesson
        self.progress.setValue(1000)
        self.progress.hide()
        self.lbl_progress.setText(f"done in {result.seconds:.1f} s")
        self.controller.show_session(result.session)
        if lesson.views:
            self.show_tab(lesson.views[0])
        mark = PASSED if result.passed else FAILED
        self._show_check(f"{mark}  {result.sentence}", PASS_COLOR if result.passed else FAIL_COLOR)
        value = f"{result.value:.4g}" if math.isfinite(result.value) else str(result.value)
        bound = f"> {lesson.check.above:g}" if lesson.check.above is not None else f"< {lesson.check.below:g}"
        self.lbl_value.setText(f"{lesson.check.metric} = {value}   (the claim shows when {bound})")
        if not result.changed:
            self.settings.setValue(f"lessons/state/{lesson.id}", mark)
        self.btn_now.setEnabled(True)
        self.btn_again.setEnabled(True)

    def _show_check(self, text: str, color: str) -> None:
        self.lbl_check.setText(text)
        self.lbl_check.setStyleSheet(
            f"font-size: 13px; padding: 6px; border-radius: 4px; color: white; background: {color};"
        )
        self.lbl_check.show()

    def _next_of(self, lesson: Lesson) -> Lesson | None:
        ordered = self.all_lessons()
        ids = [x.id for x in ordered]
        if lesson.id not in ids:
            return None
        i = ids.index(lesson.id)
        return ordered[i + 1] if i + 1 < len(ordered) else None

    def next_lesson(self) -> None:
        if self.current is not None and (nxt := self._next_of(self.current)) is not None:
            self.run_lesson(nxt)


class LessonsDock(QDockWidget):
    """The dock holding the LessonsPanel (`panel`)."""

    def __init__(self, panel: LessonsPanel, parent: QWidget) -> None:
        super().__init__("Lessons", parent)
        self.panel = panel
        self.setObjectName("dock:lessons")
        self.setWidget(panel)


def install_lessons(window: MainWindow) -> LessonsDock:
    """Add the Lessons dock to the main window (right side, open), File ▸ Open lesson… and
    Help ▸ Lessons."""
    panel = LessonsPanel(window.controller, window.show_tab, window.settings)
    dock = LessonsDock(panel, window)
    dock.setMinimumWidth(420)
    window.addDockWidget(Qt.RightDockWidgetArea, dock)
    file_menu = getattr(window, "file_menu", None)
    if file_menu is not None:
        act = QAction("Open lesson…", window)
        act.triggered.connect(panel.open_lesson_dialog)
        quit_action = getattr(window, "act_quit", None)
        file_menu.insertAction(quit_action, act) if quit_action is not None else file_menu.addAction(act)
    menu_bar = window.menuBar()
    help_menu = next((a.menu() for a in menu_bar.actions() if a.text() == "&Help" and a.menu()), None)
    if help_menu is None:
        help_menu = menu_bar.addMenu("&Help")
    show = help_menu.addAction("Lessons")
    show.setShortcut("F1")

    def show_lessons() -> None:
        dock.show()
        dock.raise_()
        panel.show_list()

    show.triggered.connect(show_lessons)
    return dock
