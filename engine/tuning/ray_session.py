"""One Ray Tune run per cluster connection, shared by the searches made on it (`--ray`).

Every `Tuner.fit` starts new Ray worker processes for its trial actors (Ray never hands an
actor a process that has already run something, and Tune ends its actors when the fit ends),
and each of them imports Ray Tune before it can run a trial: about 1 s of CPU per process, paid
by every search that starts its own Tune run. So a `TuneSession` keeps one Tune run going while
this process stays connected and searches keep coming: each search registers a `SearchEntry`
(its Ray `OptunaSearch`, its Tune scheduler and the events its job reads), a routing searcher
asks the entries for Tune trials, a routing scheduler hands each trial to its own search's
scheduler, and Tune's actor reuse keeps a finished trial's actor (and its warm process) for the
next search's trial. The run ends after `IDLE_S` without a search (its cached actor then gives
its CPUs back to the cluster), at an idle moment after `MAX_TUNE_TRIALS` trials, or when the
process disconnects; the next search starts a new one.

Without a pruner a search is one Tune trial holding one CPU on each of its slots (a placement
group of `slots` bundles, spread over the nodes) that trains the search's Optuna trials on warm
trial hosts there (engine/tuning/ray_relay.py), pulling them from a queue that the entry fills:
each Optuna trial is asked from `OptunaSearch` a little ahead of being trained (two per slot)
and told as soon as it reports, so a sampler that learns (TPE) learns from the results as they
come. With a pruner every Optuna trial is its own Tune trial, trained on a warm host and reported
epoch by epoch, so that Tune's scheduler (ASHA, median, hyperband) can stop it.

Tune pickles its searcher, scheduler, callbacks and stopper; they hold only the session's key
and find its state in `_SESSIONS`.
"""

from __future__ import annotations

import functools
import math
import os
import queue
import shutil
import tempfile
import threading
import time
from typing import Any

from engine.states import RunState
from engine.tuning.ray_relay import METRIC, session_trial, trial_resources

IDLE_S = 20.0
"""How long the Tune run waits for the next search before it ends: meanwhile its cached trial actor
holds its CPUs (all the slots of the last search without a pruner), which no other job can use."""
MAX_TUNE_TRIALS = 2000
"""After this many Tune trials the run ends at its next idle moment (Tune keeps every trial's state)."""
LOOKAHEAD = 2
"""Optuna trials asked ahead per slot of a batch: one training, one queued behind it."""
WAIT_S = 30.0
"""The longest a call of the routing searcher waits for a search while the run is idle."""

_SESSIONS: dict[str, TuneSession] = {}


