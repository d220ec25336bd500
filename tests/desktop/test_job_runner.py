"""The desktop's one job runner (desktop/jobs.py): engine jobs on worker threads, progress,
results and errors on the GUI thread; a newer job supersedes an older one; cancel and
shutdown stop the threads."""

from __future__ import annotations

import threading
import time

import pytest

from desktop.jobs import JobRunner
from engine.jobs import Progress
from engine.states import RunState

pytestmark = pytest.mark.gui


def steps(n: int, delay: float, threads: list[int], stopped: list[str] | None = None):
    try:
        for i in range(n):
            threads.append(threading.get_ident())
            time.sleep(delay)
            yield Progress((i + 1) / n, f"step {i + 1}")
        return f"done {n}"
    finally:
        if stopped is not None:
            stopped.append("stopped")


@pytest.fixture
def runner(qtbot):
    r = JobRunner()
    yield r
    assert r.shutdown(5.0)


def test_result_and_progress_arrive_on_the_gui_thread(runner, qtbot):
    gui = threading.get_ident()
    worker_threads: list[int] = []
    got: dict = {"progress": [], "threads": set()}

    def on_progress(p: Progress) -> None:
        got["progress"].append(p.fraction)
        got["threads"].add(threading.get_ident())

    def on_result(value) -> None:
        got["result"] = value
        got["threads"].add(threading.get_ident())

    h = runner.submit("a", steps(4, 0.01, worker_threads), on_result, on_progress)
    assert h.running and runner.busy("a")
    qtbot.waitUntil(lambda: "result" in got, timeout=5000)
    assert got["result"] == "done 4" and got["progress"] == [0.25, 0.5, 0.75, 1.0]
    assert got["threads"] == {gui}  # every callback on the GUI thread
    assert gui not in worker_threads  # the work itself off it
    assert h.state == RunState.FINISHED and h.result == "done 4" and not runner.busy("a")


def test_a_plain_function_and_errors(runner, qtbot):
    got: dict = {}
    runner.submit("f", lambda: 6 * 7, lambda v: got.setdefault("value", v))
    qtbot.waitUntil(lambda: "value" in got, timeout=5000)
    assert got["value"] == 42

    def broken():
        yield Progress(0.5)
        raise RuntimeError("the engine said no")  # superqt alone would swallow a RuntimeError

    h = runner.submit("e", broken(), on_error=lambda m: got.setdefault("error", m))
    qtbot.waitUntil(lambda: "error" in got, timeout=5000)
    assert got["error"] == "the engine said no" and h.state == RunState.ERROR
    h = runner.submit("k", lambda: {}["x"], on_error=lambda m: got.setdefault("key", m))
    qtbot.waitUntil(lambda: "key" in got, timeout=5000)
    assert got["key"] == "KeyError: 'x'"


def test_a_newer_job_supersedes_the_older(runner, qtbot):
    results: list[str] = []
    stopped: list[str] = []
    old = runner.submit("k", steps(1000, 0.005, [], stopped), results.append)
    qtbot.waitUntil(lambda: old.progress.fraction > 0, timeout=5000)
    new = runner.submit("k", steps(3, 0.005, []), results.append)
    assert old.state == RunState.CANCELLED and not old.running
    qtbot.waitUntil(lambda: results == ["done 3"], timeout=5000)
    assert old.wait(2.0) and stopped == ["stopped"]  # closed at a yield, its finally ran
    assert old.progress.fraction < 0.5 and new.state == RunState.FINISHED
    qtbot.wait(50)
    assert results == ["done 3"]  # the superseded result never arrives


def test_cancel_and_shutdown_join_the_threads(qtbot):
    runner = JobRunner()
    results: list[str] = []
    stopped: list[str] = []
    h = runner.submit("c", steps(1000, 0.005, [], stopped), results.append)
    qtbot.waitUntil(lambda: h.progress.fraction > 0, timeout=5000)
    runner.cancel("c")
    assert h.state == RunState.CANCELLED and h.wait(2.0) and stopped == ["stopped"]
    others = [runner.submit(f"s{i}", steps(1000, 0.005, [], stopped), results.append) for i in range(6)]
    t0 = time.perf_counter()
    assert runner.shutdown(5.0)
    assert time.perf_counter() - t0 < 2.0
    assert all(not o.running for o in others) and runner.pool.activeThreadCount() == 0
    qtbot.wait(50)
    assert results == []
