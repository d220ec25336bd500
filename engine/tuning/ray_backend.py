"""Scale-out: a search's trials as Ray Tune trials on an existing Ray cluster (`--ray ADDRESS`).

The same space (define-by-run through Ray's OptunaSearch, with the same Optuna sampler), the
same trials (engine/tuning/trial.py, run by `ray_trainable` in Ray's worker processes) and the
same snapshot as a local search; pruning is Ray's own scheduler (ASHA, or the median stopping
rule). Ray is an optional extra (`pip install descent[cluster]`), imported only here and only
when asked for. Before connecting, the address is probed with a short TCP timeout, so a dead
address fails in seconds instead of hanging in ray.init.

Like the local worker pool, Ray's trial actors are reused from trial to trial (Tune's
`reuse_actors`): an actor's process imports torch once and keeps its data sets (`_CACHE`, by
the config's data key) for the next trials it runs. `--jobs N` caps the trials running at once
on the cluster; without it the cap is the cluster's CPU count. (Tune needs the cap: with
reused actors and none, it ran every trial on one actor, one after the other.)
"""

from __future__ import annotations

import functools
import math
import queue
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from engine.config import ExperimentConfig
from engine.jobs import Job, Progress
from engine.states import RunState
from engine.tuning.kfold import BundleCache
from engine.tuning.search import SearchError, SearchRun, SearchSettings, _suggest, make_sampler, shown_url
from engine.tuning.snapshot import SearchSnapshot, TrialRecord
from engine.tuning.space import SearchSpace, sample, trial_config
from engine.tuning.trial import TrialOutcome, TrialTask, trial_epochs

INSTALL_HINT = "--ray needs Ray Tune: pip install 'descent[cluster]' (or pip install 'ray[tune]')"
PROBE_TIMEOUT_S = 3.0
METRIC = "val_loss"
_CACHE = BundleCache()
"""The data sets of the trials this (reused) Ray actor process has run."""


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


def ray_trainable(config: dict[str, Any]) -> None:
    """One trial in a Ray worker: train epoch by epoch and report each epoch to Tune (whose
    scheduler may stop the trial at a report), then the outcome in a last report."""
    import ray
    from ray import tune

    task = TrialTask(**config["__task"])
    node = ray.get_runtime_context().get_node_id()
    gen = trial_epochs(task, _CACHE)
    try:
        report = next(gen)
        while True:
            metrics = {METRIC: report.value, "val_loss_sd": report.sd, "train_loss": report.train_loss}
            tune.report({**metrics, "epoch": report.epoch, "node": node, "done_trial": False})
            report = gen.send(True)
    except StopIteration as stop:
        outcome: TrialOutcome = stop.value
    last = outcome.curve[-1] if outcome.curve else math.nan
    value = outcome.score if math.isfinite(outcome.score) else last
    final = {METRIC: value, "epoch": len(outcome.curve), "node": node, "done_trial": True}
    tune.report({**final, "outcome": outcome.to_json()})


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


def ray_trial(config: dict[str, Any]) -> None:
    """Tune's trainable: the trial task from the searcher's config and the search's constants."""
    task = TrialTask(-1, config["__config"], int(config["__folds"]), int(config["__threads"]))
    ray_trainable({**config, "__task": task.__dict__})


# What the driver's Tune loop hands the search job: a queue and a stop flag per search, found
# by key (Tune pickles its callbacks and stopper; a queue or an event cannot be pickled).
_CHANNELS: dict[str, tuple[queue.Queue, threading.Event]] = {}


def _put_event(key: str, item: tuple) -> None:
    _CHANNELS[key][0].put(item)


def _should_stop(key: str, _trial_id: str, _result: dict) -> bool:
    return _CHANNELS[key][1].is_set()


