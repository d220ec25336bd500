"""The contract every view (a tab of the main window) follows.

The bridge (desktop/bridge.py) drains the engine channel on a timer and calls
`handle_events` on every view with the batch that arrived, on the GUI thread. Views
update pyqtgraph items in place and never do heavy work here (> a few ms belongs to a
worker). `controller` is the AppController: the current config, the engine worker,
signals for run start/finish and session load.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from time import thread_time
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtWidgets import QWidget

from desktop.jobs import JobHandle, JobRunner, runner_for
from engine.events import Event
from engine.states import RunState

T = TypeVar("T")

if TYPE_CHECKING:
    from desktop.controller import AppController
    from engine.config import ExperimentConfig
    from engine.session import Session


class View(QWidget):
    """Base class of a main-window tab."""

    title = "View"
    own_work = ""  # work this tab runs with its own controls ("race", "comparison"); "" = the main run's
    uses_panel = True  # False: the hyperparameter dock does not apply here (the window hides it)
    MIN_REDRAW_S = 0.2  # throttled redraws: drawing holds the GIL the engine thread needs
    DRAW_BUDGET = 0.0  # > 0: redraws are spaced so that drawing takes at most this share of a core
    MAX_REDRAW_S = 1.0  # ... but a view in front redraws at least this often

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._dirty = False  # data arrived that is not drawn yet
        self._last_draw = 0.0
        self._draw_cpu_s = 0.0  # the GUI thread's CPU time per redraw and its paints (a running mean)
        self._painted_s = 0.0  # paint_cpu_s() at the last redraw
        self._config_stale = False  # the config changed while hidden (views that follow_config)

    # -- throttled redraws: views that set `_dirty` and implement redraw() ---------------
    @property
    def has_pending_redraw(self) -> bool:
        """Data arrived that is not drawn yet (the bridge's idle ticks draw it)."""
        return self._dirty

    def redraw(self) -> None:
        """Draw the current data (views that use the throttle override this)."""

    def redraw_if_due(self) -> None:
        """Redraw when something is pending, the view is on screen (its tab shown, the window
        not minimised) and the last redraw is at least redraw_interval() old; the bridge's
        idle ticks draw what is left pending (after a restore too)."""
        if (
            self._dirty
            and self.isVisible()
            and not self.window().isMinimized()
            and time.perf_counter() - self._last_draw >= self.redraw_interval()
        ):
            t = thread_time()
            painted = self.paint_cpu_s()
            self.redraw()
            # a redraw's cost: its own CPU time and the paints since the one before (they
            # showed that one: one paint, or two where an axis was re-laid)
            cost = thread_time() - t + painted - self._painted_s
            self._painted_s = painted
            self._draw_cpu_s = cost if self._draw_cpu_s == 0 else 0.7 * self._draw_cpu_s + 0.3 * cost

    def draw_at_once(self) -> None:
        """Mark the view pending and waive the throttle's wait once: the next redraw_if_due
        draws (a run's or a comparison's end must not stand beside an older picture)."""
        self._dirty, self._last_draw = True, 0.0

    def redraw_interval(self) -> float:
        """The least time between two live redraws: MIN_REDRAW_S, or with a DRAW_BUDGET as
        long as it takes for the redraws' CPU time (with their paints) to stay within that
        share of the GUI thread while the main run goes as fast as it can (a costlier
        picture, or a slower machine, redraws less often: the engine thread needs the GIL),
        never more than MAX_REDRAW_S."""
        if (
            self.DRAW_BUDGET <= 0
            or getattr(self.controller, "max_steps_per_s", None)  # a paced run leaves the engine time to spare
            or getattr(self.controller, "state", RunState.RUNNING) != RunState.RUNNING  # no run to slow down
        ):
            return self.MIN_REDRAW_S
        return min(self.MAX_REDRAW_S, max(self.MIN_REDRAW_S, self._draw_cpu_s / self.DRAW_BUDGET))

    def paint_cpu_s(self) -> float:
        """The GUI thread's CPU time spent painting this view so far (views with a DRAW_BUDGET
        whose plots measure it, see desktop/plotting.py's PaintTimedLayout); 0: not measured."""
        return 0.0

    def _mark_drawn(self) -> None:
        self._dirty = False
        self._last_draw = time.perf_counter()

    # -- saved sessions ----------------------------------------------------------------------
    def read_saved(self, record, what: str, read: Callable[[], T]) -> T | None:
        """What `read()` decodes from a saved run; None, with a notice naming the run and the
        problem, when the file's data for this view is malformed (the rest still shows)."""
        try:
            return read()
        except ValueError as e:
            self.controller.notice.emit(f"{record.name}: the saved {what} cannot be read: {e}", "error")
            return None

    # -- long work: jobs on the app's runner, one at a time per view --------------------------
    @property
    def jobs(self) -> JobRunner:
        """The app's job runner (desktop/jobs.py): long work off the GUI thread."""
        return runner_for(self.controller)

    @property
    def job_key(self) -> str:
        return f"{type(self).__name__}:{id(self)}"

    def start_job(self, job, on_result, on_error=None, on_progress=None) -> JobHandle:
        """Run `job` (an engine job, or a plain function) off the GUI thread; the result,
        errors and progress come back on it. A newer job of this view supersedes the older."""
        return self.jobs.submit(self.job_key, job, on_result, on_progress, on_error)

    @property
    def job_running(self) -> bool:
        return self.jobs.busy(self.job_key)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self.redraw()
        if self._config_stale:
            self._config_stale = False
            self.refresh()

    # -- views that follow the config being edited (Data, Augmentation) --------------------
    def follow_config(self) -> None:
        """Call `refresh()` whenever the controller's config changes: at once while visible,
        else when the view is shown."""
        self.controller.config_changed.connect(self._on_config_edited)
        self.controller.field_edited.connect(self._on_config_edited)

    def refresh(self) -> None:
        """Recompute for the controller's current config (views that follow_config)."""

    def _on_config_edited(self, *_args) -> None:
        if self.isVisible():
            self.refresh()
        else:
            self._config_stale = True

    def handle_events(self, events: list[Event]) -> None:
        """A batch of engine events (all runs); called at most ~60 times a second."""

    def on_run_started(self, run_id: str, config: ExperimentConfig) -> None:
        """A new run (start or restart) began: reset what belongs to the previous one."""

    def load_session(self, session: Session) -> None:
        """Show a saved session (replay): runs' records, session-level arrays/meta."""

    def save_into(self, session: Session) -> None:
        """Add what this view alone holds (e.g. a playground race) to a session being saved."""

    def work_token(self) -> object:
        """What this view alone holds that a save would keep, as a value compared with the
        one at the last save or open (the title's unsaved marker); None: nothing."""
        return None

    def shutdown(self) -> None:
        """The window is closing: stop this view's background work (jobs, timers)."""
        self.jobs.cancel(self.job_key)