class SearchEntry:
    """One search's part of the session: what it suggests, how its results are told, its events.

    Called under the session's lock from Tune's thread (suggest, result, complete) and from the
    search job's thread (stop)."""

    def __init__(
        self,
        key: str,
        inner: Any,
        scheduler: Any,
        *,
        batched: bool,
        budget: int,
        slots: int,
        folds: int,
        threads: int,
        broker: str,
    ) -> None:
        self.key, self.inner, self.scheduler = key, inner, scheduler
        self.batched, self.budget, self.slots = batched, budget, max(1, slots)
        self.folds, self.threads, self.broker_name = folds, threads, broker
        self.broker: Any = None  # the broker's handle, set by the session
        self.events: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.done = threading.Event()
        self.asked = 0
        self.exhausted = False  # the sampler has nothing left to suggest (a finished grid)
        self.live: set[str] = set()  # its running Tune trials
        self.tune_trials = 0
        self.members: dict[str, str] = {}  # batch member (Optuna trial) → the Tune trial that trained it
        self.values: dict[str, dict[str, Any]] = {}  # batch member → its parameter values
        self.told: set[str] = set()

    def _config(self, mode: str) -> dict[str, Any]:
        return {
            "__search": self.key,
            "__mode": mode,
            "__bundles": self.slots if mode == "batch" else 1,
            "__folds": self.folds,
            "__threads": self.threads,
            "__broker": self.broker_name,
        }

    def _more(self) -> bool:
        return not (self.stop.is_set() or self.exhausted or self.asked >= self.budget)

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The config of a new Tune trial of this search, or None (none now, or none left)."""
        if not self._more():
            return None
        if self.batched:
            if self.live:  # one Tune trial trains the whole batch
                return None
            self._ask(trial_id, min(self.budget - self.asked, LOOKAHEAD * self.slots))
            config = self._config("batch")
        else:
            if len(self.live) >= self.slots:
                return None
            suggested = self.inner.suggest(trial_id)
            if not isinstance(suggested, dict):  # None, or FINISHED when a grid is done
                self.exhausted = suggested is not None
                return None
            self.asked += 1
            config = {**suggested, **self._config("single")}
        self.live.add(trial_id)
        self.tune_trials += 1
        return config

    def _ask(self, trial_id: str, n: int) -> None:
        """Ask `OptunaSearch` for `n` more batch members and queue them for the batch's trial
        (with the end mark once the budget is asked)."""
        items: list[dict[str, Any] | None] = []
        for _ in range(n):
            member = f"{trial_id}#{self.asked}"
            suggested = self.inner.suggest(member)
            if not isinstance(suggested, dict):
                self.exhausted = True
                break
            self.members[member] = trial_id
            self.values[member] = dict(suggested.get("__values", {}))
            items.append({"id": member, "k": self.asked, "config_json": suggested["__config"]})
            self.asked += 1
        if not self._more():
            items.append(None)
        if items:
            self.broker.put.remote(self.key, items)

    def result(self, trial_id: str, result: dict[str, Any]) -> None:
        if not self.batched:
            self.inner.on_trial_result(trial_id, result)
            return
        member = result.get("member")
        if not member:  # the batch's first report: what it started
            return
        finished = result.get("trial_state") == RunState.FINISHED
        self._tell(str(member), float(result.get("trial_score", math.nan)) if finished else None)
        if self._more():
            self._ask(trial_id, 1)

    def complete(self, trial_id: str, result: dict[str, Any] | None, error: bool) -> None:
        self.live.discard(trial_id)
        if self.batched:
            self.broker.drop.remote(self.key)  # queued members no trial will take now (before any later put)
            for member, owner in self.members.items():
                if owner == trial_id:
                    self._tell(member, None)  # a member that never reported failed (or was stopped)
        else:
            self.inner.on_trial_complete(trial_id, result, error=error)
        self.events.put(("error" if error else "complete", trial_id, None, None))
        if not self.live and not self._more():  # (a batch trial that failed early is followed by another)
            self.finish()

    def _tell(self, member: str, score: float | None) -> None:
        if member in self.told:
            return
        self.told.add(member)
        if score is not None and math.isfinite(score):
            self.inner.on_trial_complete(member, {METRIC: score})
        else:
            self.inner.on_trial_complete(member, None, error=True)

    def request_stop(self) -> None:
        """No new trials; the running ones stop at their next report; a batch ends after its
        trials in training (its queue gets the end mark)."""
        self.stop.set()
        if self.batched and self.broker is not None:
            self.broker.put.remote(self.key, [None])

    def finish(self, failure: BaseException | None = None) -> None:
        if not self.done.is_set():
            self.done.set()
            self.events.put(("end", None, failure, None))


class TuneSession:
    """A Tune run in a background thread that the searches of one connection share."""

    def __init__(self, broker: Any, broker_name: str, max_concurrent: int) -> None:
        self.key = f"tune-session-{os.getpid()}-{time.monotonic_ns()}"
        self.broker, self.broker_name, self.max_concurrent = broker, broker_name, max_concurrent
        self.cond = threading.Condition()
        self.entries: dict[str, SearchEntry] = {}
        self.by_trial: dict[str, SearchEntry] = {}
        self.closing = False
        self.ended = threading.Event()
        self.failure: BaseException | None = None
        self.idle_since = time.monotonic()
        self.tune_trials = 0
        self.tune_pids: set[int] = set()  # the processes Tune's trial actors ran in
        self.storage = tempfile.mkdtemp(prefix="descent-ray-")
        _SESSIONS[self.key] = self
        self.thread = threading.Thread(target=self._run, name="descent-ray-tune", daemon=True)

    def start(self) -> TuneSession:
        from ray import tune

        self.tuner = tune.Tuner(
            tune.with_resources(session_trial, trial_resources),
            tune_config=tune.TuneConfig(
                search_alg=_router_searcher(self.key),
                scheduler=_router_scheduler(self.key),
                num_samples=-1,
                max_concurrent_trials=self.max_concurrent,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                storage_path=self.storage,
                verbose=0,
                callbacks=[_stream_callback(self.key)],
                stop=functools.partial(_should_stop, self.key),
            ),
        )
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self.tuner.fit()
        except BaseException as e:  # noqa: BLE001 - every waiting search gets it
            self.failure = e
        finally:
            with self.cond:
                self.closing = True
                entries = list(self.entries.values())
            for entry in entries:
                entry.finish(self.failure or RuntimeError("the Ray Tune run ended"))
            self.ended.set()
            _SESSIONS.pop(self.key, None)
            shutil.rmtree(self.storage, ignore_errors=True)

    def register(self, entry: SearchEntry) -> bool:
        """Add a search; False when this run is ending (the caller starts a new one)."""
        with self.cond:
            if self.closing or self.ended.is_set():
                return False
            entry.broker = self.broker
            self.entries[entry.key] = entry
            self.idle_since = time.monotonic()
            self.cond.notify_all()
            return True

    def unregister(self, entry: SearchEntry) -> None:
        with self.cond:
            self.entries.pop(entry.key, None)
            self.cond.notify_all()

    def stop(self, entry: SearchEntry) -> None:
        with self.cond:
            entry.request_stop()
            if not entry.live:
                entry.finish()
            self.cond.notify_all()

    def close(self, timeout: float = 30.0) -> None:
        """End the run (it finishes once its trials have ended) and wait for it."""
        with self.cond:
            self.closing = True
            for entry in self.entries.values():
                entry.request_stop()
            self.cond.notify_all()
        if self.thread.is_alive():
            self.thread.join(timeout)

    def discard(self) -> None:
        """Forget a session whose Tune run was never started."""
        _SESSIONS.pop(self.key, None)
        shutil.rmtree(self.storage, ignore_errors=True)

    @property
    def busy(self) -> bool:
        return any(not e.done.is_set() for e in self.entries.values())

    # --- called from Tune's thread ---

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        from ray.tune.search import Searcher

        waited = time.monotonic()
        with self.cond:
            while True:
                for entry in list(self.entries.values()):
                    if entry.done.is_set():
                        continue
                    config = entry.suggest(trial_id)
                    if config is not None:
                        self.by_trial[trial_id] = entry
                        self.tune_trials += 1
                        return config
                if self.closing:
                    return Searcher.FINISHED
                if any(e.live for e in self.entries.values()):
                    return None  # Tune's loop goes on with the running trials
                now = time.monotonic()
                if now - self.idle_since >= IDLE_S or self.tune_trials >= MAX_TUNE_TRIALS:
                    self.closing = True
                    return Searcher.FINISHED
                if now - waited >= WAIT_S:
                    return None
                # idle: wait here for the next search rather than in Tune's own one-second polls
                self.cond.wait(min(0.5, IDLE_S - (now - self.idle_since)))

    def result(self, trial_id: str, result: dict[str, Any]) -> None:
        with self.cond:
            entry = self.by_trial.get(trial_id)
            if entry is not None:
                entry.result(trial_id, result)

    def complete(self, trial_id: str, result: dict[str, Any] | None, error: bool) -> None:
        with self.cond:
            entry = self.by_trial.pop(trial_id, None)
            if entry is not None:
                entry.complete(trial_id, result, error)
            if not any(e.live for e in self.entries.values()):
                self.idle_since = time.monotonic()
            self.cond.notify_all()

    def scheduler_of(self, trial_id: str) -> Any:
        entry = self.by_trial.get(trial_id)
        return entry.scheduler if entry is not None else None

    def schedulers(self) -> list[Any]:
        with self.cond:
            return [e.scheduler for e in self.entries.values() if not e.done.is_set()]


def _session(session_key: str) -> TuneSession | None:
    """The session by key (what Tune pickles refers to its session through this function)."""
    return _SESSIONS.get(session_key)


def _should_stop(session_key: str, trial_id: str, _result: dict) -> bool:
    session = _session(session_key)
    entry = session.by_trial.get(trial_id) if session else None
    return entry is None or entry.stop.is_set()


def _router_searcher(session_key: str) -> Any:
    """A Tune searcher that asks the session's searches for trials and passes their results back."""
    from ray.tune.search import Searcher

    class RouterSearch(Searcher):
        def __init__(self) -> None:
            super().__init__(metric=METRIC, mode="min")
            self.session_key = session_key

        def set_search_properties(self, metric: Any, mode: Any, config: dict, **spec: Any) -> bool:
            return True

        def suggest(self, trial_id: str) -> dict | str | None:
            session = _session(self.session_key)
            return Searcher.FINISHED if session is None else session.suggest(trial_id)

        def on_trial_result(self, trial_id: str, result: dict) -> None:
            session = _session(self.session_key)
            if session is not None:
                session.result(trial_id, result)

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            session = _session(self.session_key)
            if session is not None:
                session.complete(trial_id, result, error)

    return RouterSearch()


