"""--ray for real: a two-node Ray cluster on 127.0.0.1 started (and shut down) by the test, a
6-trial search through Ray Tune, trials on both nodes, results equal to a local seeded run; a
second search on the same connection trains in the same warm processes, in batches; an ASHA
search keeps one Optuna trial per Tune trial. Batch sizing and the batch searcher's ask/tell
without a cluster."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from engine.config import ExperimentConfig
from engine.jobs import run_job
from engine.tuning.search import SearchError, SearchRun, SearchSettings
from engine.tuning.space import parse_space

ray = pytest.importorskip("ray", reason="the cluster extra (ray[tune]) is not installed")
ROOT = Path(__file__).resolve().parents[3]


def _settings() -> SearchSettings:
    base = ExperimentConfig().with_updates(
        {"data.name": "moons", "data.n_samples": 200, "model.hidden": [8], "train.epochs": 2, "optim.name": "sgd"}
    )
    space = parse_space(["optim.lr=log:1e-2:1", "train.batch_size=choice:16,32"])
    return SearchSettings(base, space, trials=6, sampler="grid", grid_points=3, seed=0)


def test_a_dead_address_fails_in_seconds_and_rays_optuna_search_works() -> None:
    from engine.tuning.ray_backend import PROBE_TIMEOUT_S, RaySearch, ray_space_check

    assert PROBE_TIMEOUT_S <= 5  # a dead address fails within seconds, not ray.init's minutes
    with pytest.raises(SearchError, match="no Ray cluster answers"):
        RaySearch(_settings(), "127.0.0.1:9")  # the discard port: nothing listens
    assert not ray.is_initialized()  # refused before connecting
    with pytest.raises(SearchError, match="HOST:PORT"):
        RaySearch(_settings(), "nowhere")
    ray_space_check(parse_space(["optim.lr", "optim.name=choice:sgd,adam", "optim.betas=choice:0.9,0.999;0.5,0.9"]))


def _node(worker: str) -> str:
    found = re.match(r"node (\w+)", worker)
    assert found, worker
    return found.group(1)


def _pid(worker: str) -> str:
    found = re.search(r"\((\d+)@", worker)
    assert found, worker
    return found.group(1)


def test_ray_search_on_a_two_node_local_cluster(monkeypatch, one_torch_thread) -> None:
    from ray.cluster_utils import Cluster

    from engine.tuning.ray_backend import RaySearch

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    # the cluster's workers import this checkout's engine
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    small = {"num_cpus": 1, "object_store_memory": 80 * 1024**2, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=small)
    try:
        cluster.add_node(num_cpus=1, object_store_memory=80 * 1024**2)
        cluster.wait_for_nodes()
        snap = run_job(RaySearch(_settings(), cluster.address).job())
        # the same search again on the same connection: the warm hosts train it, in batches
        # sized from the first search's trial lengths
        again = run_job(RaySearch(_settings(), cluster.address).job())
        settings = _settings()
        settings.pruner, settings.trials, settings.sampler = "asha", 4, "random"
        asha = run_job(RaySearch(settings, cluster.address).job())
    finally:
        ray.shutdown()  # this process's connection, then exactly the cluster this test started (never `ray stop`)
        cluster.shutdown()
    assert len(snap.complete) == 6
    assert len({_node(t.worker) for t in snap.trials}) == 2, "the trials did not run on both nodes"
    local = run_job(SearchRun(_settings()).job())
    key = lambda t: (round(t.params["optim.lr"], 9), t.params["train.batch_size"])  # noqa: E731 - a sort key
    by_local = {key(t): t.score for t in local.complete}
    assert sorted(by_local) == sorted(key(t) for t in snap.complete)
    for t in [*snap.complete, *again.complete]:  # the same trial trains the same on a Ray worker
        assert t.score == pytest.approx(by_local[key(t)], rel=1e-6)
        assert len(t.curve) == 2 and t.t_end > t.t_start
    assert len(again.complete) == 6 and len({t.number for t in again.trials}) == 6
    # one warm host process per node trained both searches
    pids = {_pid(t.worker) for t in snap.trials}
    assert {_pid(t.worker) for t in again.trials} <= pids and len(pids) == 2
    # without a pruner, fewer Tune trials than trials: the second search's first batches are already full
    tune_trials = int(re.search(r"(\d+) Ray Tune trials trained its 6 trials", again.notes[-1]).group(1))
    assert tune_trials < 6
    # with ASHA, each Optuna trial is its own Tune trial, reported epoch by epoch (and may be pruned)
    assert len(asha.finished) == 4 and not any("batch" in n for n in asha.notes)
    assert all(t.state in ("finished", "pruned") and len(t.curve) >= 1 for t in asha.trials)


def test_batches_are_sized_from_the_trials_length_and_shrink_toward_the_end() -> None:
    from engine.tuning.ray_backend import batch_size

    assert batch_size(32, 2, []) == 1  # nothing measured yet
    assert batch_size(32, 2, [0.05] * 5) == 8  # 2 s would be 40 trials; a quarter of what is left
    assert batch_size(4, 2, [0.05]) == 1
    assert batch_size(1000, 2, [0.05, 0.05, 9.0]) == 40  # the median: 2 s / 50 ms
    assert batch_size(1000, 2, [5.0]) == 1  # long trials: one per Tune trial
    assert batch_size(0, 2, [0.05]) == 0


class _FakeOptunaSearch:
    """Stands for Ray's OptunaSearch: records what it is asked and told."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.told: dict[str, tuple] = {}

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict:
        self.asked.append(trial_id)
        return {"__values": {"optim.lr": 0.1 * len(self.asked)}, "__config": "{}"}

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        self.told[trial_id] = (result, error)


def test_the_batch_searcher_asks_and_tells_each_optuna_trial_on_its_own() -> None:
    from ray.tune.search import Searcher

    from engine.tuning.ray_backend import METRIC, batch_search

    inner = _FakeOptunaSearch()
    search = batch_search(inner, budget=5, slots=1, trial_s=[1.0])  # 2 trials per Tune trial, then 1
    first = search.suggest("a")
    assert [m["__values"]["optim.lr"] for m in first["__batch"]] == [0.1, 0.2] and inner.asked == ["a#0", "a#1"]
    search.on_trial_result("a", {"batch_index": 0, "trial_state": "finished", "trial_score": 0.5, "trial_s": 1.0})
    assert inner.told == {"a#0": ({METRIC: 0.5}, False)}  # told as soon as it reported
    search.on_trial_complete("a")  # a#1 never reported (the Tune trial failed or was stopped)
    assert inner.told["a#1"] == (None, True)
    assert len(search.suggest("b")["__batch"]) == 2
    search.on_trial_result("b", {"batch_index": 0, "trial_state": "diverged", "trial_score": math.nan})
    assert inner.told["b#0"] == (None, True)  # a diverged trial is a failed Optuna trial
    assert len(search.suggest("c")["__batch"]) == 1  # the fifth and last
    assert search.suggest("d") == Searcher.FINISHED
    assert len(inner.asked) == 5
