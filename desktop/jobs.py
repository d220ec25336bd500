"""Engine jobs (engine/jobs.py) off the GUI thread, their progress and result on it.

One mechanism for every long piece of work that is not training: a surface, a race, a
line between runs, a data report. Each job runs as a superqt GeneratorWorker on this
runner's own thread pool (so `shutdown` can wait for exactly these threads); progress,
result and error come back through the worker's signals to a JobHandle living on the GUI
thread. A newer job under the same key supersedes the older one: the older is cancelled at
its next yield and nothing it produces later is delivered.

The job's own exceptions never reach superqt: the worker's generator turns them into a
value (superqt treats a RuntimeError from a worker as "the worker was deleted" and
reports nothing), so every error arrives as one message through `on_error`.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot

from engine.jobs import Job, JobCancelled, Progress, call_job, cancellable, error_message
from engine.states import RunState

MAX_THREADS = 4  # concurrent jobs (a surface, a line and a race may run together)


@dataclass(frozen=True)
class _Failed:
    message: str


@dataclass(frozen=True)
class _Cancelled:
    pass


def _drive(handle: JobHandle, job: Job) -> Job:
    """The worker thread's generator: the job's progress, then its result or a _Failed."""
    try:
        return (yield from cancellable(job, handle.is_cancel_requested))
    except JobCancelled:
        return _Cancelled()
    except Exception as e:  # noqa: BLE001 - delivered to on_error on the GUI thread
        return _Failed(error_message(e))
    finally:
        handle.ended.set()


class JobHandle(QObject):
    """One submitted job: its state (RUNNING, then FINISHED, CANCELLED or ERROR), last
    progress, result or error. Callbacks run on the GUI thread, never after `cancel()`."""

    over = Signal(object)  # this handle: its worker has finished (the runner lets it go)

    def __init__(
        self,
        key: str,
        on_result: Callable[[Any], None] | None,
        on_progress: Callable[[Progress], None] | None,
        on_error: Callable[[str], None] | None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.key = key
        self.state = RunState.RUNNING
        self.progress = Progress(0.0)
        self.result: Any = None
        self.error = ""
        self.ended = threading.Event()  # set on the worker thread when the job stops
        self._cancel = threading.Event()
        self._on_result, self._on_progress, self._on_error = on_result, on_progress, on_error
        self.worker: Any = None

    def attach(self, worker: Any) -> None:
        """Receive the superqt worker's signals (queued onto this object's GUI thread)."""
        self.worker = worker
        worker.yielded.connect(self._on_worker_yielded)
        worker.returned.connect(self._on_worker_returned)
        worker.finished.connect(self._on_worker_finished)

    @property
    def running(self) -> bool:
        """Submitted and neither delivered nor cancelled yet (False at once after cancel())."""
        return self.state == RunState.RUNNING

    @property
    def computing(self) -> bool:
        """The worker thread is still on it (its result may not be delivered yet)."""
        return self.state == RunState.RUNNING and not self.ended.is_set()

    def is_cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop at the job's next yield; nothing more is delivered."""
        self._cancel.set()
        if self.state == RunState.RUNNING:
            self.state = RunState.CANCELLED

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job's thread has stopped working on it (tests, shutdown)."""
        return self.ended.wait(timeout)

    @Slot(object)
    def _on_worker_yielded(self, p: Progress) -> None:
        if self.state != RunState.RUNNING:
            return
        self.progress = p
        if self._on_progress is not None:
            self._on_progress(p)

    @Slot(object)
    def _on_worker_returned(self, value: Any) -> None:
        if self.state != RunState.RUNNING:
            return
        if isinstance(value, _Cancelled):
            self.state = RunState.CANCELLED
        elif isinstance(value, _Failed):
            self.state, self.error = RunState.ERROR, value.message
            if self._on_error is not None:
                self._on_error(value.message)
        else:
            self.state, self.result = RunState.FINISHED, value
            if self._on_result is not None:
                self._on_result(value)

    @Slot()
    def _on_worker_finished(self) -> None:
        self.over.emit(self)


class JobRunner(QObject):
    """Runs engine jobs off the GUI thread: `submit(key, job, on_result, on_progress, on_error)`."""

    def __init__(self, parent: QObject | None = None, max_threads: int = MAX_THREADS) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._handles: dict[str, JobHandle] = {}  # the current job of each key
        self._live: set[JobHandle] = set()  # every handle whose worker has not finished
        self._retired: list[JobHandle] = []  # finished, let go on the event loop's next turn

    def submit(
        self,
        key: str,
        job: Job | Callable[[], Any],
        on_result: Callable[[Any], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> JobHandle:
        """Start `job` (a generator, or a plain function called on the worker thread),
        cancelling the job still running under `key`."""
        from superqt.utils import create_worker

        self.cancel(key)
        if not inspect.isgenerator(job):
            job = call_job(job)
        handle = JobHandle(key, on_result, on_progress, on_error)
        handle.attach(create_worker(_drive, handle, job, _start_thread=False, _ignore_errors=True))
        handle.over.connect(self._on_handle_over)
        self._handles[key] = handle
        self._live.add(handle)  # the worker lives as long as its handle
        self.pool.start(handle.worker)
        return handle

    @Slot(object)
    def _on_handle_over(self, handle: JobHandle) -> None:
        if self._handles.get(handle.key) is handle and not handle.running:
            del self._handles[handle.key]
        # The handle (with its worker) is let go on a later turn of the event loop. Let go here,
        # its last reference was the bound slot PySide was still delivering the worker's queued
        # `finished` to, and the QObject was destroyed inside that call: a segfault in
        # Shiboken's override lookup from ~QObject (about 1 run in 4 of the diagnostics test).
        self._retired.append(handle)
        QTimer.singleShot(0, self._release_retired)

    def _release_retired(self) -> None:
        retired, self._retired = self._retired, []
        self._live.difference_update(retired)

    def handle(self, key: str) -> JobHandle | None:
        return self._handles.get(key)

    def busy(self, key: str) -> bool:
        h = self._handles.get(key)
        return h is not None and h.running

    def cancel(self, key: str) -> None:
        h = self._handles.pop(key, None)
        if h is not None:
            h.cancel()

    def cancel_all(self) -> None:
        for key in list(self._handles):
            self.cancel(key)

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Cancel every job and wait for the pool's threads (the window is closing)."""
        handles = list(self._live)
        self.cancel_all()
        for h in handles:
            h.cancel()
        self.pool.clear()  # queued jobs never start
        ok = self.pool.waitForDone(int(timeout * 1000))
        for h in handles:
            h.ended.set()
        return ok


_default: JobRunner | None = None


def default_runner() -> JobRunner:
    """The runner of views used without an AppController (a stand-alone playground)."""
    global _default
    if _default is None:
        _default = JobRunner()
    return _default


def runner_for(controller: Any) -> JobRunner:
    """The controller's runner, or the stand-alone one."""
    jobs = getattr(controller, "jobs", None)
    return jobs if isinstance(jobs, JobRunner) else default_runner()