def _router_scheduler(session_key: str) -> Any:
    """A Tune scheduler that hands each trial to its own search's scheduler (FIFO, ASHA, …)."""
    from ray.tune.schedulers import TrialScheduler

    class RouterScheduler(TrialScheduler):
        _supports_buffered_results = False

        def __init__(self) -> None:
            super().__init__()
            self.session_key = session_key

        def _sub(self, trial: Any) -> Any:
            session = _session(self.session_key)
            return session.scheduler_of(trial.trial_id) if session is not None else None

        def set_search_properties(self, metric: Any, mode: Any, **spec: Any) -> bool:
            return True

        def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
            sub = self._sub(trial)
            if sub is not None:
                sub.on_trial_add(tune_controller, trial)

        def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
            sub = self._sub(trial)
            if sub is not None:
                sub.on_trial_error(tune_controller, trial)

        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            sub = self._sub(trial)
            return sub.on_trial_result(tune_controller, trial, result) if sub is not None else self.CONTINUE

        def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
            sub = self._sub(trial)
            if sub is not None:
                sub.on_trial_complete(tune_controller, trial, result)

        def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
            sub = self._sub(trial)
            if sub is not None:
                sub.on_trial_remove(tune_controller, trial)

        def choose_trial_to_run(self, tune_controller: Any) -> Any:
            session = _session(self.session_key)
            for sub in session.schedulers() if session is not None else ():
                trial = sub.choose_trial_to_run(tune_controller)
                if trial is not None:
                    return trial
            return None

        def debug_string(self) -> str:
            return "Descent's searches, each with its own scheduler"

    return RouterScheduler()


def _stream_callback(session_key: str) -> Any:
    """A Tune callback passing each trial's start and results to its search's job."""
    from ray import tune

    def _entry(trial_id: str) -> SearchEntry | None:
        session = _session(session_key)
        return session.by_trial.get(trial_id) if session is not None else None

    class Stream(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            entry = _entry(trial.trial_id)
            if entry is not None:
                entry.events.put(("start", trial.trial_id, None, dict(trial.config)))

        def on_trial_result(self, iteration, trials, trial, result, **info):
            session = _session(session_key)
            if session is not None and "tune_pid" in result:
                with session.cond:
                    session.tune_pids.add(int(result["tune_pid"]))
            entry = _entry(trial.trial_id)
            if entry is not None:
                entry.events.put(("result", trial.trial_id, dict(result), dict(trial.config)))

    return Stream()
