"""--jobs 2: two trials train at the same time in two worker processes, with --jobs 1's results."""

from __future__ import annotations

import pytest

from engine.config import ExperimentConfig
from engine.jobs import run_job
from engine.tuning.search import SearchRun, SearchSettings
from engine.tuning.space import parse_space
from engine.tuning.worker import threads_per_worker, usable_cores


@pytest.mark.skipif(usable_cores() < 2, reason="two worker processes need two cores")
def test_two_jobs_overlap_and_match_one_job_on_a_seeded_grid(one_torch_thread) -> None:
    base = ExperimentConfig().with_updates(
        {"data.name": "moons", "data.n_samples": 200, "model.hidden": [8], "train.epochs": 2, "optim.name": "sgd"}
    )
    space = parse_space(["optim.lr=log:1e-2:1", "train.batch_size=choice:16,32"])

    def results(jobs: int):
        settings = SearchSettings(base, space, trials=6, sampler="grid", grid_points=3, jobs=jobs, seed=0)
        return run_job(SearchRun(settings).job())

    results(2)  # starts two workers: the first one up would train these short trials alone until the other is
    one, two = results(1), results(2)
    key = lambda t: (round(t.params["optim.lr"], 9), t.params["train.batch_size"])  # noqa: E731 - a sort key
    assert sorted(map(key, one.complete)) == sorted(map(key, two.complete)) and len(two.complete) == 6
    by_one = {key(t): t.score for t in one.complete}
    for t in two.complete:  # the same trial trains the same in a worker process (one thread each)
        assert t.score == pytest.approx(by_one[key(t)], rel=1e-6)
    workers = {t.worker for t in two.trials}
    assert len(workers) == 2
    spans = sorted((t.t_start, t.t_end, t.worker) for t in two.trials)
    overlapping = [(a, b) for i, a in enumerate(spans) for b in spans[i + 1 :] if b[0] < a[1] and a[2] != b[2]]
    assert overlapping, "no two trials ran at the same time"
    assert threads_per_worker(2, cores=2) == 1 and threads_per_worker(3, cores=16) == 5
