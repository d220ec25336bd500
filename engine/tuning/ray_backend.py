"""Scale-out: a search's trials as Ray Tune trials on an existing Ray cluster (`--ray ADDRESS`).

The same space (define-by-run through Ray's OptunaSearch, with the same Optuna sampler), the
same trials (engine/tuning/trial.py, run by warm trial hosts in Ray's worker processes) and the
same snapshot as a local search; pruning is Ray's own scheduler (ASHA, or the median stopping
rule). Ray is an optional extra (`pip install descent[cluster]`), imported only here and only
when asked for. Before connecting, the address is probed with a short TCP timeout, so a dead
address fails in seconds instead of hanging in ray.init.

Like the local worker pool, what a trial needs is kept warm: this process stays connected to
the cluster across searches (`connect`), the searches share one Ray Tune run
(engine/tuning/ray_session.py), so Tune's trial actors and their processes carry over from one
search to the next, and the processes that train (the connection's trial hosts) import torch
once and keep their data sets (by the config's data key) for the next trials they run.
`--jobs N` caps the trials running at once on the cluster; without it the cap is the cluster's
CPU count.

Without a pruner a search is one Tune trial that holds a CPU on each of its slots and trains the
search's Optuna trials on the warm hosts there, each asked from Ray's `OptunaSearch` just ahead
of its training and told as soon as it reports (engine/tuning/ray_relay.py). With a pruner
(ASHA, median, hyperband) each Optuna trial is its own Tune trial, trained on a warm host and
reported epoch by epoch, since Tune's scheduler stops Tune trials, not members of a batch.
"""

from __future__ import annotations

import math
import os
import queue
import socket
import time
from dataclasses import dataclass, replace
from typing import Any

from engine.config import ExperimentConfig
from engine.jobs import Job, Progress
from engine.states import RunState
from engine.tuning.ray_relay import METRIC
from engine.tuning.ray_session import SearchEntry, TuneSession
from engine.tuning.search import SearchError, SearchRun, SearchSettings, _suggest, make_sampler, shown_url
from engine.tuning.snapshot import SearchSnapshot, TrialRecord
from engine.tuning.space import SearchSpace, sample, trial_config
from engine.tuning.trial import TrialOutcome

INSTALL_HINT = "--ray needs Ray Tune: pip install 'descent[cluster]' (or pip install 'ray[tune]')"
PROBE_TIMEOUT_S = 3.0


def require_ray() -> Any:
    """The ray module with Tune and its Optuna searcher; SearchError with what to install."""
    try:
        import ray
        from ray import tune  # noqa: F401 - checks that the tune extra is there
        from ray.tune.search.optuna import OptunaSearch  # noqa: F401 - checks Ray's Optuna integration
    except ImportError:
        raise SearchError(INSTALL_HINT) from None
    return ray


def probe_address(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Refuse, within `timeout` seconds, an address where nothing listens (ray.init would hang)."""
    if address == "auto":
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise SearchError(f"--ray {address!r}: expected HOST:PORT (e.g. 127.0.0.1:6379 or ray://host:10001)")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise SearchError(
            f"--ray {address}: no Ray cluster answers there ({e.strerror or e}); start one with `ray start --head`"
        ) from None


@dataclass(frozen=True)
class DefineByRun:
    """The search space as Ray's OptunaSearch asks for it: a function of an Optuna trial (a
    module-level class, since Tune pickles its searcher)."""

    space: SearchSpace
    base: ExperimentConfig
    all_params: bool = False

    def __call__(self, trial: Any) -> dict[str, Any]:
        values = sample(self.space, self.base, lambda p: _suggest(trial, p), all_params=self.all_params)
        config, _notes = trial_config(self.base, values)
        return {"__values": values, "__config": config.model_dump_json()}


_CONNECTED: list[str] = []
"""The address this process is connected to (kept across searches, like the warm worker pool)."""


_BROKER: dict[str, Any] = {}
"""This connection's host broker (engine/tuning/ray_relay.py): its name and handle."""


def connect(ray: Any, address: str) -> str:
    """Connect to the cluster at `address`, or stay connected; the name of the connection's
    host broker, whose warm trial hosts (and the torch and data sets they hold) live as long as
    this connection, like the local worker pool."""
    if not (ray.is_initialized() and _CONNECTED == [address]):
        disconnect()
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        _CONNECTED[:] = [address]
    session = _SESSION[0] if _SESSION else None
    if not (session is not None and session.busy):  # no other search holds a host now
        if _BROKER:
            ray.get(_BROKER["handle"].reset.remote())
    if not _BROKER:
        from engine.tuning.ray_relay import HostBroker

        name = f"descent-hosts-{os.getpid()}-{time.monotonic_ns()}"
        _BROKER.update(name=name, handle=ray.remote(num_cpus=0)(HostBroker).options(name=name).remote())
    return str(_BROKER["name"])


