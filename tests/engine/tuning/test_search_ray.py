"""--ray for real: a two-node Ray cluster on 127.0.0.1 started (and shut down) by the test, a
6-trial search through Ray Tune, trials on both nodes, results equal to a local seeded run; a
second search on the same connection runs in the same Tune run, Tune trial process and warm
trial hosts, as one batch; an ASHA search keeps one Optuna trial per Tune trial. A search's
ask/tell through the shared Tune run without a cluster."""

from __future__ import annotations

import math
import os
import re
import signal
import time
from pathlib import Path

import pytest

from engine.config import ExperimentConfig
from engine.jobs import run_job
from engine.states import RunState
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

    from engine.tuning.ray_backend import RaySearch, disconnect, session_info

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    # the cluster's workers import this checkout's engine
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    small = {"num_cpus": 1, "object_store_memory": 80 * 1024**2, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=small)
    try:
        cluster.add_node(num_cpus=1, object_store_memory=80 * 1024**2)
        cluster.wait_for_nodes()
        snap = run_job(RaySearch(_settings(), cluster.address).job())
        first = session_info()
        # the same search again on the same connection: the same Tune run, its Tune trial in the
        # same (cached) actor process, trained by the same warm hosts
        again = run_job(RaySearch(_settings(), cluster.address).job())
        second = session_info()
        settings = _settings()
        settings.pruner, settings.trials, settings.sampler = "asha", 4, "random"
        asha = run_job(RaySearch(settings, cluster.address).job())
        third = session_info()
        settings.seed = 1
        asha_again = run_job(RaySearch(settings, cluster.address).job())
        fourth = session_info()
        # Stop (Ctrl+C, the Stop button) in the middle of a long search, then a search after it
        many = _settings()
        many.trials, many.sampler = 300, "random"
        stopping = RaySearch(many, cluster.address)
        job = stopping.job()
        for _progress in job:
            if len(stopping.snapshot.finished) >= 8:
                break
        job.close()
        after_stop = run_job(RaySearch(_settings(), cluster.address).job())
        fifth = session_info()
        # a trial host killed in the middle of a batch: the trial it was training fails, the search goes on
        hit = _settings()
        hit.trials, hit.sampler = 40, "random"
        killing = RaySearch(hit, cluster.address)
        job, killed, killed_node = killing.job(), 0, ""
        for _progress in job:
            done = killing.snapshot.finished
            if not killed and len(done) >= 5:
                killed, killed_node = int(_pid(done[-1].worker)), _node(done[-1].worker)
                os.kill(killed, signal.SIGKILL)
        survived = killing.snapshot
    finally:
        disconnect()  # the shared Tune run, then this process's connection
        cluster.shutdown()  # exactly the cluster this test started (never `ray stop`)
    assert not ray.is_initialized()
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
    # without a pruner, one Tune trial trains the whole search, in the process that ran the first search's
    assert any(n.startswith("round 1: 1 Ray Tune trials trained its 6 trials on 2 slots") for n in again.notes)
    assert first["key"] == second["key"] == third["key"] and third["running"]  # one Tune run for all three
    assert len(first["tune_pids"]) == 1 and second["tune_pids"] == first["tune_pids"]
    assert second["tune_trials"] == 2 and third["tune_trials"] == 6
    # with ASHA, each Optuna trial is its own Tune trial, reported epoch by epoch (and may be pruned)
    assert len(asha.finished) == 4 and not any("batch" in n for n in asha.notes)
    assert all(t.state in ("finished", "pruned") and len(t.curve) >= 1 for t in asha.trials)
    # a trial that reached its last epoch finished (ASHA stops it there: its outcome comes with that report)
    assert any(t.state == "finished" and len(t.curve) == 2 and t.score == t.curve[-1] for t in asha.trials)
    # trained epoch by epoch on a host, a pruned search's trial trains as it does here
    from engine.tuning.space import trial_config
    from engine.tuning.trial import TrialTask, run_trial

    ran = next(t for t in asha.trials if t.state == "finished")
    config, _notes = trial_config(settings.base, ran.params)
    assert run_trial(TrialTask(-1, config.model_dump_json())).curve == pytest.approx(list(ran.curve), rel=1e-6)
    # the next pruned search starts in the Tune trial process the last one left (Tune keeps one)
    asha_pids, again_pids = set(third["tune_pids"]) - set(second["tune_pids"]), set(fourth["tune_pids"])
    assert len(asha_again.finished) == 4 and len(again_pids - set(third["tune_pids"])) < len(asha_pids)
    stopped = stopping.snapshot
    assert stopped.state == RunState.CANCELLED and 8 <= len(stopped.finished) < 300
    assert {t.state for t in stopped.trials} <= {RunState.FINISHED, RunState.STOPPED}  # none left running
    assert fifth["key"] == first["key"] and len(after_stop.complete) == 6  # the shared run went on
    assert sorted(by_local.values()) == pytest.approx(sorted(t.score for t in after_stop.complete), rel=1e-6)
    failed = [t for t in survived.trials if t.state == RunState.ERROR]
    assert len(survived.trials) == 40 and len(failed) <= 1 and len(survived.complete) == 40 - len(failed)
    assert all(t.message.startswith("the Ray worker failed") for t in failed)
    restarted = {_pid(t.worker) for t in survived.complete if _node(t.worker) == killed_node} - {str(killed)}
    assert killed and restarted  # Ray restarted the host on its node, and it trained the trials sent there after


