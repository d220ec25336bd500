"""The Landscape tab's "Line to a saved run" panel: the 1D loss from this run's final (or
current) weights to the final weights of a run saved in another session file, when the two
share one architecture (engine/landscape/between.py).

The weights of a live run are copied on the engine thread between two steps; the line is
computed on a plain thread that only stores its result, picked up by a GUI-thread timer.
"""
from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

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
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._result: tuple[RunLine | None, str] | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(100)
        self._poll.timeout.connect(self._on_poll_timeout)
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
        return self._thread is not None and self._thread.is_alive()

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
        self._cancel.clear()
        self._result = None
        cancel = self._cancel

        def work() -> None:
            from engine.landscape.between import line_to_record

            try:
                name, cfg, state, model, data = source()
                errors = []
                for b in candidates:
                    try:
                        self._result = (line_to_record(name, cfg, state, model, b, data, cancelled=cancel.is_set), "")
                        return
                    except LandscapeError as e:
                        errors.append(str(e))
                # one run: its reason; several: the first one's, and how many were tried
                more = f" (and {len(errors) - 1} other runs of {path.name} did not fit either)" if len(errors) > 1 else ""
                self._result = (None, errors[0] + more)
            except (LandscapeError, ValueError, RuntimeError) as e:
                self._result = (None, str(e))

        self.btn.setEnabled(False)
        self.status.setText(f"computing the line to {path.name}…")
        self._thread = threading.Thread(target=work, name="descent-line-to-run", daemon=True)
        self._thread.start()
        self._poll.start()
        return True

    def _on_poll_timeout(self) -> None:
        if self._result is None:
            if not self.busy:
                self._poll.stop()
                self.btn.setEnabled(True)
            return
        self._poll.stop()
        line, error = self._result
        self._result = None
        self.btn.setEnabled(True)
        if self._cancel.is_set():
            return
        if line is None:
            self._error(error)
            return
        self.show_line(line)

    def show_line(self, line: RunLine | None) -> None:
        self.line = line
        self.plot.set_line(line, A_COLOR, B_COLOR)
        self.status.setText(describe(line) if line is not None else
                            "Choose a session file whose run has this run's architecture.")

    # -- sessions --------------------------------------------------------------------------
    def clear(self) -> None:
        self._cancel.set()
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
        self._cancel.set()
        self._poll.stop()
        if self._thread is not None:
            self._thread.join(5.0)
