"""The application controller: the current config, the engine worker, the channel.

The GUI talks to the engine only through here. Commands go to the EngineWorker (executed
between two steps on the engine thread); events come back through the EventChannel,
which the bridge drains on a timer. It also owns the work the views ask for: the job
runner (desktop/jobs.py), the comparison (CompareController) and the Landscape tab's
surfaces (LandscapeController); and `snapshot()`, the session as it stands now.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from desktop.compare_controller import CompareController
from desktop.jobs import JobRunner
from desktop.landscape_controller import LandscapeController
from engine.config import LIVE_KEYS, ConfigError, ExperimentConfig
from engine.diagnostics.checks import Diagnostic, top_finding
from engine.diagnostics.snapshot import DiagnosticSnapshot
from engine.events import ErrorRaised, Event, EventChannel, Notice, RunFinished, StateChanged
from engine.session import RunRecord, Session, SessionError, load_session, save_session
from engine.states import RunState

if TYPE_CHECKING:  # torch: imported on the engine thread when a run is built
    from engine.train import EngineWorker, Trainer

# Nothing is left to step in these: a single step builds a new run; Resume trains more
# epochs from the run's weights (train_more), never silently from scratch.
START_OVER = frozenset({RunState.FINISHED, RunState.STOPPED, RunState.ERROR, RunState.REPLAY})
# A run in one of these can go on for more epochs (its weights and optimizer state are kept).
CAN_TRAIN_MORE = frozenset({RunState.FINISHED, RunState.STOPPED, RunState.REPLAY})


def _build_trainer(config: ExperimentConfig, **kw: Any) -> Trainer:
    """engine.experiment.build_trainer, imported on the engine thread (torch loads there, not
    on the GUI thread before the window's first paint)."""
    from engine.experiment import build_trainer

    return build_trainer(config, **kw)


class AppController(QObject):
    run_started = Signal(str, object)  # run_id, ExperimentConfig
    state_changed = Signal(str, str)  # state, message
    config_changed = Signal(object)  # ExperimentConfig (the panel shows it)
    field_edited = Signal(str)  # a dotted key set through set_field (the panel's edits)
    session_loaded = Signal(object)  # Session
    notice = Signal(str, str)  # message, level (info|warning|error)
    pending_restart = Signal(bool)  # True: edits wait for a restart
    finding_changed = Signal(str, str)  # the run's highest-ranked diagnostic: message, level ("" = none)

    def __init__(self, config: ExperimentConfig | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.config = config or ExperimentConfig()
        self.channel = EventChannel(capacity=512)
        self.worker: EngineWorker | None = None
        self.run_id = ""
        self._findings: list[Diagnostic] = []  # the current run's diagnostics, as they arrive
        self._run_counter = 0
        self.state: RunState = RunState.IDLE
        self.session: Session | None = None  # the last opened/saved session
        self.session_path: Path | None = None
        self.restart_needed = False
        self.last_final: dict[str, float] = {}
        self.continued_from: RunRecord | None = None  # set while run_started announces a continued run
        self.jobs = JobRunner(self)  # long work that is not training, off the GUI thread
        self.compare = CompareController(self, self)
        self.landscape = LandscapeController(self, self)
        self._session_parts: list[Callable[[Session], None]] = []
        self.restart_checks: list[Callable[[], str | None]] = []  # each: why not to restart, or None
        # Steps per second at most for the main run (None: as fast as possible); the
        # window's speed control sets it. Headless code never paces.
        self.max_steps_per_s: float | None = None
        self.more_epochs = 50  # what Train more adds

    # -- run control ---------------------------------------------------------------------
    def _new_worker(self) -> None:
        if self.worker is not None:
            self.worker.shutdown(timeout=2.0)
        self._run_counter += 1
        self.run_id = f"run{self._run_counter}"
        self._findings = []
        self.finding_changed.emit("", "")
        from engine.train.worker import EngineWorker  # torch-free; the run is built on its thread

        self.worker = EngineWorker(self.config, self.channel, run_id=self.run_id, trainer_factory=_build_trainer)
        self.worker.set_max_steps_per_s(self.max_steps_per_s)

    def set_speed(self, steps_per_s: float | None) -> None:
        """Pace the main run to at most this many steps per second (None: as fast as possible)."""
        self.max_steps_per_s = steps_per_s or None
        if self.worker is not None:
            self.worker.set_max_steps_per_s(self.max_steps_per_s)

    def start(self, paused: bool = False) -> None:
        """Build a new run from the current config and start it (or hold it at step 0)."""
        self._new_worker()
        assert self.worker is not None
        self.state = RunState.BUILDING
        self.restart_needed = False
        self.pending_restart.emit(False)
        self.run_started.emit(self.run_id, self.config)
        self.worker.start(paused=paused)

    def restart(self) -> bool:
        """Start over with the current config, unless a restart check (the panel: a field
        showing a refused value) says why not; that message goes out as an error notice."""
        for check in self.restart_checks:
            problem = check()
            if problem:
                self.notice.emit(problem, "error")
                return False
        self.start()
        return True

    def pause(self) -> None:
        if self.worker is not None:
            self.worker.pause()

    def resume(self) -> None:
        """Resume a paused run; a diverged one continues from its last good weights; a
        finished, stopped or reopened one trains `more_epochs` more (train_more); after an
        error, or with no run yet, a new run starts."""
        if self.state in CAN_TRAIN_MORE:
            self.train_more()
        elif self.worker is None or self.state in START_OVER:
            self.start()
        else:
            # A diverged run takes the optimizer settings edited since (lr, eps...).
            self.worker.resume(self.config if self.state == RunState.DIVERGED else None)

    def toggle_pause(self) -> None:
        if self.state == RunState.RUNNING:
            self.pause()
        else:
            self.resume()

    def single_step(self) -> None:
        """One minibatch step (pausing a running run); with no run yet, a new paused run's
        first step. A finished run is not stepped: it says how to go on."""
        if self.state in CAN_TRAIN_MORE:
            self.notice.emit("the run is over: Train more goes on from its weights, Restart starts afresh", "info")
            return
        if self.worker is None or self.state in START_OVER:
            self.start(paused=True)
        assert self.worker is not None
        if self.state == RunState.RUNNING:
            self.worker.pause()
        self.worker.single_step()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def can_train_more(self) -> bool:
        """A finished or stopped run, or a reopened session's first run with its weights."""
        if self.state == RunState.REPLAY:
            return bool(self.session and self.session.runs and self.session.runs[0].checkpoint is not None)
        return self.state in CAN_TRAIN_MORE and self.worker is not None and self.worker.trainer is not None

    def train_more(self, epochs: int | None = None) -> bool:
        """Train `epochs` (default `more_epochs`) more epochs from the current weights and
        optimizer state: the finished/stopped run, or the reopened session's first run from
        its checkpoint. False, with a notice saying why, when there is nothing to go on from."""
        from engine.session import CheckpointError

        n = int(epochs or self.more_epochs)
        try:
            if self.state == RunState.REPLAY:
                record = self.session.runs[0] if self.session and self.session.runs else None
            elif self.state in CAN_TRAIN_MORE:
                record = self.current_record()
            else:
                record = None
            if record is None:
                self.notice.emit("nothing to train more: no finished or saved run (Restart starts one)", "warning")
                return False
            done = int(record.checkpoint.meta.get("epoch", 0)) if record.checkpoint is not None else 0
            self.continue_saved(record, done + n)
        except (CheckpointError, SessionError) as e:
            self.notice.emit(str(e), "error")
            return False
        return True

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Stop the run, the comparison and every job; False if a thread did not end in time."""
        ok = self.jobs.shutdown(timeout)
        ok = self.compare.shutdown(timeout) and ok
        if self.worker is None:
            return ok
        return self.worker.shutdown(timeout) and ok

    # -- config edits --------------------------------------------------------------------
    def set_field(self, key: str, value: Any) -> str | None:
        """Validate and apply one field; live keys go to the running optimizer.
        Returns an error message naming the field, or None."""
        try:
            new = self.config.with_updates({key: value})
        except ConfigError as e:
            return str(e)
        self.config = new
        self.field_edited.emit(key)
        live = (RunState.RUNNING, RunState.PAUSED, RunState.DIVERGED)
        if key in LIVE_KEYS and self.worker is not None and self.state in live:
            self.worker.set_value(key, new.get(key))
        elif self.state != RunState.IDLE or self.worker is not None:
            if not self.restart_needed:
                self.restart_needed = True
                self.pending_restart.emit(True)
        return None

    def set_config(self, config: ExperimentConfig) -> None:
        self.config = config
        self.config_changed.emit(config)

    # -- events (GUI thread, from the bridge) --------------------------------------------
    def process(self, events: list[Event]) -> None:
        for e in events:
            if e.run_id != self.run_id and isinstance(e, (StateChanged, RunFinished)):
                continue
            if isinstance(e, StateChanged):
                self.state = e.state
                self.state_changed.emit(e.state, e.message)
            elif isinstance(e, RunFinished):
                self.last_final = dict(e.final)
            elif isinstance(e, ErrorRaised):
                self.notice.emit(e.message, "error")
            elif isinstance(e, Notice):
                self.notice.emit(e.message, e.level)
            elif isinstance(e, DiagnosticSnapshot) and e.run_id == self.run_id:
                self._on_finding(e.finding)

    def _on_finding(self, finding: Diagnostic) -> None:
        """Keep the run's findings; say when the highest-ranked one (by cause) changes."""
        before = top_finding(self._findings)
        self._findings.append(finding)
        top = top_finding(self._findings)
        if top is not before and top is not None and top.level != "info":
            self.finding_changed.emit(top.message, top.level)

    def with_trainer(self, fn: Callable[[Trainer], Any]) -> bool:
        """Run fn(trainer) where the trainer may be touched: on the engine thread between two
        steps while the engine is live (returns True: fn runs later), else right here (False)."""
        w = self.worker
        if w.alive and self.state in (RunState.RUNNING, RunState.PAUSED, RunState.BUILDING):
            w.call(fn)
            return True
        fn(w.trainer)
        return False

    # -- sessions ------------------------------------------------------------------------
    def current_record(self, timeout: float = 5.0) -> RunRecord | None:
        """A snapshot of the current run as a RunRecord, taken on the engine thread."""
        w = self.worker
        if w is None or w.trainer is None:
            return None
        box: dict[str, Any] = {}
        done = threading.Event()

        def grab(t: Trainer) -> None:
            from engine.session import capture_checkpoint, record_of

            try:
                rec = record_of(t, self.run_id)
                rec.checkpoint = capture_checkpoint(t)  # weights + optimizer state: the run can continue
                box["record"] = rec
            finally:
                done.set()

        if self.with_trainer(grab) and not done.wait(timeout):
            raise SessionError("the engine did not answer in time; try again")
        return box.get("record")

    def add_session_part(self, part: Callable[[Session], None]) -> None:
        """Something (a view) that adds what it alone holds to a session being saved."""
        self._session_parts.append(part)

    def snapshot(self, extra: Session | None = None) -> Session:
        """The session as it stands now (what File ▸ Save writes, autosave and export read):
        what the session parts add (the comparison, the playground race, surfaces), then the
        current run first, or the opened session's runs when there is no run."""
        session = extra or Session()
        if extra is None:
            for part in self._session_parts:
                part(session)
        record = self.current_record()
        if record is not None:
            session.runs.insert(0, record)
        elif self.session is not None and not session.runs:
            session.runs = list(self.session.runs)
        return session

    def save(self, path: str | Path, extra: Session | None = None) -> Path:
        """Save the snapshot atomically (`extra`: a session the parts were already added to)."""
        session = self.snapshot(extra)
        out = save_session(session, path)
        self.session, self.session_path = session, Path(path)
        return out

    def continue_saved(self, record: RunRecord, epochs: int | None = None, paused: bool = False) -> None:
        """Continue a saved run from its weights and optimizer state (same batches it would have seen).
        Raises CheckpointError when the record has no checkpoint or asks for no more epochs."""
        from engine.session import CheckpointError, continue_run

        if record.checkpoint is None:
            raise CheckpointError(f"run '{record.name}' was saved without weights; it cannot be continued")
        done = int(record.checkpoint.meta.get("epoch", 0))
        epochs = epochs or max(record.config.train.epochs, done + 1)

        def factory(config, emit, run_id):
            import torch

            t, rng = continue_run(record, epochs if epochs != record.config.train.epochs else None, emit, run_id)
            torch.set_rng_state(rng)
            return t

        self.config = record.config.with_updates({"train.epochs": epochs})
        self.config_changed.emit(self.config)
        self._new_worker()
        assert self.worker is not None
        self.worker.trainer_factory = factory
        self.state = RunState.BUILDING
        self.continued_from = record  # views show the saved history before the new steps
        self.run_started.emit(self.run_id, self.config)
        self.continued_from = None
        self.worker.start(paused=paused)

    def open(self, path: str | Path) -> Session:
        """Open a session: stop the current run, show the session's runs."""
        session = load_session(path)  # raises SessionError; the current work is untouched
        self.show_session(session, Path(path))
        return session

    def show_session(self, session: Session, path: Path | None = None) -> None:
        if self.worker is not None:
            self.worker.shutdown(timeout=2.0)
            self.worker = None
        self.run_id = ""  # events still in flight from the old run are ignored
        self.session, self.session_path = session, path
        if session.runs:
            self.set_config(session.runs[0].config)
        self.state = RunState.REPLAY
        self.state_changed.emit(RunState.REPLAY, f"showing {path.name if path else 'session'}")
        self.session_loaded.emit(session)
