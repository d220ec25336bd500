"""The 1D line between two runs' final weights, θ(α) = (1−α)·θ_A + α·θ_B: a plot (loss and
accuracy, train and validation, the two runs marked at α = 0 and α = 1) and the Compare
tab's panel that picks the two runs and computes the line in the background.

The engine does the work (engine/landscape/between.py, a job) on the app's JobRunner
(desktop/jobs.py); the result comes back on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.jobs import JobRunner
from desktop.plotting import color, style_plot
from desktop.views.log_axis import DecadeLogAxis
from engine.jobs import Job

if TYPE_CHECKING:
    from engine.landscape.between import RunLine

PREFIX = "comparison/line"
META_PATH = ("comparison_lines",)
TRAIN_COLOR, VAL_COLOR = "#0072B2", "#D55E00"


BARRIER_HELP = (
    "Loss barrier: the largest rise of the loss above the straight line joining the losses of the two "
    "runs (0: no ridge between them; Frankle et al. 2020)"
)


def short(name: str, n: int = 14) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def describe(line: RunLine) -> str:
    """One line of text under the plot: the barrier and what the reader should know."""
    parts = [
        f"<b>{line.a}</b> (α=0) → <b>{line.b}</b> (α=1)",
        f"loss barrier: val {line.barrier('val'):.3g}, train {line.barrier('train'):.3g}",
        f"{line.eval_samples} samples per split" + (f", {line.seconds:.2f} s" if line.seconds else ""),
    ]
    return " · ".join(parts + list(line.notes))


class _LossAxis(DecadeLogAxis):
    """Decades (and 2, 5) when they give at least three labels; pyqtgraph's finer labels
    on a narrow range (a loss from 0.74 to 1.06 would show a lone "1")."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        ticks = super().logTickValues(minVal, maxVal, size, stdTicks)
        if sum(len(v) for _, v in ticks) >= 3:
            return ticks
        return pg.AxisItem.logTickValues(self, minVal, maxVal, size, stdTicks)


class RunLinePlot(pg.GraphicsLayoutWidget):
    """Loss (log scale) and accuracy along the line; train solid, validation dashed; the two
    runs as vertical lines in their colours. Side by side, or stacked when `stacked`."""

    def __init__(self, parent=None, stacked: bool = False) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.stacked = stacked
        # the plots are made when first shown (they sit on side tabs seldom opened): not
        # before the window's first paint; a line given before is drawn then
        self.built = False
        self.line: RunLine | None = None
        self._colors = ("#555555", "#555555")

    def __getattr__(self, name: str):
        if name in ("p_loss", "p_acc", "items", "marks") and not self.__dict__.get("built", True):
            self._build()
            return getattr(self, name)
        raise AttributeError(name)

    def showEvent(self, ev) -> None:
        if not self.built:
            self._build()
        super().showEvent(ev)

    def _build(self) -> None:
        self.built = True
        stacked = self.stacked
        axis = _LossAxis("left")
        axis.enableAutoSIPrefix(False)
        self.p_loss = self.addPlot(row=0, col=0, axisItems={"left": axis})
        key = (
            f"<span style='color:{TRAIN_COLOR}'>── train</span>&nbsp;&nbsp;"
            f"<span style='color:{VAL_COLOR}'>- - validation</span>"
        )
        style_plot(self.p_loss, f"Loss along (1−α)·θ_A + α·θ_B<br>{key}", "α", "loss")
        self.p_loss.setLogMode(y=True)
        self.p_acc = self.addPlot(row=1 if stacked else 0, col=0 if stacked else 1)
        style_plot(self.p_acc, "Accuracy along the line" + ("" if stacked else f"<br>{key}"), "α", "accuracy")
        self.p_acc.setYRange(0, 1.02, padding=0)
        self.p_acc.setXLink(self.p_loss)
        dash = Qt.DashLine
        self.items = {
            "train_loss": self.p_loss.plot(pen=pg.mkPen(TRAIN_COLOR, width=2)),
            "val_loss": self.p_loss.plot(pen=pg.mkPen(VAL_COLOR, width=2, style=dash)),
            "train_acc": self.p_acc.plot(pen=pg.mkPen(TRAIN_COLOR, width=2)),
            "val_acc": self.p_acc.plot(pen=pg.mkPen(VAL_COLOR, width=2, style=dash)),
        }
        self.marks: list[pg.InfiniteLine] = []
        for p in (self.p_loss, self.p_acc):
            p.getAxis("left").setWidth(48)
            for pos in (0.0, 1.0):
                # A's name to the right of its line, B's to the left: long names stay inside
                anchor = (0, 1) if pos == 0.0 else (1, 1)
                m = pg.InfiniteLine(
                    pos=pos,
                    angle=90,
                    movable=False,
                    pen=pg.mkPen("#888888", width=1.5),
                    label="",
                    labelOpts={"position": 0.06, "color": "#333333", "anchors": [anchor, anchor]},
                )
                p.addItem(m)
                self.marks.append(m)
        if self.line is not None:
            self.set_line(self.line, *self._colors)

    def set_line(self, line: RunLine | None, color_a: str = "#555555", color_b: str = "#555555") -> None:
        self.line = line
        self._colors = (color_a, color_b)
        if not self.built:
            return  # drawn when the plots are made
        if line is None:
            for it in self.items.values():
                it.setData([], [])
            for m in self.marks:
                m.label.setFormat("")
            return
        for key, it in self.items.items():
            y = np.asarray(getattr(line, key), dtype=np.float64)
            if key.endswith("loss"):
                y = np.clip(np.where(np.isfinite(y), y, np.nan), 1e-12, None)
            it.setData(line.alpha, y, connect="finite")
        for i, m in enumerate(self.marks):
            is_a = i % 2 == 0
            m.setPen(pg.mkPen(color_a if is_a else color_b, width=2))
            m.label.setFormat(short(line.a if is_a else line.b))
            m.label.setColor(color_a if is_a else color_b)
        self.p_loss.enableAutoRange()
        self.p_acc.setYRange(0, 1.02, padding=0)


