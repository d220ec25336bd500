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


class _Parent:
    """The parent's end of a worker's pipe: answers each epoch report, stopping at `stop_at`."""

    def __init__(self, stop_at: int, trained: list[int]) -> None:
        self.stop_at, self.trained = stop_at, trained
        self.reports: list[int] = []
        self.trained_when_answered: list[int] = []

    def send(self, msg: tuple) -> None:
        assert msg[0] == "epoch"
        self.reports.append(msg[1]["epoch"])

    def recv(self) -> tuple:
        self.trained_when_answered.append(len(self.trained))
        return ("go", self.reports[-1] < self.stop_at)


def _counting(gen, trained: list[int]):
    """The trial's generator, noting each epoch it has trained."""
    report = next(gen)
    while True:
        trained.append(report.epoch)
        go = yield report
        try:
            report = gen.send(go)
        except StopIteration as stop:
            return stop.value


@pytest.mark.parametrize("stop_at", [1, 2, 3])
def test_a_worker_trains_on_while_the_pruner_decides_and_a_stop_gives_the_same_outcome(stop_at: int) -> None:
    from engine.tuning.trial import TrialTask, trial_epochs
    from engine.tuning.worker import _run

    base = ExperimentConfig().with_updates(
        {"data.name": "moons", "data.n_samples": 200, "model.hidden": [8], "train.epochs": 3, "seed": 3}
    )
    task = TrialTask(0, base.model_dump_json(), prune=True)
    reference = trial_epochs(task)  # the pruner's answer awaited after each epoch
    report = next(reference)
    try:
        while True:
            report = reference.send(report.epoch < stop_at)
    except StopIteration as stop:
        expected = stop.value
    trained: list[int] = []
    parent = _Parent(stop_at, trained)
    got = _run(parent, task, _counting(trial_epochs(task), trained))  # type: ignore[arg-type]  # a stand-in pipe
    assert got is not None
    assert (got.state, got.message) == (expected.state, expected.message)
    assert got.curve == expected.curve and got.train_curve == expected.train_curve
    assert got.val_acc == expected.val_acc and got.fold_scores == expected.fold_scores
    assert parent.reports == list(range(1, min(stop_at, 3) + 1))  # the parent saw what it always saw
    # each answer was read once the next epoch had trained (none after the last epoch)
    assert parent.trained_when_answered == [min(e + 1, 3) for e in parent.reports]


def test_a_seeded_pruned_search_prunes_the_same_trials_in_a_worker_as_in_process(one_torch_thread) -> None:
    def settings(in_process: bool) -> SearchSettings:
        base = ExperimentConfig().with_updates(
            {"data.name": "moons", "data.n_samples": 200, "model.hidden": [8], "train.epochs": 4, "optim.name": "sgd"}
        )
        space = parse_space(["optim.lr=log:1e-4:1"])
        return SearchSettings(base, space, trials=8, jobs=1, seed=1, pruner="median", in_process=in_process)

    here = run_job(SearchRun(settings(True)).job())
    worker = run_job(SearchRun(settings(False)).job())
    assert {t.worker for t in worker.trials} != {t.worker for t in here.trials}  # it did run in a worker
    states = lambda s: [(round(t.params["optim.lr"], 12), t.state, t.curve) for t in s.trials]  # noqa: E731
    assert states(worker) == states(here)
    assert sum(t.state == RunState.PRUNED for t in here.trials) >= 2  # the pruner did stop trials
