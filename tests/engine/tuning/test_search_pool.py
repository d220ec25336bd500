"""The warm worker pool: workers outlive a search and serve the next; a worker that dies
mid-trial fails that trial with a message, is replaced, and the search goes on."""

from __future__ import annotations

import os
import signal

import pytest

from engine.config import ExperimentConfig
from engine.jobs import run_job
from engine.states import RunState
from engine.tuning.search import SearchRun, SearchSettings
from engine.tuning.space import parse_space
from engine.tuning.worker import POOL, usable_cores

pytestmark = pytest.mark.skipif(usable_cores() < 2, reason="two worker processes need two cores")


def _settings(trials: int, epochs: int) -> SearchSettings:
    base = ExperimentConfig().with_updates(
        {"data.name": "moons", "data.n_samples": 200, "model.hidden": [8], "train.epochs": epochs}
    )
    return SearchSettings(base, parse_space(["optim.lr=log:1e-2:1"]), trials=trials, jobs=2, seed=0)


def test_workers_stay_warm_across_searches_and_a_crashed_one_fails_only_its_trial(one_torch_thread) -> None:
    first = run_job(SearchRun(_settings(4, 2)).job())
    started = POOL.started
    assert len(first.complete) == 4 and POOL.idle() == 2
    assert sorted(POOL.idle_pids()) == sorted({int(t.worker.split("@")[0]) for t in first.trials})
    second = run_job(SearchRun(_settings(4, 2)).job())
    assert len(second.complete) == 4
    assert POOL.started == started  # no new process: the same two workers trained both searches
    assert {t.worker for t in second.trials} == {t.worker for t in first.trials}
    pair = run_job(SearchRun(_settings(2, 2)).job())
    assert len(pair.complete) == 2 and len({t.worker for t in pair.trials}) == 2  # one trial on each worker

    job = SearchRun(_settings(6, 400)).job()  # long trials: killed mid-training
    killed: set[str] = set()
    snap = None
    try:
        while True:
            snap = next(job).preview
            busy = {t.worker for t in snap.trials if t.state == RunState.RUNNING and t.worker}
            if not killed and len(busy) == 2:
                killed = busy
                for w in busy:
                    os.kill(int(w.split("@")[0]), signal.SIGKILL)
            if killed and sum(t.state == RunState.ERROR for t in snap.trials) == 2:
                break
    finally:
        job.close()  # the other trials would train for long: stop the search here
    assert snap is not None
    failed = [t for t in snap.trials if t.state == RunState.ERROR]
    assert len(failed) == 2 and {t.worker for t in failed} == killed
    assert all("worker process ended unexpectedly (exit code -9)" in t.message for t in failed)
    assert all(len(t.curve) >= 1 for t in failed)  # the epochs it trained before it died are kept
    assert POOL.started == started + 2  # each crashed worker was replaced; the search went on
    assert RunState.FINISHED not in {t.state for t in snap.trials}
