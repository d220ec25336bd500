"""The Compare tab: runs of one experiment side by side, one colour per run everywhere.

Small multiples per metric (each plot overlays every run), a sortable table of final and
best metrics, and per-run histograms side by side when the runs record probes. Runs are
added (a variant: dotted overrides) or removed while the others keep training.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.compare_controller import CompareController
from desktop.export.plot_menu import add_plot_context_menu
from desktop.export.plots import COMPARISON_PLOTS
from desktop.jobs import runner_for
from desktop.plotting import color, run_pen, style_plot
from desktop.views.base import View
from desktop.views.compare_line import RunLinePanel
from desktop.views.compare_surface import SharedSurfacePanel
from desktop.views.curves import RunCurves
from desktop.views.empty_state import EmptyState
from desktop.views.table_items import NumberItem
from engine.compare.layout import comparison_session, is_comparison, run_colors
from engine.config import OPTIMIZERS, ConfigError, parse_set_args
from engine.events import Event, series_events
from engine.probes.snapshot import ProbeSnapshot
from engine.probes.snapshot import from_record as probes_of
from engine.states import RunState, parse_state

DEFAULT_OPTIMIZERS = ("sgd", "momentum", "adam")
TABLE_COLUMNS = [
    ("run", None),
    ("state", None),
    ("epoch", None),
    ("train\nloss", "train_loss"),
    ("val\nloss", "val_loss"),
    ("val\nacc", "val_acc"),
    ("best val\nloss", "best_val_loss"),
    ("best val\nacc", "best_val_acc"),
]  # two-line headers: every column fits the table's pane


class ComparedRun:
    """One run's curves, latest histograms and plot items."""

    def __init__(self, run_id: str, name: str, color_index: int) -> None:
        self.run_id, self.name, self.color_index = run_id, name, color_index
        self.curves = RunCurves(0.9)
        self.state: RunState = RunState.BUILDING
        self.hist: dict[str, dict[str, np.ndarray]] = {}  # group → {"hist": (L,bins), "range": (L,2)}
        self.layer_labels: list[str] = []
        self.items: dict[str, pg.PlotDataItem] = {}

    @property
    def color(self) -> str:
        return color(self.color_index)

    def metric(self, key: str) -> float:
        e = self.curves.epoch
        if key in ("train_loss", "val_loss", "val_acc"):
            a = e[key].view()
            return float(a[-1]) if len(a) else math.nan
        a = e["val_loss" if key == "best_val_loss" else "val_acc"].view()
        a = a[np.isfinite(a)]
        if not len(a):
            return math.nan
        return float(a.min() if key == "best_val_loss" else a.max())


