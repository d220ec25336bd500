"""Scale-out: a search's trials as Ray Tune trials on an existing Ray cluster (`--ray ADDRESS`).

The same space (define-by-run through Ray's OptunaSearch, with the same Optuna sampler), the
same trials (engine/tuning/trial.py, run by `ray_trainable` in Ray's worker processes) and the
same snapshot as a local search; pruning is Ray's own scheduler (ASHA, or the median stopping
rule). Ray is an optional extra (`pip install descent[cluster]`), imported only here and only
when asked for. Before connecting, the address is probed with a short TCP timeout, so a dead
address fails in seconds instead of hanging in ray.init.

Like the local worker pool, what a trial needs is kept warm: this process stays connected to
the cluster across searches (`connect`), Tune's trial actors are reused from trial to trial
(`reuse_actors`), and the process that trains (a trial host without a pruner, the Tune actor
with one) imports torch once and keeps its data sets (by the config's data key) for the next
trials it runs. `--jobs N` caps the trials running
at once on the cluster; without it the cap is the cluster's CPU count. (Tune needs the cap: with
reused actors and none, it ran every trial on one actor, one after the other.)

Without a pruner a Tune trial trains a batch of Optuna trials (engine/tuning/ray_relay.py):
`BatchSearch` asks Ray's `OptunaSearch` for each member and tells it each result as it comes,
and sizes the batches from the trials' measured length so that a Tune trial lasts about
`BATCH_TARGET_S` (Tune's own cost per trial, 0.1–0.3 s, is then about a tenth of it) while the
budget stays spread over every slot. Until a trial has been timed (the first search on a base
config in this process), a batch holds one trial. A batch's trials are asked together, so a
sampler that learns (TPE) learns from them only as they report. With a pruner
(ASHA, median, hyperband) each Tune trial is one Optuna trial, reported epoch by epoch, since
Tune's scheduler stops Tune trials, not members of a batch.
"""

from __future__ import annotations

import functools
import math
import os
import queue
import shutil
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from engine.config import ExperimentConfig
from engine.jobs import Job, Progress
from engine.states import RunState
from engine.tuning.kfold import BundleCache
from engine.tuning.ray_relay import METRIC, ray_batch_trial
from engine.tuning.search import SearchError, SearchRun, SearchSettings, _suggest, make_sampler, shown_url
from engine.tuning.snapshot import SearchSnapshot, TrialRecord
from engine.tuning.space import SearchSpace, sample, trial_config
from engine.tuning.trial import TrialOutcome, TrialTask, trial_epochs

INSTALL_HINT = "--ray needs Ray Tune: pip install 'descent[cluster]' (or pip install 'ray[tune]')"
PROBE_TIMEOUT_S = 3.0
BATCH_TARGET_S = 2.0
"""How long a Tune trial that trains a batch of Optuna trials should last (no pruner)."""
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
            tune.report({**metrics, "epoch": report.epoch, "node": node})
            report = gen.send(True)
    except StopIteration as stop:
        outcome: TrialOutcome = stop.value
    last = outcome.curve[-1] if outcome.curve else math.nan
    value = outcome.score if math.isfinite(outcome.score) else last
    tune.report({METRIC: value, "epoch": len(outcome.curve), "node": node, "outcome": outcome.to_json()})


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


BATCH_SHARE = 2
"""A batch takes at most 1/(BATCH_SHARE × slots) of the trials left: batches shrink toward the
end, so that a slot whose Tune actor started late, or a slower node, does not hold the tail."""


def batch_size(budget_left: int, slots: int, trial_s: list[float], target_s: float = BATCH_TARGET_S) -> int:
    """How many Optuna trials the next Tune trial trains: enough for it to last about
    `target_s` at the median trial length measured (one while nothing is measured), never more
    than a share of what is left (`BATCH_SHARE`), never more than what is left."""
    if budget_left <= 0:
        return 0
    if not trial_s:
        return 1
    wanted = math.ceil(target_s / max(statistics.median(trial_s), 1e-3))
    return max(1, min(wanted, math.ceil(budget_left / (BATCH_SHARE * max(1, slots))), budget_left))


_TRIAL_S: dict[str, list[float]] = {}
"""The trial lengths measured by this process's last search on each base config: the next
search on it sizes its first batches from them instead of starting with batches of one."""


def batch_search(inner: Any, budget: int, slots: int, trial_s: list[float] | None = None) -> Any:
    """A Tune searcher whose every suggestion is a batch of `inner`'s (Ray's OptunaSearch):
    member k of Tune trial T is Optuna's trial "T#k", asked on its own and told its result as
    soon as the batch reports it (a member that never reported is told it failed)."""
    from ray.tune.search import Searcher

    class BatchSearch(Searcher):
        def __init__(self) -> None:
            super().__init__(metric=METRIC, mode="min")
            self.inner = inner
            self.asked = 0
            self.members: dict[str, int] = {}
            self.told: set[str] = set()
            self.trial_s: list[float] = list(trial_s or ())

        def set_search_properties(self, metric: Any, mode: Any, config: dict, **spec: Any) -> bool:
            return bool(self.inner.set_search_properties(metric, mode, config, **spec))

        def suggest(self, trial_id: str) -> dict | str | None:
            n = batch_size(budget - self.asked, slots, self.trial_s)
            if n == 0:
                return Searcher.FINISHED
            batch = [self.inner.suggest(f"{trial_id}#{k}") for k in range(n)]
            self.asked += n
            self.members[trial_id] = n
            return {"__batch": batch}

        def on_trial_result(self, trial_id: str, result: dict) -> None:
            if "batch_index" not in result:
                return
            seconds = float(result.get("trial_s", math.nan))
            if math.isfinite(seconds):
                self.trial_s.append(seconds)
            finished = result.get("trial_state") == RunState.FINISHED
            self._tell(f"{trial_id}#{result['batch_index']}", float(result["trial_score"]) if finished else None)

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            for k in range(self.members.get(trial_id, 0)):
                self._tell(f"{trial_id}#{k}", None)

        def _tell(self, member: str, score: float | None) -> None:
            if member in self.told:
                return
            self.told.add(member)
            if score is not None and math.isfinite(score):
                self.inner.on_trial_complete(member, {METRIC: score})
            else:
                self.inner.on_trial_complete(member, None, error=True)

    return BatchSearch()