_SESSION: list[TuneSession] = []
"""The connection's shared Tune run, while it lasts."""


def tune_session(ray: Any) -> TuneSession:
    """The connection's Tune run, started when there is none (or the last one has ended)."""
    session = _SESSION[0] if _SESSION else None
    if session is None or session.closing or session.ended.is_set():
        if session is not None:
            session.close()
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        session = TuneSession(_BROKER["handle"], _BROKER["name"], cpus).start()
        _SESSION[:] = [session]
    return session


def session_info() -> dict[str, Any]:
    """The connection's Tune run: how many Tune trials it ran and in which processes."""
    session = _SESSION[0] if _SESSION else None
    if session is None:
        return {"running": False, "tune_trials": 0, "tune_pids": []}
    with session.cond:
        return {
            "running": not session.ended.is_set(),
            "key": session.key,
            "tune_trials": session.tune_trials,
            "tune_pids": sorted(session.tune_pids),
        }


def end_session() -> None:
    """End the connection's shared Tune run now (its cached actors give their CPUs back); the
    next search starts a new one."""
    if _SESSION:
        _SESSION.pop().close()


def disconnect() -> None:
    """End the shared Tune run and this process's Ray connection."""
    import ray

    end_session()
    _BROKER.clear()
    _CONNECTED.clear()
    if ray.is_initialized():
        ray.shutdown()


class RaySearch(SearchRun):
    """A search round whose trials run on a Ray cluster; `job()` streams them into the snapshot."""

    def __init__(self, settings: SearchSettings, address: str, max_concurrent: int = 0, check_now: bool = True) -> None:
        """`check_now`: probe the address and import Ray here (the command line: a bad address
        fails before anything starts); else the job does it first (a window's job thread: the
        probe's seconds and Ray's import stay off the GUI thread)."""
        self.address = address
        if max_concurrent < 0:
            raise SearchError(f"--jobs {max_concurrent}: expected at least 1")
        self.max_concurrent = max_concurrent  # 0: as many trials at once as the cluster has CPUs
        if settings.storage:
            raise SearchError("--ray keeps the study in Ray Tune's searcher: --storage is not supported with it")
        super().__init__(settings)
        self.snapshot = replace(self.snapshot, storage=f"ray {shown_url(address)}")
        self.ray: Any = None
        if check_now:
            self._check()

    def _check(self) -> None:
        probe_address(self.address)  # first: a dead address fails in seconds, before Ray is even imported
        self.ray = require_ray()

    def job(self) -> Job[SearchSnapshot]:
        s = self.settings
        if self.ray is None:
            yield Progress(0.0, f"connecting to the Ray cluster at {shown_url(self.address)}…", preview=self.snapshot)
            self._check()
        ray = self.ray
        from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, HyperBandScheduler, MedianStoppingRule
        from ray.tune.search.optuna import OptunaSearch

        t_wall = time.perf_counter()
        offset = 0 if s.previous is None else 1 + max((t.number for t in s.previous.trials), default=-1)
        space, base = s.space, s.base
        searcher = OptunaSearch(
            space=DefineByRun(space, base, s.is_grid),
            metric=METRIC,
            mode="min",
            sampler=make_sampler(s.sampler, space, s.grid_points, s.seed),
        )
        epochs = base.train.epochs
        scheduler = {
            "none": FIFOScheduler(),
            "median": MedianStoppingRule(time_attr="epoch", metric=METRIC, mode="min", grace_period=1),
            "asha": ASHAScheduler(
                time_attr="epoch", metric=METRIC, mode="min", max_t=epochs, grace_period=1, reduction_factor=3
            ),
            "hyperband": HyperBandScheduler(time_attr="epoch", metric=METRIC, mode="min", max_t=epochs),
        }[s.pruner]
        # Descent streams every result into its snapshot itself: Tune's JSON, CSV and TensorBoard
        # result files would be written (and synced) for nobody.
        os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
        # Tune's console output: its new engine prints an experiment table even at verbose=0,
        # across the search's progress bar; the former one is silent at verbose=0
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        broker = connect(ray, self.address)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        slots = min(self.max_concurrent or cpus, cpus)
        batched = s.pruner == "none"
        entry = SearchEntry(
            f"search-{id(self)}-{time.monotonic_ns()}",
            searcher,
            scheduler,
            batched=batched,
            budget=s.budget,
            slots=slots,
            folds=s.folds,
            threads=1,
            broker=broker,
        )
        session = tune_session(ray)
        while not session.register(entry):  # that run is ending: a new one
            session = tune_session(ray)
        numbers: dict[str, int] = {}
        records: dict[str, TrialRecord] = {}
        owner: dict[str, str] = {}  # record → the Tune trial that trains it

        def record(name: str, trial_id: str, values: dict[str, Any]) -> str:
            """The record of a trial, made when first seen."""
            if name not in records:
                numbers[name] = offset + len(numbers)
                records[name] = TrialRecord(numbers[name], s.round, RunState.RUNNING, dict(values), t_start=time.time())
                owner[name] = trial_id
                self._put(records[name])
            return name

        try:
            while True:
                try:
                    kind, trial_id, result, config = entry.events.get(timeout=0.2)
                except queue.Empty:
                    yield self._progress(t_wall)
                    continue
                if kind == "end":
                    if result is not None:
                        raise SearchError(f"Ray Tune failed: {result}")
                    break
                if kind == "start" and not batched:
                    record(trial_id, trial_id, config.get("__values", {}))
                elif kind == "result" and result is not None:
                    for member in result.get("running", ()):
                        record(member, trial_id, entry.values.get(member, {}))
                    name = result.get("member") if batched else trial_id
                    if name:
                        record(name, trial_id, entry.values.get(name, {}) if batched else config.get("__values", {}))
                        records[name] = _with_result(records[name], result)
                        self._put(records[name])
                elif kind in ("complete", "error"):  # the Tune trial ended: what is still running in it ended too
                    for name, rec in list(records.items()):
                        if owner[name] != trial_id or rec.state != RunState.RUNNING:
                            continue
                        if kind == "complete" and (batched or entry.stop.is_set()):  # no scheduler stops a batch
                            rec = replace(rec, state=RunState.STOPPED, message="stopped with the search")
                        elif kind == "complete":
                            rec = replace(rec, state=RunState.PRUNED, message="stopped by the Ray scheduler")
                        else:
                            rec = replace(rec, state=RunState.ERROR, message="the Ray trial failed")
                        records[name] = replace(rec, t_end=time.time())
                        self._put(records[name])
                yield self._progress(t_wall)
            if batched and entry.tune_trials:
                note = (
                    f"round {s.round}: {entry.tune_trials} Ray Tune trials trained its {len(records)} trials "
                    f"on {slots} slots (without a pruner a Tune trial trains a batch)"
                )
                self.snapshot = replace(self.snapshot, notes=(*self.snapshot.notes, note))
            self.snapshot = replace(self.snapshot, state=RunState.FINISHED, wall_s=time.perf_counter() - t_wall)
            return self.snapshot
        finally:
            if not entry.done.is_set():
                session.stop(entry)
                entry.done.wait(60)
            session.unregister(entry)
            for rec in records.values():
                if rec.state == RunState.RUNNING:
                    self._put(
                        replace(rec, state=RunState.STOPPED, message="stopped with the search", t_end=time.time())
                    )
            if self.snapshot.state == RunState.RUNNING:
                self.snapshot = replace(self.snapshot, state=RunState.CANCELLED, wall_s=time.perf_counter() - t_wall)

    def _progress(self, t_wall: float) -> Progress:
        s = self.settings
        self.snapshot = replace(self.snapshot, wall_s=time.perf_counter() - t_wall)
        done = sum(1 for t in self.snapshot.finished if t.round == s.round)
        return Progress(min(1.0, done / max(1, s.budget)), f"{done}/{s.budget} trials on Ray", preview=self.snapshot)


