"""--ray for real: a two-node Ray cluster on 127.0.0.1 started (and shut down) by the test, a
6-trial search through Ray Tune, trials on both nodes, results equal to a local seeded run."""

from __future__ import annotations

import os
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
    finally:
        ray.shutdown()  # this process's connection, then exactly the cluster this test started (never `ray stop`)
        cluster.shutdown()
    assert len(snap.complete) == 6
    assert len({t.worker for t in snap.trials}) == 2, "the trials did not run on both nodes"
    local = run_job(SearchRun(_settings()).job())
    key = lambda t: (round(t.params["optim.lr"], 9), t.params["train.batch_size"])  # noqa: E731 - a sort key
    by_local = {key(t): t.score for t in local.complete}
    assert sorted(by_local) == sorted(key(t) for t in snap.complete)
    for t in snap.complete:  # the same trial trains the same on a Ray worker
        assert t.score == pytest.approx(by_local[key(t)], rel=1e-6)