class _FakeOptunaSearch:
    """Stands for Ray's OptunaSearch: records what it is asked and told."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.told: dict[str, tuple] = {}

    def suggest(self, trial_id: str) -> dict:
        self.asked.append(trial_id)
        return {"__values": {"optim.lr": 0.1 * len(self.asked)}, "__config": f"config {len(self.asked)}"}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        pass

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        self.told[trial_id] = (result, error)


class _Call:
    def __init__(self, log: list, name: str) -> None:
        self.log, self.name = log, name

    def remote(self, *args):
        self.log.append((self.name, *args))


class _FakeBroker:
    """Stands for the connection's HostBroker: records what the driver queues for the batches."""

    def __init__(self) -> None:
        self.log: list[tuple] = []
        self.put, self.drop = _Call(self.log, "put"), _Call(self.log, "drop")

    def queued(self) -> list:
        return [item for call in self.log if call[0] == "put" for item in call[2]]


def _entry(batched: bool, budget: int, slots: int = 2):
    from ray.tune.schedulers import FIFOScheduler

    from engine.tuning.ray_session import SearchEntry

    entry = SearchEntry(
        "s1", _FakeOptunaSearch(), FIFOScheduler(), batched=batched, budget=budget, slots=slots, folds=1, threads=1,
        broker="b",
    )  # fmt: skip
    entry.broker = _FakeBroker()
    return entry


def test_a_batch_search_is_one_tune_trial_whose_optuna_trials_are_asked_ahead_and_told_as_they_report() -> None:
    from engine.tuning.ray_session import METRIC

    entry = _entry(batched=True, budget=5)
    config = entry.suggest("T1")
    assert config["__mode"] == "batch" and config["__bundles"] == 2  # one CPU on each of the 2 slots
    assert entry.inner.asked == ["T1#0", "T1#1", "T1#2", "T1#3"]  # two per slot, queued for the hosts
    assert [i["id"] for i in entry.broker.queued()] == entry.inner.asked
    assert entry.suggest("T2") is None  # one Tune trial trains the whole search
    entry.result("T1", {"running": ["T1#0", "T1#1"]})  # the batch's first report tells nothing
    assert entry.inner.told == {}
    entry.result("T1", {"member": "T1#0", "trial_state": "finished", "trial_score": 0.25})
    assert entry.inner.told == {"T1#0": ({METRIC: 0.25}, False)}  # told as soon as it reported
    assert entry.inner.asked[-1] == "T1#4" and entry.broker.queued()[-1] is None  # the 5th, then the end mark
    entry.result("T1", {"member": "T1#1", "trial_state": "diverged", "trial_score": math.nan})
    assert entry.inner.told["T1#1"] == (None, True)  # a diverged trial is a failed Optuna trial
    assert len(entry.inner.asked) == 5 and not entry.done.is_set()
    entry.complete("T1", None, error=False)  # T1#2..4 never reported (the trial was stopped): failed
    assert {m for m, (_r, err) in entry.inner.told.items() if err} == {"T1#1", "T1#2", "T1#3", "T1#4"}
    assert entry.done.is_set() and ("drop", "s1") in entry.broker.log
    kinds = [entry.events.get_nowait()[0] for _ in range(entry.events.qsize())]
    assert kinds == ["complete", "end"]


def test_a_batch_whose_tune_trial_failed_goes_on_in_a_new_one_and_a_stop_ends_it() -> None:
    entry = _entry(batched=True, budget=10, slots=1)
    entry.suggest("T1")
    entry.complete("T1", None, error=True)  # the Tune trial's actor died: its two members failed
    assert not entry.done.is_set()
    assert entry.suggest("T2") is not None and entry.inner.asked[-2:] == ["T2#2", "T2#3"]
    entry.request_stop()
    assert entry.broker.queued()[-1] is None  # the batch ends after the trials it has started
    assert entry.suggest("T3") is None
    entry.complete("T2", None, error=False)
    assert entry.done.is_set() and len(entry.inner.asked) == 4


def test_a_pruned_search_has_one_tune_trial_per_optuna_trial_up_to_its_slots() -> None:
    entry = _entry(batched=False, budget=3, slots=2)
    first, second = entry.suggest("A"), entry.suggest("B")
    assert first["__mode"] == "single" and first["__config"] == "config 1" and second["__bundles"] == 1
    assert entry.suggest("C") is None  # two at once
    entry.complete("A", {"val_loss": 0.5}, error=False)
    assert entry.inner.told["A"] == ({"val_loss": 0.5}, False)
    assert entry.suggest("C") is not None and entry.suggest("D") is None  # the budget of 3 is asked
    entry.complete("B", None, error=True)
    assert not entry.done.is_set()
    entry.complete("C", {"val_loss": 0.1}, error=False)
    assert entry.done.is_set()


def test_the_shared_tune_run_routes_searches_and_ends_when_idle(monkeypatch) -> None:
    from ray.tune.search import Searcher

    from engine.tuning import ray_session
    from engine.tuning.ray_session import TuneSession

    session = TuneSession(_FakeBroker(), "b", max_concurrent=2)  # its Tune run is not started here
    try:
        entry = _entry(batched=True, budget=2)
        assert session.register(entry) and entry.broker is session.broker
        assert session.suggest("T1")["__search"] == "s1" and session.scheduler_of("T1") is entry.scheduler
        assert session.suggest("T2") is None  # a trial runs: Tune's loop goes on at once
        session.result("T1", {"member": "T1#0", "trial_state": "finished", "trial_score": 0.2})
        session.complete("T1", None, error=False)
        assert entry.done.is_set() and session.scheduler_of("T1") is None
        session.unregister(entry)
        monkeypatch.setattr(ray_session, "IDLE_S", 0.3)
        t = time.monotonic()
        assert session.suggest("T3") == Searcher.FINISHED  # idle past IDLE_S: the run ends
        assert 0.1 < time.monotonic() - t < 2 and session.closing
        assert not session.register(_entry(batched=True, budget=2))  # a new search starts a new run
    finally:
        session.discard()
