"""The Search tab: a hyper-parameter search over the panel's config, live, coarse to fine.

The search is the engine's job (engine/tuning/search.py) on the app's job runner; its trials
train in worker processes, so the window stays responsive. Every progress step carries the
search's snapshot, which the table and plots draw (throttled). After a round, "Refine around
the best k" or the rectangle on the picture narrows the space for the next round; rounds keep
their own marker. A trial opens as a normal run (retrained with its seed, with every probe)
or joins the Compare tab.
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.views.base import View
from desktop.views.search_plots import (
    CurvesPlot,
    HistoryPlot,
    ImportancePlot,
    ParallelPlot,
    PicturePlot,
    trial_text,
)
from desktop.views.table_items import NumberItem
from engine.compare.spec import config_differences, flatten_config
from engine.config import ConfigError
from engine.session import Session
from engine.states import RunState
from engine.tuning.snapshot import SearchFileError, SearchSnapshot, TrialRecord
from engine.tuning.space import Param, SearchSpace, SpaceError, choice_label, narrowed_space, parse_space, trial_config
from engine.tuning.storage import search_of, session_with_search

if TYPE_CHECKING:
    from engine.tuning.search import SearchRun, SearchSettings

DEFAULT_SPACE = "optim.lr=log:1e-4:1 optim.weight_decay=log:1e-6:1e-1"
SAMPLERS = ("random", "tpe", "grid", "qmc", "cmaes")


def _num(v: float, fmt: str = "{:.4f}") -> NumberItem:
    return NumberItem(v, fmt.format(v) if math.isfinite(v) else "—")


class SearchView(View):
    title = "Search"
    MIN_REDRAW_S = 0.4

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.snapshot: SearchSnapshot | None = None
        self.run: SearchRun | None = None
        self.params: dict[str, Param] = {}
        self.importance: dict[str, float] = {}
        self.selected: int | None = None
        self._table_keys: list[str] = []
        self._handle = None  # the running round's job
        self._failed: str | None = None  # why the last round's job failed
        self._build()

    # -- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        """Narrow enough for the room the panel and Lessons docks leave at 1700 px (under
        1,000 px): the controls in short rows, the five plots in a 3×2 grid above the trials
        table (a vertical splitter), the trial actions under the table."""
        from engine.tuning.options import PRUNERS, usable_cores

        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.space_edit = QLineEdit(DEFAULT_SPACE)
        self.space_edit.setToolTip(
            "Searched fields, space-separated: KEY=log:a:b, linear:a:b, int:a:b or choice:x,y "
            "(list fields: choice:64;32,32); KEY alone takes its default range"
        )
        row.addWidget(QLabel("Space"))
        row.addWidget(self.space_edit, 1)
        self.start_button = QPushButton("Search")
        self.start_button.clicked.connect(self._on_start_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self._on_stop_clicked)
        self.stop_button.setEnabled(False)
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        lay.addLayout(row)
        row = QHBoxLayout()
        self.trials = self._spin(row, "Trials", 1, 10_000, 20)
        self.sampler = self._combo(row, "Sampler", SAMPLERS)
        self.pruner = self._combo(row, "Prune", PRUNERS)
        self.folds = self._spin(row, "Folds", 1, 20, 1)
        self.jobs_spin = self._spin(row, "Jobs", 1, usable_cores(), min(2, usable_cores()))
        self.ray_edit = QLineEdit()
        self.ray_edit.setPlaceholderText("this machine")
        self.ray_edit.setToolTip(
            "Where the trials run: empty, on this machine in worker processes (Jobs at once); or a Ray "
            "cluster's address (HOST:PORT, ray://HOST:10001, or auto) — then they run there as Ray Tune "
            "trials, on all its CPUs, and stream back here (needs the cluster extra: "
            "pip install 'descent[cluster]'; start a cluster with `ray start --head`)"
        )
        self.ray_edit.setMaximumWidth(170)
        self.ray_edit.textChanged.connect(lambda text: self.jobs_spin.setEnabled(not text.strip()))
        row.addWidget(QLabel("Ray cluster"))
        row.addWidget(self.ray_edit)
        row.addStretch(1)
        lay.addLayout(row)

        self.status = QLabel("No search yet: choose a space and press Search (trials never see the test split).")
        self.status.setWordWrap(True)  # a long progress line wraps instead of widening the tab
        lay.addWidget(self.status)
        row = QHBoxLayout()
        self.top_k = self._spin(row, "Best k", 1, 1000, 5)
        self.refine_best = QPushButton("Refine around the best k")
        self.refine_best.clicked.connect(self._on_refine_best_clicked)
        self.refine_rect = QPushButton("Refine to the rectangle")
        self.refine_rect.clicked.connect(self._on_refine_rect_clicked)
        row.addWidget(self.refine_best)
        row.addWidget(self.refine_rect)
        row.addStretch(1)
        picture_axes = QLabel("Picture:")
        picture_axes.setToolTip("The parameters on the axes of the score picture")
        row.addWidget(picture_axes)
        self.x_combo = self._combo(row, "x", (), max_chars=14)
        self.y_combo = self._combo(row, "y", (), max_chars=14)
        self.x_combo.currentIndexChanged.connect(self._on_axes_changed)
        self.y_combo.currentIndexChanged.connect(self._on_axes_changed)
        lay.addLayout(row)

        self.graphics = pg.GraphicsLayoutWidget()
        self.history = HistoryPlot(self.graphics.addPlot(row=0, col=0))
        self.curves = CurvesPlot(self.graphics.addPlot(row=0, col=1))
        self.picture = PicturePlot(self.graphics.addPlot(row=0, col=2))
        self.parallel = ParallelPlot(self.graphics.addPlot(row=1, col=0, colspan=2))
        self.importance_plot = ImportancePlot(self.graphics.addPlot(row=1, col=2))
        self.picture.scatter.sigClicked.connect(self._on_picture_clicked)
        # the plots' titles and axes need this much: narrower, the tab scrolls instead of clipping them
        grid_min = self.graphics.ci.effectiveSizeHint(Qt.MinimumSize).width()
        self.graphics.setMinimumWidth(math.ceil(grid_min) + 2 * self.graphics.frameWidth())

        self.table = QTableWidget(0, 0)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        self.open_button = QPushButton("Open trial as run")
        self.open_button.clicked.connect(self._on_open_clicked)
        self.compare_button = QPushButton("Send trial to Compare")
        self.compare_button.clicked.connect(self._on_compare_clicked)
        self.test_button = QPushButton("Evaluate best on test")
        self.test_button.setToolTip(
            "Retrain the best trial and measure it once on the test split (recorded in the session); "
            "the search itself never reads the test split"
        )
        self.test_button.clicked.connect(self._on_test_clicked)
        trials = QWidget()
        trials_lay = QVBoxLayout(trials)
        trials_lay.setContentsMargins(0, 0, 0, 0)
        trials_lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        for b in (self.open_button, self.compare_button, self.test_button):
            row.addWidget(b)
        row.addStretch(1)
        trials_lay.addLayout(row)

        split = QSplitter(Qt.Vertical)
        split.addWidget(self.graphics)
        split.addWidget(trials)
        split.setChildrenCollapsible(False)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([450, 300])
        lay.addWidget(split, 1)
        self._update_buttons()

    def _spin(self, row: QHBoxLayout, label: str, lo: int, hi: int, value: int) -> QSpinBox:
        s = QSpinBox()
        s.setRange(lo, hi)
        s.setValue(value)
        row.addWidget(QLabel(label))
        row.addWidget(s)
        return s

    def _combo(self, row: QHBoxLayout, label: str, items, max_chars: int = 0) -> QComboBox:
        """A labelled combo box as wide as its longest item, or, with `max_chars`, as wide as
        that many characters (longer items are elided; the list shows them whole)."""
        c = QComboBox()
        if max_chars:
            c.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            c.setMinimumContentsLength(max_chars)
        else:
            c.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        c.addItems(list(items))
        row.addWidget(QLabel(label))
        row.addWidget(c)
        return c

    # -- starting and stopping -------------------------------------------------------------
    @property
    def searching(self) -> bool:
        return self.run is not None and self.job_running

    def settings(self, space_text: str | None = None) -> SearchSettings:
        """The settings of a new first round from the controls and the panel's config."""
        from engine.tuning.search import SearchSettings

        space = parse_space((space_text if space_text is not None else self.space_edit.text()).split())
        base = self.controller.config
        return SearchSettings(
            base=base,
            space=space,
            trials=self.trials.value(),
            sampler=self.sampler.currentText(),
            pruner=self.pruner.currentText(),
            folds=self.folds.value(),
            jobs=self.jobs_spin.value(),
            study_name="search",
            seed=base.seed,
            in_process=False,
        )

    def start_search(self, settings: SearchSettings) -> bool:
        """Start a round; False (with the reason in the status line) when it cannot start."""
        from engine.tuning.search import SearchError, SearchRun

        if self.searching:
            return False
        address = self.ray_edit.text().strip()
        self._failed = None
        try:
            if address:
                from engine.tuning.ray_backend import RaySearch

                # its job probes the address and imports Ray first, off the GUI thread
                self.run = RaySearch(settings, address, check_now=False)
            else:
                self.run = SearchRun(settings)
        except SearchError as e:
            self._say(str(e), error=True)
            return False
        run = self.run
        self.snapshot = run.snapshot
        self._refresh_params()
        handle = self._handle = self.start_job(
            run.job(), self._on_search_result, self._on_search_error, self._on_search_progress
        )
        handle.over.connect(lambda _h, r=run: self._on_search_over(r))
        where = f"on the Ray cluster at {address}" if address else f"in {settings.jobs} worker process(es)"
        self._say(f"Round {settings.round}: starting {settings.budget} trials {where}…")
        self._update_buttons()
        self._dirty = True
        self.redraw()
        return True

    def _on_start_clicked(self) -> None:
        try:
            self.start_search(self.settings())
        except (SpaceError, ConfigError) as e:
            self._say(str(e), error=True)

    def _on_stop_clicked(self) -> None:
        self.jobs.cancel(self.job_key)
        self._say("Stopping: the running trials end, the finished ones are kept…")

    def _next_round(self, space_params: list[Param], how: str) -> None:
        snap = self.snapshot
        assert snap is not None
        settings = replace(
            self.settings(" ".join(snap.rounds[-1].space)),
            base=snap.base,
            space=SearchSpace(space_params),
            round=snap.rounds[-1].number + 1,
            how=how,
            previous=snap,
            folds=snap.folds,
        )
        self.start_search(settings)

    def _on_refine_best_clicked(self) -> None:
        snap = self.snapshot
        if snap is None or self.searching:
            return
        k = self.top_k.value()
        best = snap.best(k, round=snap.rounds[-1].number) or snap.best(k)
        if not best:
            self._say("No complete trial to refine around.", error=True)
            return
        space = narrowed_space(parse_space(list(snap.rounds[-1].space)), [t.params for t in best])
        self._next_round(space.params, f"refined around the best {len(best)} of round {snap.rounds[-1].number}")

    def _on_refine_rect_clicked(self) -> None:
        snap, rect = self.snapshot, self.picture.rectangle()
        if snap is None or rect is None or self.searching:
            return
        space = parse_space(list(snap.rounds[-1].space))
        out = []
        for p in space.params:
            for axis, (lo, hi) in zip((self.picture.px, self.picture.py), rect):
                if axis is None or axis.key != p.key:
                    continue
                if p.scale == "choice":
                    keep = [c for i, c in enumerate(p.choices) if lo <= i <= hi]
                    p = replace(p, choices=tuple(keep) or p.choices)
                else:
                    a, b = max(p.low, lo), min(p.high, hi)
                    if p.scale == "int":
                        a, b = math.ceil(a), math.floor(b)
                    if b > a:
                        p = replace(p, low=float(a), high=float(b))
            out.append(p)
        self._next_round(out, "refined to the rectangle on the picture")

    # -- job callbacks (GUI thread) ---------------------------------------------------------
    def _on_search_progress(self, p) -> None:
        if p.preview is not None:
            self.snapshot = p.preview
            self.status.setText(f"Round {self.snapshot.rounds[-1].number}: {p.message}{self._best_text()}")
            self._dirty = True
            self.redraw_if_due()

    def _on_search_result(self, snap: SearchSnapshot) -> None:
        self.snapshot = snap

    def _on_search_error(self, message: str) -> None:
        self._failed = message
        self._say(f"Search failed: {message}", error=True)

    def _on_search_over(self, run: SearchRun) -> None:
        if run is not self.run:
            return
        self.snapshot = run.snapshot
        ended = "ended by Stop" if run.snapshot.state == RunState.CANCELLED else "done"
        if self._failed is None:  # (a failure's message stays)
            snap = run.snapshot
            self._say(f"Round {snap.rounds[-1].number} {ended}: {len(snap.finished)} trials{self._best_text()}")
        self._update_buttons()
        self._dirty = True
        self.redraw()
        self._compute_importance()

    def _compute_importance(self) -> None:
        from engine.tuning.analysis import importances

        snap = self.snapshot
        if snap is None:
            return
        key = f"{self.job_key}:importance"
        self.jobs.submit(key, lambda: importances(snap), self._on_importance, on_error=self._on_importance_error)

    def _on_importance(self, values: dict[str, float]) -> None:
        self.importance = values
        self.importance_plot.draw(values)

    def _on_importance_error(self, message: str) -> None:
        self.importance_plot.draw({}, f"importance: {message}")

    # -- drawing ---------------------------------------------------------------------------
    def _best_text(self) -> str:
        best = self.snapshot.best(1) if self.snapshot else []
        if not best:
            return ""
        sd = f" ± {best[0].score_sd:.4f}" if self.snapshot and self.snapshot.folds > 1 else ""
        return f"; best #{best[0].number}: {best[0].score:.4f}{sd} ({trial_text(best[0])})"

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #D55E00;" if error else "")
        if error:
            self.controller.notice.emit(text, "error")

    def _update_buttons(self) -> None:
        busy = self.searching
        has = self.snapshot is not None and bool(self.snapshot.complete)
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        for b in (self.refine_best, self.refine_rect, self.test_button):
            b.setEnabled(has and not busy)
        for b in (self.open_button, self.compare_button):
            b.setEnabled(self.snapshot is not None and self.selected is not None)

    def _refresh_params(self) -> None:
        from engine.tuning.analysis import search_params

        if self.snapshot is None:
            return
        params = search_params(self.snapshot)
        if list(params) == list(self.params):
            self.params = params
            return
        self.params = params
        keys = list(params)
        for combo, default in ((self.x_combo, 0), (self.y_combo, 1)):
            combo.blockSignals(True)
            combo.clear()
            # one parameter: the score over it (y offers "validation loss", which is no parameter)
            combo.addItems(keys + (["validation loss"] if combo is self.y_combo and len(keys) == 1 else []))
            combo.setCurrentIndex(min(default, combo.count() - 1))
            combo.blockSignals(False)
        self._on_axes_changed()

    def _on_axes_changed(self, *_args) -> None:
        px = self.params.get(self.x_combo.currentText())
        py = self.params.get(self.y_combo.currentText())
        self.picture.set_axes(px, py)
        if self.snapshot is not None:
            self.picture.draw(self.snapshot, self.selected)

    def redraw(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        self._refresh_params()
        self._fill_table(snap)
        self.history.draw(snap)
        self.curves.draw(snap)
        self.picture.draw(snap, self.selected)
        self.parallel.draw(snap, self.params)
        if not self.importance:
            self.importance_plot.draw({}, "computed when a round ends")
        self._update_buttons()
        self._mark_drawn()

    def _fill_table(self, snap: SearchSnapshot) -> None:
        keys = list(self.params)
        headers = ["#", "round", "state", *keys, "val loss", "± sd", "val acc", "epochs", "time (s)"]
        t = self.table
        t.setSortingEnabled(False)
        if self._table_keys != headers:
            t.setColumnCount(len(headers))
            t.setHorizontalHeaderLabels(headers)
            self._table_keys = headers
        t.setRowCount(len(snap.trials))
        for r, tr in enumerate(snap.trials):
            cells: list[QTableWidgetItem] = [
                _num(float(tr.number), "{:.0f}"),
                _num(float(tr.round), "{:.0f}"),
                QTableWidgetItem(tr.state.value),
            ]
            for k in keys:
                v = tr.params.get(k)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    cells.append(_num(float(v), "{:.4g}"))
                else:
                    cells.append(QTableWidgetItem("" if v is None else str(choice_label(v))))
            cells += [
                _num(tr.score),
                _num(tr.score_sd),
                _num(tr.val_acc, "{:.3f}"),
                _num(float(tr.epochs), "{:.0f}"),
                _num(tr.duration_s, "{:.1f}" if tr.duration_s >= 1 else "{:.2g}"),  # short trials: not all "0.0"
            ]
            if tr.message:
                cells[2].setToolTip(tr.message)
            for c, item in enumerate(cells):
                item.setData(Qt.UserRole, tr.number)
                t.setItem(r, c, item)
        t.setSortingEnabled(True)
        t.resizeColumnsToContents()

    # -- selection and trial actions --------------------------------------------------------
    def _on_table_selection(self) -> None:
        items = self.table.selectedItems()
        self.selected = items[0].data(Qt.UserRole) if items else None
        self._update_buttons()
        if self.snapshot is not None:
            self.picture.draw(self.snapshot, self.selected)

    def _on_picture_clicked(self, _item, points, *_args) -> None:
        if points is None or len(points) == 0:
            return
        self.select_trial(int(points[0].data()))

    def select_trial(self, number: int) -> None:
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None and item.data(Qt.UserRole) == number:
                self.table.selectRow(r)
                return

    def _trial(self) -> TrialRecord | None:
        if self.snapshot is None or self.selected is None:
            return None
        return next((t for t in self.snapshot.trials if t.number == self.selected), None)

    def open_trial(self, number: int | None = None) -> bool:
        """Retrain a trial as the main run: its config and seed (identical training, every probe)."""
        if number is not None:
            self.selected = number
        t, snap = self._trial(), self.snapshot
        if t is None or snap is None:
            return False
        config, _notes = trial_config(snap.base, t.params)
        self.controller.set_config(config)
        self.controller.restart()
        self._say(f"Trial #{t.number} opened as the run: retrained with its seed, with every probe.")
        return True

    def _on_test_clicked(self) -> None:
        from engine.tuning.evaluate import evaluate_best_on_test

        snap = self.snapshot
        if snap is None or self.searching:
            return
        if snap.base.data.test_fraction <= 0:
            self._say(
                "This search has no test split (data.test_fraction is 0): set one in the panel and search again "
                "(the training data changes with it).",
                error=True,
            )
            return
        self._say(f"Retraining trial #{snap.best(1)[0].number} to measure it on the test split…")
        self.jobs.submit(
            f"{self.job_key}:test", lambda: evaluate_best_on_test(snap), self._on_tested, on_error=self._on_search_error
        )

    def _on_tested(self, snap: SearchSnapshot) -> None:
        self.snapshot = snap
        ev = snap.test_evaluation or {}
        loss = "n/a" if ev.get("test_loss") is None else f"{ev['test_loss']:.4f}"
        self._say(
            f"Trial #{ev.get('trial')} on the test split ({ev.get('n_test')} samples, done once): test loss {loss}, "
            f"test acc {ev.get('test_acc', math.nan):.3f}; "
            f"validation loss in the search {ev.get('val_loss', math.nan):.4f}"
        )

    def _on_open_clicked(self) -> None:
        self.open_trial()

    def _on_compare_clicked(self) -> None:
        t, snap = self._trial(), self.snapshot
        if t is None or snap is None:
            return
        config, _notes = trial_config(snap.base, t.params)
        compare = self.controller.compare
        base = compare.spec.base if compare.spec is not None else self.controller.config
        diffs = config_differences([base, config])
        overrides = {k: v[1] for k, v in diffs.items()}
        overrides = {k: v for k, v in overrides.items() if k in flatten_config(config)}
        try:
            compare.add_variant(f"trial {t.number}", overrides)
        except ConfigError as e:
            self._say(str(e), error=True)
            return
        self._say(f"Trial #{t.number} sent to the Compare tab.")

    # -- sessions --------------------------------------------------------------------------
    def show_live(self, snapshot: SearchSnapshot, message: str) -> None:
        """Show a search that runs elsewhere (a lesson's coarse-to-fine job) as it goes."""
        self.run, self.snapshot = None, snapshot
        self.status.setText(f"Round {snapshot.rounds[-1].number}: {message}{self._best_text()}")
        self._dirty = True
        self.redraw_if_due()

    def load_session(self, session: Session) -> None:
        try:
            snap = search_of(session)
        except SearchFileError as e:
            self.controller.notice.emit(f"the saved search cannot be read: {e}", "error")
            return
        if snap is None:
            return
        self.jobs.cancel(self.job_key)
        self.run, self.snapshot, self.importance, self.selected = None, snap, {}, None
        rounds = f"{len(snap.rounds)} round{'s' if len(snap.rounds) > 1 else ''}"
        self._say(f"Saved search '{snap.study_name}': {len(snap.trials)} trials, {rounds}{self._best_text()}")
        self._dirty = True
        self.redraw()
        self._compute_importance()

    def save_into(self, session: Session) -> None:
        if self.snapshot is not None:
            session_with_search(self.snapshot, session)

    def shutdown(self) -> None:
        self.jobs.cancel(self.job_key)
        self.jobs.cancel(f"{self.job_key}:importance")
        if self._handle is not None:
            self._handle.wait(10.0)  # the job's finally ends the busy worker processes
        worker = sys.modules.get("engine.tuning.worker")  # loaded if a search ran (it imports torch)
        if worker is not None:
            worker.POOL.shutdown()  # and the idle, warm ones