class CompareView(View):
    title = "Compare"
    own_work = "comparison"
    MIN_REDRAW_S = 0.15

    def __init__(self, controller, parent: QWidget | None = None, compare: CompareController | None = None) -> None:
        super().__init__(controller, parent)
        self.compare: CompareController = compare if compare is not None else controller.compare
        self.runs: dict[str, ComparedRun] = {}
        self.loaded_session = None  # a replayed comparison (kept to save it again)
        self.compare.runs_reset.connect(self._on_compare_runs_reset)
        self.compare.run_added.connect(self._on_compare_run_added)
        self.compare.run_removed.connect(self._on_compare_run_removed)
        self.compare.run_state.connect(self._on_compare_run_state)
        self.compare.run_finished.connect(lambda rid, _f: self._on_compare_run_state(rid, self.compare.states[rid]))
        self.compare.state_changed.connect(self._on_compare_state_changed)
        self._build_controls()
        self._build_plots()
        self._build_table()
        self._build_histograms()
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.glw)
        self.bottom = bottom = QSplitter(Qt.Horizontal)
        self._table_need = 0  # the table pane's width when last fitted to its columns
        bottom.addWidget(self.table)
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.hist_box, "Histograms")
        jobs = runner_for(controller)
        self.surface_panel = SharedSurfacePanel(self._records_for_surface, self._colors_by_name, jobs)
        self.side_tabs.addTab(self.surface_panel, "Shared loss surface")
        self.line_panel = RunLinePanel(
            self._records_for_surface, self._colors_by_name, lambda: [r.name for r in self.runs.values()], jobs
        )
        self.side_tabs.addTab(self.line_panel, "Line between runs")
        bottom.addWidget(self.side_tabs)
        split.addWidget(bottom)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        bottom.setSizes([560, 440])  # the table's columns whole at the default window size
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(self.controls1)
        lay.addLayout(self.controls1b)
        lay.addLayout(self.controls2)
        lay.addWidget(split, 1)
        self.empty = EmptyState(split)
        self._show_empty()
        for cb in self.opt_boxes.values():  # the button names the checked optimizers
            cb.toggled.connect(lambda _on: self._show_empty())

    def _show_empty(self) -> None:
        """No runs: say what a comparison is, with the button that starts one."""
        if self.runs:
            self.empty.clear()
            return
        names = self.checked_optimizers() or list(DEFAULT_OPTIMIZERS)
        listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
        self.empty.show_message(
            "No comparison yet: Compare trains one run per optimizer from the same init on the same "
            "batches, and overlays them here.",
            f"Compare {listed}",
            self.compare_checked_optimizers,
        )

    # -- widgets -------------------------------------------------------------------------
    def _build_controls(self) -> None:
        c1 = QHBoxLayout()
        c1.addWidget(QLabel("<b>Compare optimizers:</b>"))
        self.opt_boxes: dict[str, QCheckBox] = {}
        for name in OPTIMIZERS:
            cb = QCheckBox(name)
            cb.setChecked(name in DEFAULT_OPTIMIZERS)
            self.opt_boxes[name] = cb
            c1.addWidget(cb)
        self.btn_compare = QPushButton("Run comparison")
        self.btn_compare.setToolTip(
            "One run per checked optimizer, all from the panel's settings and the same "
            "seed: same initial weights, same minibatches"
        )
        self.btn_compare.clicked.connect(self.compare_checked_optimizers)
        c1.addWidget(self.btn_compare)
        c1.addStretch(1)
        # the comparison's own controls on a row of their own: with the optimizers beside them
        # the row needed ~1,150 px, more than the docks leave at 1600 px (the tab scrolled sideways)
        c1b = QHBoxLayout()
        self.btn_pause = QPushButton("Pause comparison")
        self.btn_pause.setToolTip("Pause or resume the comparison's runs (the toolbar acts on the main run)")
        self.btn_pause.clicked.connect(self._on_pause_clicked)
        self.btn_stop = QPushButton("Stop comparison")
        self.btn_stop.setToolTip("Stop the comparison's runs, keeping their data (the toolbar acts on the main run)")
        self.btn_stop.clicked.connect(self.compare.stop)
        c1b.addWidget(self.btn_pause)
        c1b.addWidget(self.btn_stop)
        self.lbl_state = QLabel("no comparison")
        c1b.addWidget(self.lbl_state, 1)
        c2 = QHBoxLayout()
        c2.addWidget(QLabel("Add a run:"))
        self.ed_name = QLineEdit()
        self.ed_name.setPlaceholderText("name (optional)")
        self.ed_name.setMaximumWidth(140)
        self.ed_overrides = QLineEdit()
        self.ed_overrides.setPlaceholderText("overrides, e.g. optim.name=adam, optim.lr=0.003, model.dropout=0.2")
        self.ed_overrides.returnPressed.connect(self._on_add_clicked)
        self.btn_add = QPushButton("Add")
        self.btn_add.clicked.connect(self._on_add_clicked)
        self.btn_remove = QPushButton("Remove selected")
        self.btn_remove.clicked.connect(self._on_remove_clicked)
        self.lbl_message = QLabel("")
        for w in (self.ed_name, self.ed_overrides, self.btn_add, self.btn_remove):
            c2.addWidget(w)
        c2.addWidget(self.lbl_message, 1)
        self.controls1, self.controls1b, self.controls2 = c1, c1b, c2

    def _build_plots(self) -> None:
        self.glw = pg.GraphicsLayoutWidget()
        self.plots: dict[str, pg.PlotItem] = {}
        for i, (key, title, _series, xlabel, ylabel, logy) in enumerate(COMPARISON_PLOTS):
            p = self.glw.addPlot(row=i // 3, col=i % 3)
            style_plot(p, title, xlabel, ylabel)
            p.getAxis("left").setWidth(52)
            if logy:
                p.setLogMode(y=True)
            self.plots[key] = p
        self.plots["val_acc"].setYRange(0, 1.02)
        self.legend = self.plots["loss"].addLegend(offset=(-10, 10), labelTextSize="8pt")

    def _build_table(self) -> None:
        t = QTableWidget(0, len(TABLE_COLUMNS))
        t.setHorizontalHeaderLabels([h for h, _ in TABLE_COLUMNS])
        t.setSortingEnabled(True)
        t.setSelectionBehavior(QTableWidget.SelectRows)
        t.setEditTriggers(QTableWidget.NoEditTriggers)
        t.verticalHeader().setVisible(False)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        t.horizontalHeader().setStretchLastSection(True)
        self.table = t

    def _build_histograms(self) -> None:
        self.hist_box = QWidget()
        lay = QVBoxLayout(self.hist_box)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Histograms:"))
        self.cb_group = QComboBox()
        for g, label in (("act", "activations"), ("grad", "weight gradients"), ("weight", "weights")):
            self.cb_group.addItem(label, g)
        self.cb_layer = QComboBox()
        self.cb_group.currentIndexChanged.connect(lambda _i: self._redraw_histograms())
        self.cb_layer.currentIndexChanged.connect(lambda _i: self._redraw_histograms())
        row.addWidget(self.cb_group)
        row.addWidget(self.cb_layer)
        row.addStretch(1)
        lay.addLayout(row)
        self.hist_glw = pg.GraphicsLayoutWidget()
        lay.addWidget(self.hist_glw, 1)
        self.hist_note = QLabel("no comparison yet: histograms show once runs record probes")
        self.hist_note.setWordWrap(True)  # a long note wraps instead of widening the side pane
        lay.addWidget(self.hist_note)
        self.hist_plots: dict[str, tuple[pg.PlotItem, pg.PlotDataItem]] = {}

    def _records_for_surface(self) -> list:
        if self.compare.worker is not None:
            removed = {self.compare.name_of(r) for r, st in self.compare.states.items() if st == RunState.REMOVED}
            return [r for r in self.compare.records() if r.name not in removed]
        if self.loaded_session is not None:
            shown = {r.name for r in self.runs.values()}
            return [r for r in self.loaded_session.runs if r.name in shown]
        return []

    def _colors_by_name(self) -> dict[str, int]:
        return {r.name: r.color_index for r in self.runs.values()}

    # -- commands ------------------------------------------------------------------------
    def checked_optimizers(self) -> list[str]:
        return [n for n, cb in self.opt_boxes.items() if cb.isChecked()]

    def compare_checked_optimizers(self) -> bool:
        """The "Compare optimizers" action: one run per checked optimizer, started at once."""
        return self._guard(lambda: self.compare.compare_optimizers(self.checked_optimizers()))

    def _guard(self, fn) -> bool:
        try:
            fn()
        except ConfigError as e:
            self.lbl_message.setText(f"<span style='color:#D55E00'>{e}</span>")
            return False
        self.lbl_message.setText("")
        return True

    def _on_add_clicked(self) -> None:
        text = self.ed_overrides.text().strip()

        def add() -> None:
            pairs = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
            # a value containing commas (model.hidden=32,32) continues the previous pair
            merged: list[str] = []
            for p in pairs:
                if "=" in p or not merged:
                    merged.append(p)
                else:
                    merged[-1] += "," + p
            overrides = parse_set_args(merged)
            name = self.ed_name.text().strip() or " ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in overrides.items())
            self.compare.add_variant(name or "base", overrides)

        if self._guard(add):
            self.ed_overrides.clear()
            self.ed_name.clear()

    def _on_remove_clicked(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedItems()})
        for r in rows:
            item = self.table.item(r, 0)
            if item is not None:
                self.compare.remove(item.data(Qt.UserRole))

    def _on_pause_clicked(self) -> None:
        if self.compare.state == RunState.RUNNING:
            self.compare.pause()
        else:
            self.compare.resume()

    # -- controller signals --------------------------------------------------------------
    def _on_compare_runs_reset(self) -> None:
        for rid in list(self.runs):
            self._drop(rid)
        self.loaded_session = None
        self.surface_panel.clear()
        self.line_panel.clear()
        self.line_panel.sync_runs()

    def _on_compare_run_added(self, rid: str, ci: int, _cfg) -> None:
        if rid in self.runs:
            self._drop(rid)
        self._add_run(rid, self.compare.name_of(rid), ci)

    def _add_run(self, rid: str, name: str, ci: int) -> ComparedRun:
        run = ComparedRun(rid, name, ci)
        self.empty.clear()
        for key, _t, series, *_ in COMPARISON_PLOTS:
            run.items[key] = self.plots[key].plot(
                pen=run_pen(ci),
                name=name if key == "loss" else None,
                symbol="o" if series.startswith("epoch/") else None,
                symbolSize=4,
                symbolBrush=run.color,
                symbolPen=None,
            )
        self.runs[rid] = run
        self._refresh_table()
        self._sync_hist_plots()
        self.line_panel.sync_runs()
        return run

    def _drop(self, rid: str) -> None:
        run = self.runs.pop(rid, None)
        if run is None:
            return
        for key, item in run.items.items():
            self.plots[key].removeItem(item)
            if key == "loss":
                self.legend.removeItem(item)
        self._refresh_table()
        self._sync_hist_plots()
        self.line_panel.sync_runs()
        self._show_empty()

    def _on_compare_run_removed(self, rid: str) -> None:
        self._drop(rid)

    def _on_compare_run_state(self, rid: str, state: str) -> None:
        run = self.runs.get(rid)
        if run is not None:
            run.state = parse_state(state)
            self._dirty = True

    def _on_compare_state_changed(self, state: str) -> None:
        n = len(self.runs)
        self.lbl_state.setText(f"comparison: <b>{state}</b> · {n} run{'s' if n != 1 else ''}")
        self.btn_pause.setText("Pause comparison" if state == RunState.RUNNING else "Resume comparison")
        if state != RunState.RUNNING:
            # the table and curves as the comparison ended, drawn at once beside its new state
            # (by handle_events once the rest of this batch is in, or the bridge's next idle tick)
            self.draw_at_once()

    # -- events --------------------------------------------------------------------------
    def handle_events(self, events: list[Event]) -> None:
        self.compare.process(events)
        changed = self._dirty
        for e in events:
            run = self.runs.get(e.run_id)
            if run is None:
                continue
            if run.curves.add(e):
                changed = True
            elif isinstance(e, ProbeSnapshot):
                self._show_probe(run, e)
                changed = True
        self._dirty = changed
        self.redraw_if_due()  # visible only, at most every MIN_REDRAW_S (View)

    @staticmethod
    def _show_probe(run, snap: ProbeSnapshot) -> None:
        """A run's latest probe (live or saved): its histograms and layer labels."""
        run.hist = {g: {"hist": snap.group(g).hist, "range": snap.group(g).range} for g in ("act", "grad", "weight")}
        run.layer_labels = snap.layers.labels("act")
        run.weight_labels = snap.layers.labels("weight")

    def redraw(self) -> None:
        self._mark_drawn()
        for run in self.runs.values():
            c = run.curves
            x = c.step.view()
            ex = np.arange(1, len(c.epoch_step) + 1, dtype=np.float64)
            data = {
                "loss": (x, c.loss_ema.out.view()),
                "lr": (x, c.lr.view()),
                "grad_norm": (x, c.grad_norm.view()),
                "val_loss": (ex, c.epoch["val_loss"].view()),
                "val_acc": (ex, c.epoch["val_acc"].view()),
                "train_loss": (ex, c.epoch["train_loss"].view()),
            }
            for key, (xs, ys) in data.items():
                run.items[key].setData(xs, ys)
        self._fit_lr_range()
        self._refresh_table()
        self._redraw_histograms()

    def _fit_lr_range(self) -> None:
        """Constant learning rates: show them from 0 with room above (autorange would zoom on nothing)."""
        lrs = [r.curves.lr.view() for r in self.runs.values() if len(r.curves.lr)]
        if not lrs:
            return
        lo = min(float(np.nanmin(a)) for a in lrs)
        hi = max(float(np.nanmax(a)) for a in lrs)
        p = self.plots["lr"]
        if hi - lo <= 1e-12 * max(abs(hi), 1e-30):
            p.setYRange(0, hi * 1.5 if hi > 0 else 1, padding=0)
        else:
            p.enableAutoRange(axis="y")

    def _refresh_table(self) -> None:
        t = self.table
        t.setSortingEnabled(False)
        t.setRowCount(len(self.runs))
        for r, run in enumerate(self.runs.values()):
            name = QTableWidgetItem(f"■ {run.name}")
            name.setForeground(QColor(run.color))
            name.setData(Qt.UserRole, run.run_id)
            t.setItem(r, 0, name)
            t.setItem(r, 1, QTableWidgetItem(run.state))
            n_ep = len(run.curves.epoch_step)
            t.setItem(r, 2, NumberItem(float(n_ep), str(n_ep)))
            for col, (_h, key) in enumerate(TABLE_COLUMNS[3:], start=3):
                v = run.metric(key)
                t.setItem(r, col, NumberItem(v, "–" if math.isnan(v) else f"{v:.4f}"))
        t.setSortingEnabled(True)
        self._fit_table_pane()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._fit_table_pane()  # runs shown while the tab was hidden: the panes had no size yet

    def _fit_table_pane(self) -> None:
        """Give the table the width its columns need (the histograms and surface tabs take the
        rest), once each time that width changes: a fixed 3:2 split cut the last columns off
        in a window of 1600 px with both docks open. A width the user drags stays until then."""
        t = self.table
        head = t.horizontalHeader()
        need = sum(max(head.sectionSizeHint(j), t.sizeHintForColumn(j)) for j in range(t.columnCount()))
        need += 2 * t.frameWidth() + t.verticalScrollBar().sizeHint().width()
        total = sum(self.bottom.sizes())
        if need == self._table_need or total <= 0:
            return
        self._table_need = need
        self.bottom.setSizes([min(need, total), max(total - need, 0)])

    # -- histograms ----------------------------------------------------------------------
    def _sync_hist_plots(self) -> None:
        if set(self.hist_plots) == set(self.runs):
            return
        self.hist_glw.clear()
        self.hist_plots = {}
        for i, (rid, run) in enumerate(self.runs.items()):
            # one above the other: distributions compare best over stacked x axes, and columns in
            # the narrow side pane crowded their tick labels into each other ("0.20.40.6")
            p = self.hist_glw.addPlot(row=i, col=0)
            add_plot_context_menu(p)
            p.setLabel("left", run.name, color=run.color)  # beside, not above: the stacked plots keep their height
            p.getAxis("left").setStyle(showValues=False)
            item = p.plot(
                stepMode="center",
                fillLevel=0,
                brush=pg.mkBrush(QColor(run.color).lighter(150)),
                pen=pg.mkPen(run.color),
            )
            self.hist_plots[rid] = (p, item)

    def _redraw_histograms(self) -> None:
        group = self.cb_group.currentData()
        labels = next(
            (
                getattr(r, "layer_labels" if group == "act" else "weight_labels", [])
                for r in self.runs.values()
                if r.hist
            ),
            [],
        )
        if [self.cb_layer.itemText(i) for i in range(self.cb_layer.count())] != labels:
            self.cb_layer.blockSignals(True)
            self.cb_layer.clear()
            self.cb_layer.addItems(labels)
            self.cb_layer.setCurrentIndex(max(0, len(labels) - 1) if labels else -1)
            self.cb_layer.blockSignals(False)
        layer = self.cb_layer.currentIndex()
        any_data = False
        for rid, (_p, item) in self.hist_plots.items():
            run = self.runs[rid]
            h = run.hist.get(group)
            if h is None or layer < 0 or layer >= len(h["hist"]):
                item.setData([], [])
                continue
            counts = np.asarray(h["hist"][layer], dtype=np.float64)
            lo, hi = (float(v) for v in h["range"][layer])
            if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or counts.sum() == 0:
                item.setData([], [])
                continue
            edges = np.linspace(lo, hi, len(counts) + 1)
            item.setData(edges, counts / counts.sum())
            any_data = True
        self.hist_note.setText(self._probe_note(group, any(r.hist for r in self.runs.values())))
        self.hist_note.setVisible(not any_data)

    def _probes_on(self) -> bool | None:
        """Whether the compared runs record probes (None: no comparison to ask)."""
        if self.compare.spec is not None:
            return bool(self.compare.spec.base.probes.enabled)
        if self.loaded_session is not None and self.loaded_session.runs:
            return any(r.config.probes.enabled for r in self.loaded_session.runs)
        return None

    def _probe_note(self, group: str, have_probes: bool) -> str:
        """Why no histogram shows: the reason that holds, not a blanket 'enable probes'."""
        if have_probes:
            return f"no {self.cb_group.currentText() or group} histogram for this layer in these runs"
        on = self._probes_on()
        if on is None:
            return "no comparison yet: histograms show once runs record probes"
        if on:
            return "probes are on: the first histograms arrive after the first probe"
        return "probes are off for these runs (turn on probes.enabled before comparing)"

    # -- sessions ------------------------------------------------------------------------
    def load_session(self, session) -> None:
        """Replay a saved comparison (a session with comparison layout or several runs)."""
        self.compare.shutdown()
        for rid in list(self.runs):
            self._drop(rid)
        self.loaded_session = None
        self.surface_panel.clear()
        self.line_panel.clear()
        if not is_comparison(session):
            return
        colors = run_colors(session)
        session = comparison_session(session)  # not the main run saved beside the comparison
        self.loaded_session = session
        hidden = set((session.meta.get("comparison") or {}).get("hidden", []))
        for rec in session.runs:
            if rec.name in hidden:
                continue
            run = self._add_run("saved:" + rec.name, rec.name, colors[rec.name])
            run.state = parse_state(rec.state)
            try:  # the events that drew the run live, replayed
                replay = series_events(rec.name, rec.series) + probes_of(rec)[-1:]
            except ValueError as e:  # a malformed run: the others still show
                self.controller.notice.emit(f"{rec.name}: cannot be read: {e}", "error")
                replay = []
            for e in replay:
                if not run.curves.add(e) and isinstance(e, ProbeSnapshot):
                    self._show_probe(run, e)
        self.lbl_state.setText(f"saved comparison · {len(self.runs)} runs")
        from engine.compare.surface import SharedSurface

        surface = SharedSurface.from_session(session)
        if surface is not None:
            self.surface_panel.show_surface(surface)
        self.line_panel.load(session)
        self.redraw()

    def save_into(self, session) -> None:
        if self.compare.worker is not None:
            self.compare.save_into(session)
        elif self.loaded_session is not None:
            names = {r.name for r in session.runs}
            session.runs.extend(r for r in self.loaded_session.runs if r.name not in names)
            if "comparison" in self.loaded_session.meta:
                session.meta["comparison"] = self.loaded_session.meta["comparison"]
        if self.surface_panel.surface is not None and self.runs:
            self.surface_panel.surface.save_into(session)
        if self.runs:
            self.line_panel.save_into(session, {r.name for r in self.runs.values()})

    def shutdown(self) -> None:
        """Stop this view's jobs; the comparison itself belongs to the AppController."""
        self.surface_panel.shutdown()
        self.line_panel.shutdown()
