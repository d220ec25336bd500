"""The Landscape tab's "Line to a saved run" panel: the 1D loss from this run's final (or
current) weights to the final weights of a run saved in another session file, when the two
share one architecture (engine/landscape/between.py).

The weights of a live run are copied on the engine thread between two steps; the line is
computed by a BackgroundTask (a plain thread; the result comes back on the GUI thread).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.views.background import BackgroundTask
from desktop.views.compare_line import BARRIER_HELP, RunLinePlot, describe
from engine.landscape.between import RunLine, store_lines, stored_lines
from engine.landscape.params import LandscapeError

PREFIX = "landscape/line_to"
META_PATH = ("landscape", "line_to")
A_COLOR, B_COLOR = "#D55E00", "#CC79A7"

# A source of run A, called on the background thread: (name, config, state, model at its
# final weights, engine data set). Raises LandscapeError when there is no run.
Source = Callable[[], tuple]


class LineToRunPanel(QWidget):
    def __init__(self, prepare_source: Callable[[], Source], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prepare_source = prepare_source
        self.line: RunLine | None = None
        self.task = BackgroundTask(self)
        self.task.done.connect(self._on_task_done)
        self.task.failed.connect(self._on_task_failed)
        self.btn = QPushButton("Open…")
        self.btn.setToolTip("Open another session file: loss and accuracy along the straight line from this run's "
                            "weights (α=0) to the final weights of its first run with the same architecture (α=1)")
        self.btn.clicked.connect(self._on_btn_clicked)
        self.status = QLabel("Choose a session file whose run has this run's architecture.")
        self.status.setWordWrap(True)
        self.status.setToolTip(BARRIER_HELP)
        top = QHBoxLayout()
        top.addWidget(self.btn)
        top.addWidget(self.status, 1)
        self.plot = RunLinePlot(stacked=True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.plot, 1)

    @property
    def busy(self) -> bool:
        return self.task.busy

    def _on_btn_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Line to a run of another session", "",
                                              "Descent sessions (*.descent);;All files (*)")
        if path:
            self.compute_to(path)

    def _error(self, message: str) -> None:
        self.status.setText(f"<span style='color:#D55E00'>{message}</span>")

    def compute_to(self, path: str | Path) -> bool:
        """Open `path`, take its first run of this architecture and compute the line in the
        background; False (the reason in the status line) when refused."""
        from engine.session import SessionError, load_session

        if self.busy:
            return False
        path = Path(path)
        try:
            other = load_session(path)
        except SessionError as e:
            self._error(str(e))
            return False
        if not other.runs:
            self._error(f"{path.name} has no runs")
            return False
        try:
            source = self.prepare_source()
        except LandscapeError as e:
            self._error(str(e))
            return False
        candidates = []
        for rec in other.runs:
            b = copy.copy(rec)
            b.name = f"{rec.name} ({path.name})"      # a name unique even when both runs share one
            candidates.append(b)
        def work(cancelled) -> RunLine:
            from engine.landscape.between import line_to_record

            name, cfg, state, model, data = source()
            errors = []
            for b in candidates:
                try:
                    return line_to_record(name, cfg, state, model, b, data, cancelled=cancelled)
                except LandscapeError as e:
                    errors.append(str(e))
            # one run: its reason; several: the first one's, and how many were tried
            more = f" (and {len(errors) - 1} other runs of {path.name} did not fit either)" if len(errors) > 1 else ""
            raise LandscapeError(errors[0] + more)

        self.btn.setEnabled(False)
        self.status.setText(f"computing the line to {path.name}…")
        self.task.run(work, cancellable=True, name="descent-line-to-run")
        return True

    def _on_task_done(self, line: RunLine) -> None:
        self.btn.setEnabled(True)
        self.show_line(line)

    def _on_task_failed(self, message: str) -> None:
        self.btn.setEnabled(True)
        self._error(message)

    def show_line(self, line: RunLine | None) -> None:
        self.line = line
        self.plot.set_line(line, A_COLOR, B_COLOR)
        self.status.setText(describe(line) if line is not None else
                            "Choose a session file whose run has this run's architecture.")

    # -- sessions --------------------------------------------------------------------------
    def clear(self) -> None:
        self.task.cancel()
        self.btn.setEnabled(True)
        self.show_line(None)

    def load(self, session) -> None:
        self.clear()
        lines, problems = stored_lines(session, PREFIX, META_PATH)
        if lines:
            self.show_line(lines[-1])
        if problems:
            self._error("saved line not shown: " + "; ".join(problems))

    def save_into(self, session) -> None:
        if self.line is not None:
            store_lines(session, [self.line], PREFIX, META_PATH)

    def shutdown(self) -> None:
        self.task.shutdown()