def _stream_callback(key: str) -> Any:
    """A Tune callback passing each trial's results and end to the search job."""
    from ray import tune

    class Stream(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            _put_event(key, ("result", trial.trial_id, dict(result), dict(trial.config)))

        def on_trial_complete(self, iteration, trials, trial, **info):
            _put_event(key, ("complete", trial.trial_id, None, dict(trial.config)))

        def on_trial_error(self, iteration, trials, trial, **info):
            _put_event(key, ("error", trial.trial_id, None, dict(trial.config)))

    return Stream()


class RaySearch(SearchRun):
    """A search round whose trials run on a Ray cluster; `job()` streams them into the snapshot."""

    def __init__(self, settings: SearchSettings, address: str, max_concurrent: int = 0) -> None:
        self.address = address
        if max_concurrent < 0:
            raise SearchError(f"--jobs {max_concurrent}: expected at least 1")
        self.max_concurrent = max_concurrent  # 0: as many trials at once as the cluster has CPUs
        if settings.storage:
            raise SearchError("--ray keeps the study in Ray Tune's searcher: --storage is not supported with it")
        super().__init__(settings)
        self.snapshot = replace(self.snapshot, storage=f"ray {shown_url(address)}")
        probe_address(address)  # first: a dead address fails in seconds, before Ray is even imported
        self.ray = require_ray()

    def job(self) -> Job[SearchSnapshot]:
        s = self.settings
        ray = self.ray
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, HyperBandScheduler, MedianStoppingRule
        from ray.tune.search.optuna import OptunaSearch

        t_wall = time.perf_counter()
        offset = 0 if s.previous is None else 1 + max((t.number for t in s.previous.trials), default=-1)
        key = f"search-{id(self)}-{time.monotonic_ns()}"
        events: queue.Queue = queue.Queue()
        stop = threading.Event()
        _CHANNELS[key] = (events, stop)
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
        threads = 1
        ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
        try:
            tuner = tune.Tuner(
                tune.with_resources(ray_trial, {"cpu": threads}),
                param_space={"__folds": s.folds, "__threads": threads},
                tune_config=tune.TuneConfig(
                    search_alg=searcher,
                    scheduler=scheduler,
                    num_samples=s.budget,
                    max_concurrent_trials=self.max_concurrent or max(1, int(ray.cluster_resources().get("CPU", 1))),
                    reuse_actors=True,
                ),
                run_config=tune.RunConfig(
                    storage_path=tempfile.mkdtemp(prefix="descent-ray-"),
                    verbose=0,
                    callbacks=[_stream_callback(key)],
                    stop=functools.partial(_should_stop, key),
                ),
            )
        except BaseException:
            ray.shutdown()
            _CHANNELS.pop(key, None)
            raise
        failure: list[BaseException] = []

        def fit() -> None:
            try:
                tuner.fit()
            except BaseException as e:  # noqa: BLE001 - handed to the job's thread, raised there
                failure.append(e)
            finally:
                events.put(("end", None, None, None))

        thread = threading.Thread(target=fit, name="descent-ray-tune", daemon=True)
        numbers: dict[str, int] = {}
        records: dict[str, TrialRecord] = {}
        thread.start()
        try:
            while True:
                try:
                    kind, trial_id, result, config = events.get(timeout=0.2)
                except queue.Empty:
                    yield self._progress(t_wall)
                    continue
                if kind == "end":
                    break
                if trial_id not in numbers:
                    numbers[trial_id] = offset + len(numbers)
                    records[trial_id] = TrialRecord(
                        numbers[trial_id],
                        s.round,
                        RunState.RUNNING,
                        dict(config.get("__values", {})),
                        t_start=time.time(),
                    )
                rec = records[trial_id]
                if kind == "result" and result is not None:
                    rec = _with_result(rec, result)
                elif kind == "complete" and rec.state == RunState.RUNNING:
                    rec = replace(rec, state=RunState.PRUNED, message="stopped by the Ray scheduler", t_end=time.time())
                elif kind == "error":
                    rec = replace(rec, state=RunState.ERROR, message="the Ray trial failed", t_end=time.time())
                records[trial_id] = rec
                self._put(rec)
                yield self._progress(t_wall)
            thread.join()
            if failure:
                raise SearchError(f"Ray Tune failed: {failure[0]}")
            self.snapshot = replace(self.snapshot, state=RunState.FINISHED, wall_s=time.perf_counter() - t_wall)
            return self.snapshot
        finally:
            stop.set()
            thread.join(timeout=60)
            for rec in records.values():
                if rec.state == RunState.RUNNING:
                    self._put(
                        replace(rec, state=RunState.STOPPED, message="stopped with the search", t_end=time.time())
                    )
            if self.snapshot.state == RunState.RUNNING:
                self.snapshot = replace(self.snapshot, state=RunState.CANCELLED, wall_s=time.perf_counter() - t_wall)
            ray.shutdown()
            _CHANNELS.pop(key, None)

    def _progress(self, t_wall: float) -> Progress:
        s = self.settings
        self.snapshot = replace(self.snapshot, wall_s=time.perf_counter() - t_wall)
        done = sum(1 for t in self.snapshot.finished if t.round == s.round)
        return Progress(min(1.0, done / max(1, s.budget)), f"{done}/{s.budget} trials on Ray", preview=self.snapshot)


def _with_result(rec: TrialRecord, result: dict[str, Any]) -> TrialRecord:
    """A trial record after one of its Tune reports (an epoch, or the last one with the outcome)."""
    value = float(result.get(METRIC, math.nan))
    worker = f"node {str(result.get('node', ''))[:12]}"
    if not result.get("done_trial"):
        return replace(
            rec,
            curve=(*rec.curve, value),
            curve_sd=(*rec.curve_sd, float(result.get("val_loss_sd", math.nan))),
            train_curve=(*rec.train_curve, float(result.get("train_loss", math.nan))),
            worker=worker,
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
        t_start=out.t_start,
        t_end=out.t_end,
        worker=worker,
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