def _with_result(rec: TrialRecord, result: dict[str, Any]) -> TrialRecord:
    """A trial record after one of its Tune reports (an epoch, or the last one with the outcome)."""
    value = float(result.get(METRIC, math.nan))
    node = f"node {str(result.get('node', ''))[:12]}"
    if "outcome" not in result:
        return replace(
            rec,
            curve=(*rec.curve, value),
            curve_sd=(*rec.curve_sd, float(result.get("val_loss_sd", math.nan))),
            train_curve=(*rec.train_curve, float(result.get("train_loss", math.nan))),
            worker=node,
        )
    out = TrialOutcome.from_json(result["outcome"])
    return replace(
        rec,
        state=out.state,
        score=out.score,
        score_sd=out.score_sd,
        val_acc=out.val_acc,
        curve=tuple(out.curve),
        curve_sd=tuple(out.curve_sd),
        train_curve=tuple(out.train_curve),
        message=out.message,
        t_start=out.t_start or rec.t_start,
        t_end=out.t_end or time.time(),
        worker=f"{node} ({out.worker})" if out.worker else node,
    )


def ray_space_check(space: SearchSpace) -> None:
    """Ray's OptunaSearch with the installed Optuna: a define-by-run space suggests and is told."""
    require_ray()
    from ray.tune.search.optuna import OptunaSearch

    searcher = OptunaSearch(
        space=DefineByRun(space, ExperimentConfig()),
        metric=METRIC,
        mode="min",
        sampler=make_sampler("tpe", space, 5, 0),
    )
    config = searcher.suggest("t0")
    if not isinstance(config, dict) or set(config["__values"]) != set(space.keys):
        raise SearchError(f"Ray's OptunaSearch suggested {config!r}")
    searcher.on_trial_complete("t0", {METRIC: 1.0})