_CONNECTED: list[str] = []
"""The address this process is connected to (kept across searches, like the warm worker pool)."""


_BROKER: dict[str, Any] = {}
"""This connection's host broker (engine/tuning/ray_relay.py): its name and handle."""


def connect(ray: Any, address: str) -> str:
    """Connect to the cluster at `address`, or stay connected; the name of the connection's
    host broker, whose warm trial hosts (and the torch and data sets they hold) live as long as
    this connection, like the local worker pool."""
    if not (ray.is_initialized() and _CONNECTED == [address]):
        if ray.is_initialized():
            ray.shutdown()
        _BROKER.clear()
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        _CONNECTED[:] = [address]
    if _BROKER:
        ray.get(_BROKER["handle"].reset.remote())
    else:
        from engine.tuning.ray_relay import HostBroker

        name = f"descent-hosts-{os.getpid()}-{time.monotonic_ns()}"
        _BROKER.update(name=name, handle=ray.remote(num_cpus=0)(HostBroker).options(name=name).remote())
    return str(_BROKER["name"])


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
        def on_trial_start(self, iteration, trials, trial, **info):
            _put_event(key, ("start", trial.trial_id, None, dict(trial.config)))

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
        # Descent streams every result into its snapshot itself: Tune's JSON, CSV and TensorBoard
        # result files would be written (and synced) for nobody.
        os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
        broker = connect(ray, self.address)
        slots = self.max_concurrent or max(1, int(ray.cluster_resources().get("CPU", 1)))
        batched = s.pruner == "none"
        base_key = base.model_dump_json()
        storage = tempfile.mkdtemp(prefix="descent-ray-")
        try:
            tuner = tune.Tuner(
                tune.with_resources(ray_batch_trial if batched else ray_trial, {"cpu": threads}),
                param_space={"__folds": s.folds, "__threads": threads, "__broker": broker},
                tune_config=tune.TuneConfig(
                    search_alg=batch_search(searcher, s.budget, slots, _TRIAL_S.get(base_key)) if batched else searcher,
                    scheduler=scheduler,
                    num_samples=s.budget,
                    max_concurrent_trials=slots,
                    reuse_actors=True,
                ),
                run_config=tune.RunConfig(
                    storage_path=storage,
                    verbose=0,
                    callbacks=[_stream_callback(key)],
                    stop=functools.partial(_should_stop, key),
                ),
            )
        except BaseException:
            _CHANNELS.pop(key, None)
            shutil.rmtree(storage, ignore_errors=True)
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
        batches: dict[str, int] = {}  # Tune trial → how many Optuna trials it trains

        def member(trial_id: str, k: int | None, config: dict[str, Any]) -> str:
            """The record of a Tune trial (k None) or of member k of its batch, made when first seen."""
            name = trial_id if k is None else f"{trial_id}#{k}"
            if name not in records:
                numbers[name] = offset + len(numbers)
                values = config.get("__values", {}) if k is None else config["__batch"][k].get("__values", {})
                records[name] = TrialRecord(numbers[name], s.round, RunState.RUNNING, dict(values), t_start=time.time())
                self._put(records[name])
            return name

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
                size = len(config.get("__batch", ()))
                if size:
                    batches[trial_id] = size
                if kind == "start":
                    member(trial_id, 0 if size else None, config)
                elif kind == "result" and result is not None:
                    k = result.get("batch_index")
                    name = member(trial_id, k, config)
                    records[name] = _with_result(records[name], result)
                    self._put(records[name])
                    if k is not None and k + 1 < size:  # the batch's next trial starts now
                        member(trial_id, k + 1, config)
                else:  # the Tune trial ended: what is still running in it was stopped, or failed
                    for name in [trial_id, *(f"{trial_id}#{k}" for k in range(size))]:
                        rec = records.get(name)
                        if rec is None or rec.state != RunState.RUNNING:
                            continue
                        if kind == "complete" and (size or stop.is_set()):  # no scheduler stops a batch
                            rec = replace(rec, state=RunState.STOPPED, message="stopped with the search")
                        elif kind == "complete":
                            rec = replace(rec, state=RunState.PRUNED, message="stopped by the Ray scheduler")
                        else:
                            rec = replace(rec, state=RunState.ERROR, message="the Ray trial failed")
                        records[name] = replace(rec, t_end=time.time())
                        self._put(records[name])
                yield self._progress(t_wall)
            thread.join()
            if failure:
                raise SearchError(f"Ray Tune failed: {failure[0]}")
            lengths = [r.t_end - r.t_start for r in records.values() if r.state == RunState.FINISHED and r.t_end]
            if lengths:
                _TRIAL_S[base_key] = lengths[-50:]
            if batched and batches:
                note = (
                    f"round {s.round}: {len(batches)} Ray Tune trials trained its {sum(batches.values())} trials "
                    f"(up to {max(batches.values())} each: without a pruner a Tune trial trains a batch)"
                )
                self.snapshot = replace(self.snapshot, notes=(*self.snapshot.notes, note))
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
            _CHANNELS.pop(key, None)
            shutil.rmtree(storage, ignore_errors=True)

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
