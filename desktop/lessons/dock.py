"""The Lessons dock: a list of lessons by lecture section with their state (not run / ✓ / ✗),
and a lesson page with its text, progress, what to look for and, when done, the check.

One click on a lesson loads its setup into the window and runs it there, live, so the user
watches the claim happen: a run lesson becomes the window's main run (its curves and views
fill in as it trains; it runs as fast as the machine allows, unless the speed slider is moved
while it runs), a comparison runs in the Compare tab, a race in the Playground, an explorer
state in the Init explorer and a coarse-to-fine search in the Search tab. When it is over,
its check is computed from what the window computed (engine.lessons.check_job, off the GUI
thread) and shown in the dock. The panel then holds the lesson's config (a comparison's or a
search's base: what its runs share; the window's main run keeps its own, and the panel marks
where they differ as pending until a restart): the user may change anything and restart,
compare or search again — the lesson only sets the start. Starting other work in the place the
lesson runs (another run, comparison or race) ends the lesson's watch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QGridLayout,
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

from engine.compare import Variant
from engine.compare.layout import comparison_meta
from engine.config import ConfigError
from engine.jobs import Progress
from engine.lessons import Change, Lesson, LessonError, LessonResult, load_lesson_file, shipped_lessons
from engine.lessons.explorer import explorer_session
from engine.lessons.runner import (
    check_job,
    compare_plan,
    explorer_state,
    race_config,
    run_configs,
    search_plan,
    validate_lesson,
    with_checkpoint_weights,
)
from engine.lessons.schema import SECTIONS
from engine.lessons.search import coarse_to_fine
from engine.playground.session import race_to_session
from engine.session import Session, SessionError
from engine.states import RunState
from engine.tuning.storage import session_with_search

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
        view_of: Callable[[str], QWidget | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.show_tab = show_tab
        self.view_of = view_of or (lambda _title: None)
        self.settings = settings
        self.change: Change | None = None
        self.generation = 0  # the lesson being watched; callbacks of an earlier one are ignored
        self.watching = ""  # where the lesson runs: run|compare|playground|explorer|search ("" = nothing)
        self._starting = False  # the lesson itself is starting the window's run or comparison
        self._live_run_id = ""
        self._race = None
        self._race_computed = False
        self._started = 0.0  # perf_counter when the lesson started
        self._slider_speed: float | None = None  # the speed slider's pace when a run lesson started
        self._poll = QTimer(self)
        self._poll.setInterval(200)
        self._poll.timeout.connect(self._poll_progress)
        controller.state_changed.connect(self._on_run_state)
        controller.run_started.connect(self._on_run_started)
        controller.compare.state_changed.connect(self._on_compare_state)
        controller.compare.runs_reset.connect(self._on_compare_reset)
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
        # the view buttons two to a row under "Views:" (three in one row were wider than the
        # dock, and the page's text was cut off at its right edge)
        self.views_row = QGridLayout()
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
        """Show the lesson's page, load its setup into the window and run it there (with
        `change`, e.g. its 'now try'); its check follows when it is over."""
        self._stop_watching()
        self.generation += 1
        self.current, self.result, self.running, self.change = lesson, None, True, change
        self._started = time.perf_counter()
        self._show_lesson_text(lesson, change)
        kind = lesson.setup.kind
        try:
            validate_lesson(lesson)
            if kind != "run" and self.controller.state == RunState.RUNNING:
                self.controller.pause()  # the lesson gets the CPU
            {
                "run": self._start_run,
                "compare": self._start_compare,
                "playground": self._start_race,
                "explorer": self._start_explorer,
                "search": self._start_search,
            }[kind](lesson, change)
        except (LessonError, ConfigError, ValueError) as e:
            self._on_job_error(str(e))
            return
        if lesson.views:
            self.show_tab(lesson.views[0])

    # -- where each kind runs, live ------------------------------------------------------------
    def _start_run(self, lesson: Lesson, change: Change | None) -> None:
        ((_name, cfg),) = run_configs(lesson, change)
        c = self.controller
        c.set_config(cfg)
        self._starting = True
        try:
            c.start()
        finally:
            self._starting = False
        if c.worker is not None:
            c.worker.set_max_steps_per_s(None)  # a lesson runs unpaced; the slider paces it again if moved
        self._slider_speed = c.max_steps_per_s
        self._live_run_id = c.run_id
        self.watching = "run"
        self._poll.start()

    def _start_compare(self, lesson: Lesson, change: Change | None) -> None:
        base, variants = compare_plan(lesson, change)
        self.controller.set_config(base)  # the panel shows what the variants share
        self._starting = True
        try:
            self.controller.compare.start([Variant(name, overrides) for name, overrides in variants], base)
        finally:
            self._starting = False
        self.watching = "compare"
        self._poll.start()

    def _start_race(self, lesson: Lesson, change: Change | None) -> None:
        view = self.view_of("Playground")
        if view is None:
            raise LessonError("this window has no Playground")
        view.cfg = race_config(lesson, change)
        view.restart()
        self._race, self._race_computed = view.race, False
        self.watching = "playground"
        gen = self.generation
        if view.job is not None:
            view.job.over.connect(lambda _h, g=gen, v=view: self._on_race_over(g, v))
        self._poll.start()

    def _start_explorer(self, lesson: Lesson, change: Change | None) -> None:
        view = self.view_of("Init explorer")
        if view is None:
            raise LessonError("this window has no Init explorer")
        base, state = explorer_state(lesson, change)
        self.watching = "explorer"
        self._explorer_state = state
        self.lbl_progress.setText(f"building a {state['depth']}×{state['width']} {state['activation']} network…")
        self.progress.setRange(0, 0)  # busy: one short computation
        view.show_state(state, base)

    def _start_search(self, lesson: Lesson, change: Change | None) -> None:
        base, plan = search_plan(lesson, change)
        self.controller.set_config(base)  # the panel shows what every trial starts from
        view = self.view_of("Search")
        if view is not None:
            view.space_edit.setText(" ".join(plan.space))  # Refine and Search go on from the lesson's space
        job = coarse_to_fine(
            base, list(plan.space), plan.trials, plan.refine_trials, plan.top, plan.around, plan.sampler
        )
        self.watching = "search"
        gen = self.generation
        self.controller.jobs.submit(
            "lesson",
            job,
            lambda snap, g=gen: self._on_search_done(g, snap),
            lambda p, g=gen: self._on_search_progress(g, p),
            lambda msg, g=gen: self._on_job_error(msg) if g == self.generation else None,
        )

    # -- following what runs -------------------------------------------------------------------
    def _stop_watching(self) -> None:
        self.watching = ""
        self._poll.stop()
        self._race = None
        self.progress.setRange(0, 1000)
        self.controller.jobs.cancel("lesson")

    def _lost(self, why: str) -> None:
        """The window's work the lesson watched was replaced by the user's own."""
        if not self.running or not self.watching:
            return
        self._stop_watching()
        self.running = False
        self.progress.hide()
        self.lbl_progress.setText(f"The lesson stopped watching: {why}. Run again to start it over.")
        self.btn_again.setEnabled(True)

    def _poll_progress(self) -> None:
        frac, text = None, ""
        if self.watching == "run":
            t = self.controller.worker.trainer if self.controller.worker is not None else None
            if t is not None:
                total = max(1, t.total_steps)
                paced = self.controller.max_steps_per_s != self._slider_speed  # the slider moved since the start
                pace = "at the speed slider's pace" if paced else "at full speed"
                frac, text = t.step / total, f"training in the window {pace} · epoch {t.epoch} · step {t.step}/{total}"
        elif self.watching == "compare":
            w = self.controller.compare.worker
            trainers = list(w.runner.trainers.values()) if w is not None else []
            if trainers:
                done, total = sum(t.step for t in trainers), max(1, sum(t.total_steps for t in trainers))
                frac, text = done / total, f"{len(trainers)} runs in the Compare tab · step {done}/{total}"
        elif self.watching == "playground" and self._race is not None:
            view = self.view_of("Playground")
            race, steps = self._race, max(1, self._race.cfg.steps)
            shown = min(race.done, getattr(view, "cursor", race.done))
            if self._race_computed and (shown >= race.done or view is None or not view.isVisible() or not view.playing):
                self._check(race_to_session(race))  # the race has been played to its end
                return
            frac, text = shown / steps, f"racing in the Playground · step {shown}/{steps}"
        if frac is not None:
            self._on_job_progress(Progress(min(frac, 0.99), text))

    def _on_run_started(self, run_id: str, _config) -> None:
        if self.watching == "run" and not self._starting and run_id != self._live_run_id:
            self._lost("another run started in the window")

    def _on_run_state(self, state: str, _message: str) -> None:
        if self.watching != "run":
            return
        c = self.controller
        if c.run_id != self._live_run_id:
            self._lost("the window shows other work now")
        elif state in (RunState.FINISHED, RunState.DIVERGED):
            try:
                record = c.current_record()
            except SessionError as e:
                self._on_job_error(str(e))
                return
            if record is None:
                self._on_job_error("the run left no result")
                return
            self._check(Session(runs=[with_checkpoint_weights(record)]))
        elif state in (RunState.STOPPED, RunState.ERROR):
            self._lost(f"the run {'was stopped' if state == RunState.STOPPED else 'failed'}")

    def _on_compare_reset(self) -> None:
        if self.watching == "compare" and not self._starting:
            self._lost("another comparison started")

    def _on_compare_state(self, state: str) -> None:
        if self.watching != "compare":
            return
        if state == RunState.FINISHED:
            try:
                records = [with_checkpoint_weights(r) for r in self.controller.compare.records()]
            except SessionError as e:
                self._on_job_error(str(e))
                return
            meta = {"comparison": comparison_meta(None, [r.name for r in records])}
            self._check(Session(runs=records, meta=meta))
        elif state in (RunState.STOPPED, RunState.ERROR, RunState.CANCELLED):
            self._lost("the comparison was stopped")

    def _on_race_over(self, gen: int, view) -> None:
        race = self._race
        if gen != self.generation or self.watching != "playground" or race is None:
            return
        if view.race is not race or not race.finished:
            self._lost("the race was restarted")
            return
        self._race_computed = True  # the check follows once the Playground has played it (_poll_progress)

    def on_explorer_study(self, study) -> None:
        """The Init explorer showed a study: the lesson's, if it waits for one."""
        if self.watching != "explorer":
            return
        self._check(explorer_session(self._explorer_state, study))

    def _on_search_progress(self, gen: int, p: Progress) -> None:
        if gen != self.generation:
            return
        self._on_job_progress(p)
        view = self.view_of("Search")
        if view is not None and p.preview is not None:
            view.show_live(p.preview, p.message)

    def _on_search_done(self, gen: int, snapshot) -> None:
        if gen != self.generation or self.watching != "search":
            return
        session = session_with_search(snapshot)
        view = self.view_of("Search")
        if view is not None:
            view.load_session(session)
        self._check(session)

    def _check(self, session: Session) -> None:
        """Compute the lesson's check from what the window computed, off the GUI thread."""
        lesson, change, gen = self.current, self.change, self.generation
        assert lesson is not None
        self._stop_watching()
        self.progress.setValue(990)
        self.lbl_progress.setText("checking…")
        self.controller.jobs.submit(
            "lesson",
            check_job(lesson, session, change),
            lambda r, g=gen: self._on_job_result(r) if g == self.generation else None,
            None,
            lambda msg, g=gen: self._on_job_error(msg) if g == self.generation else None,
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
        self.btn_now.setVisible(now is not None and now.runnable)
        self.btn_now.setEnabled(False)
        self.btn_again.setEnabled(False)
        while self.views_row.count():
            w = self.views_row.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.views_row.addWidget(QLabel("Views:"), 0, 0, 1, 2)
        for i, title in enumerate(lesson.views):
            b = QPushButton(title)
            b.setToolTip(f"Show the {title} view")
            b.clicked.connect(lambda _=False, t=title: self.show_tab(t))
            self.views_row.addWidget(b, 1 + i // 2, i % 2)
        self.views_row.setColumnStretch(2, 1)
        self.btn_next.setEnabled(self._next_of(lesson) is not None)
        self.stack.setCurrentWidget(self.lesson_page)

    def _on_job_progress(self, p: Progress) -> None:
        self.progress.setValue(int(p.fraction * 1000))
        self.lbl_progress.setText(p.message)

    def _on_job_error(self, message: str) -> None:
        self._stop_watching()
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
        took = time.perf_counter() - self._started
        self.lbl_progress.setText(f"done in {took:.1f} s (the check took {result.seconds:.1f} s)")
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
    views = {v.title: v for v in getattr(window, "views", [])}
    panel = LessonsPanel(window.controller, window.show_tab, window.settings, view_of=views.get)
    explorer = views.get("Init explorer")
    if explorer is not None:
        explorer.study_done.connect(panel.on_explorer_study)
    dock = LessonsDock(panel, window)
    dock.setMinimumWidth(320)  # beside the panel, the first view keeps ~950 px at 1600 wide
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
    show.setShortcut("Ctrl+L")  # (F1 is Help for this view)

    def show_lessons() -> None:
        dock.show()
        dock.raise_()
        panel.show_list()

    show.triggered.connect(show_lessons)
    return dock