class LinePanelBase(QWidget):
    """What the line panels share (this tab's and the Landscape tab's "Line to a saved run"):
    the button that starts a line, a status line, the plot, and the job runner that computes
    one line at a time (under this panel's key). Subclasses lay them out and show a finished line."""

    def __init__(
        self,
        jobs: JobRunner,
        button: str,
        tooltip: str,
        status: str,
        stacked: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.job_key = f"line:{id(self)}"
        self.btn = QPushButton(button)
        self.btn.setToolTip(tooltip)
        self.status = QLabel(status)
        self.status.setWordWrap(True)
        self.status.setToolTip(BARRIER_HELP)
        self.plot = RunLinePlot(stacked=stacked)

    @property
    def busy(self) -> bool:
        return self.jobs.busy(self.job_key)

    def _start(self, job: Job[RunLine], message: str) -> None:
        self.btn.setEnabled(False)
        self.status.setText(message)
        self.jobs.submit(self.job_key, job, on_result=self._on_job_result, on_error=self._on_job_error)

    def _error(self, message: str) -> None:
        self.status.setText(f"<span style='color:#D55E00'>{message}</span>")

    def _on_job_result(self, line: RunLine) -> None:
        self.btn.setEnabled(True)
        self._line_done(line)

    def _line_done(self, line: RunLine) -> None:
        raise NotImplementedError

    def _on_job_error(self, message: str) -> None:
        self.btn.setEnabled(True)
        self._error(message)

    def _cancel(self) -> None:
        self.jobs.cancel(self.job_key)
        self.btn.setEnabled(True)

    def shutdown(self) -> None:
        h = self.jobs.handle(self.job_key)
        self._cancel()
        if h is not None:
            h.wait(5.0)


class RunLinePanel(LinePanelBase):
    """Compare tab: choose runs A and B of the comparison, compute and show their line."""

    def __init__(
        self,
        get_records: Callable[[], list],
        colors: Callable[[], dict[str, int]],
        names: Callable[[], list[str]],
        jobs: JobRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            jobs,
            "Compute line",
            "Loss and accuracy at (1−α)·θ_A + α·θ_B, α from −0.25 to 1.25, on a "
            "training subset and the validation subset (landscape.eval_samples); both runs need one "
            "architecture",
            "Choose two runs of the comparison.",
            parent=parent,
        )
        self.get_records, self.colors, self.names = get_records, colors, names
        self.lines: dict[tuple[str, str], RunLine] = {}
        self.cb_a, self.cb_b = QComboBox(), QComboBox()
        for cb in (self.cb_a, self.cb_b):
            cb.setMinimumWidth(90)
            cb.currentIndexChanged.connect(self._on_choice_changed)
        self.btn.clicked.connect(self.compute)
        top = QHBoxLayout()
        for w in (QLabel("A"), self.cb_a, QLabel("B"), self.cb_b, self.btn):
            top.addWidget(w)
        top.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addWidget(self.plot, 1)

    # -- runs ------------------------------------------------------------------------------
    def sync_runs(self) -> None:
        """Refill the run choices (keeping the current ones when still there)."""
        names = self.names()
        if [self.cb_a.itemText(i) for i in range(self.cb_a.count())] == names:
            return
        a, b = self.cb_a.currentText(), self.cb_b.currentText()
        a = a if a in names else (names[0] if names else "")
        if b not in names or b == a:  # B defaults to another run than A
            b = next((n for n in names if n != a), a)
        for cb, keep in ((self.cb_a, a), (self.cb_b, b)):
            cb.blockSignals(True)
            cb.clear()
            cb.addItems(names)
            cb.setCurrentIndex(names.index(keep) if keep in names else -1)
            cb.blockSignals(False)
        self._on_choice_changed()

    def choose(self, a: str, b: str) -> None:
        self.cb_a.setCurrentText(a)
        self.cb_b.setCurrentText(b)

    def _color(self, name: str) -> str:
        return color(self.colors().get(name, 7))

    def _on_choice_changed(self, _i: int = 0) -> None:
        if self.busy:
            return
        line = self.lines.get((self.cb_a.currentText(), self.cb_b.currentText()))
        self._show(line)
        if line is None:
            self.status.setText("Press Compute line." if self.cb_a.count() >= 2 else "A line needs two runs.")

    def _show(self, line: RunLine | None) -> None:
        if line is None:
            self.plot.set_line(None)
            return
        self.plot.set_line(line, self._color(line.a), self._color(line.b))
        self.status.setText(describe(line))

    # -- computing -------------------------------------------------------------------------
    def compute(self) -> bool:
        """Take the two runs' records (the engine hands them over between steps) and compute the
        line off the GUI thread; False (with the reason in the status line) when refused."""
        from engine.landscape.between import line_between_records_job

        if self.busy:
            return False
        a, b = self.cb_a.currentText(), self.cb_b.currentText()
        if not a or not b:
            self._error("a line needs two runs: start or open a comparison")
            return False
        if a == b:
            self._error(f"choose two different runs (both are '{a}')")
            return False
        try:
            records = {r.name: r for r in self.get_records()}
        except Exception as e:  # noqa: BLE001 - SessionError: the engine did not answer
            self._error(str(e))
            return False
        if a not in records or b not in records:
            self._error(f"run '{a if a not in records else b}' is no longer in the comparison")
            return False
        self._start(line_between_records_job(records[a], records[b]), f"computing the line {a} → {b}…")
        return True

    def _line_done(self, line: RunLine) -> None:
        self.lines[(line.a, line.b)] = line
        if (self.cb_a.currentText(), self.cb_b.currentText()) == (line.a, line.b):
            self._show(line)

    # -- sessions --------------------------------------------------------------------------
    def clear(self) -> None:
        self._cancel()
        self.lines = {}
        self.plot.set_line(None)
        self.status.setText("Choose two runs of the comparison.")

    def load(self, session) -> None:
        """Show the lines a saved comparison holds."""
        from engine.landscape.between import stored_lines

        self.clear()
        lines, problems = stored_lines(session, PREFIX, META_PATH)
        self.lines = {(ln.a, ln.b): ln for ln in lines}
        self.sync_runs()
        if lines:
            self.choose(lines[-1].a, lines[-1].b)
            self._show(lines[-1])
        if problems:
            self._error("saved line not shown: " + "; ".join(problems))

    def save_into(self, session, run_names: set[str]) -> None:
        from engine.landscape.between import store_lines

        lines = [ln for ln in self.lines.values() if ln.a in run_names and ln.b in run_names]
        if lines:
            store_lines(session, lines, PREFIX, META_PATH)
