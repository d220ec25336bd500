"""The Landscape tab's "Line to a saved run" panel: the 1D loss from this run's final (or
current) weights to the final weights of a run saved in another session file, when the two
share one architecture (engine/landscape/between.py).

The weights of a live run are copied on the engine thread between two steps; the line is a
job on the app's JobRunner (desktop/jobs.py; the result comes back on the GUI thread).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QVBoxLayout, QWidget

from desktop.jobs import JobRunner
from desktop.views.compare_line import LinePanelBase, describe
from engine.jobs import Job

if TYPE_CHECKING:
    from engine.landscape.between import RunLine

PREFIX = "landscape/line_to"
META_PATH = ("landscape", "line_to")
A_COLOR, B_COLOR = "#D55E00", "#CC79A7"

# A source of run A, called on the job's worker thread: (name, config, state, model at its
# final weights, engine data set). Raises LandscapeError when there is no run.
Source = Callable[[], tuple]


class LineToRunPanel(LinePanelBase):
    def __init__(self, prepare_source: Callable[[], Source], jobs: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(
            jobs,
            "Open…",
            "Open another session file: loss and accuracy along the straight line from this "
            "run's weights (α=0) to the final weights of its first run with the same architecture "
            "(α=1)",
            "Choose a session file whose run has this run's architecture.",
            stacked=True,
            parent=parent,
        )
        self.prepare_source = prepare_source
        self.line: RunLine | None = None
        self.btn.clicked.connect(self._on_btn_clicked)
        top = QHBoxLayout()
        top.addWidget(self.btn)
        top.addWidget(self.status, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.plot, 1)

    def _on_btn_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Line to a run of another session", "", "Descent sessions (*.descent);;All files (*)"
        )
        if path:
            self.compute_to(path)

    def compute_to(self, path: str | Path) -> bool:
        """Open `path`, take its first run of this architecture and compute the line off the
        GUI thread; False (the reason in the status line) when refused."""
        from engine.landscape.between import line_to_record_job
        from engine.landscape.params import LandscapeError
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
            b.name = f"{rec.name} ({path.name})"  # a name unique even when both runs share one
            candidates.append(b)

        def work() -> Job[RunLine]:
            name, cfg, state, model, data = source()
            errors = []
            for b in candidates:
                try:
                    return (yield from line_to_record_job(name, cfg, state, model, b, data))
                except LandscapeError as e:
                    errors.append(str(e))
            # one run: its reason; several: the first one's, and how many were tried
            more = f" (and {len(errors) - 1} other runs of {path.name} did not fit either)" if len(errors) > 1 else ""
            raise LandscapeError(errors[0] + more)

        self._start(work(), f"computing the line to {path.name}…")
        return True

    def _line_done(self, line: RunLine) -> None:
        self.show_line(line)

    def show_line(self, line: RunLine | None) -> None:
        self.line = line
        self.plot.set_line(line, A_COLOR, B_COLOR)
        self.status.setText(
            describe(line) if line is not None else "Choose a session file whose run has this run's architecture."
        )

    # -- sessions --------------------------------------------------------------------------
    def clear(self) -> None:
        self._cancel()
        self.show_line(None)

    def load(self, session) -> None:
        from engine.landscape.between import stored_lines

        self.clear()
        lines, problems = stored_lines(session, PREFIX, META_PATH)
        if lines:
            self.show_line(lines[-1])
        if problems:
            self._error("saved line not shown: " + "; ".join(problems))

    def save_into(self, session) -> None:
        from engine.landscape.between import store_lines

        if self.line is not None:
            store_lines(session, [self.line], PREFIX, META_PATH)
