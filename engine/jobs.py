"""Long work that is not training — a loss surface, a playground race, a line between two
runs — as one kind of thing: a job.

A job is a generator. It yields `Progress` at points where it may stop (between batches,
chunks, splits) and returns its result (the generator's return value). Whoever runs it
decides where: `run_job` runs one here and now (the CLI, tests); the desktop runs the same
generator on a worker thread (desktop/jobs.py). Cancelling closes the generator at its
next yield, so a job's `finally` blocks run and nothing half-done is returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from engine.states import RunState

R = TypeVar("R")


@dataclass(frozen=True)
class Progress:
    """How far a job is (0..1), what it is doing, and optionally a partial result to show
    (e.g. a coarse surface)."""

    fraction: float
    message: str = ""
    preview: Any = None


Job = Generator[Progress, None, R]


class JobCancelled(Exception):
    """The job was cancelled before its end; it has no result."""


def call_job(fn: Callable[..., R], *args: Any, **kwargs: Any) -> Job[R]:
    """A plain function as a job without progress (it cannot stop before its end)."""
    return fn(*args, **kwargs)
    yield  # unreachable: makes this function a generator


def cancellable(job: Job[R], cancelled: Callable[[], bool]) -> Job[R]:
    """`job` with a cancel check before each step: once `cancelled()` is true the job is
    closed at its yield point and JobCancelled raised."""
    try:
        while True:
            if cancelled():
                job.close()
                raise JobCancelled("cancelled")
            try:
                progress = next(job)
            except StopIteration as stop:
                return stop.value
            yield progress
    finally:
        job.close()


class JobRun:
    """One run of a job: its state (RUNNING, FINISHED, CANCELLED or ERROR), the last
    progress, the result or the error message. `cancel()` may be called from any thread;
    `cancelled`, when given, is asked before each step too."""

    def __init__(self, job: Job, cancelled: Callable[[], bool] | None = None) -> None:
        self.job = job
        self._asked = cancelled
        self.state = RunState.IDLE
        self.progress = Progress(0.0)
        self.result: Any = None
        self.error = ""
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        if not self._cancel.is_set() and self._asked is not None and self._asked():
            self._cancel.set()
        return self._cancel.is_set()

    def run(self, on_progress: Callable[[Progress], None] | None = None) -> Any:
        """Run the job to its end here; returns its result, raises JobCancelled or the job's error."""
        self.state = RunState.RUNNING
        gen = cancellable(self.job, lambda: self.cancelled)
        try:
            while True:
                try:
                    p = next(gen)
                except StopIteration as stop:
                    self.result = stop.value
                    self.state = RunState.FINISHED
                    return self.result
                self.progress = p
                if on_progress is not None:
                    on_progress(p)
        except JobCancelled:
            self.state = RunState.CANCELLED
            raise
        except Exception as e:
            self.state = RunState.ERROR
            self.error = error_message(e)
            raise


def run_job(
    job: Job[R], on_progress: Callable[[Progress], None] | None = None, cancelled: Callable[[], bool] | None = None
) -> R:
    """Run a job synchronously: its result; JobCancelled once `cancelled()` turns true."""
    return JobRun(job, cancelled).run(on_progress)


def error_message(e: BaseException) -> str:
    """One line for a failed job: the project's own errors (ValueError, RuntimeError and their
    subclasses such as LandscapeError) speak for themselves; others are named."""
    return str(e) if isinstance(e, (ValueError, RuntimeError)) else f"{type(e).__name__}: {e}"
