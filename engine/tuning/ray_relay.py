"""What runs on a Ray cluster's nodes for `--ray`: a light module (the standard library, Ray and
engine.states only at import; torch and the trainer are imported inside the function that trains).

Two ways a Ray Tune trial trains:

* `ray_trial` (in engine/tuning/ray_backend.py, with a pruner): one Optuna trial per Tune
  trial, trained in the Tune trial's own actor, reporting each epoch so that Tune's scheduler
  (ASHA, the median rule) can stop it there.
* `ray_batch_trial` (this module, no pruner): one Tune trial trains a *batch* of Optuna trials,
  one after the other, and reports each as it ends. Tune's own cost per trial (scheduling, the
  actor's reset, result handling: about 0.1–0.3 s) is then paid once per batch instead of once
  per trial, which matters for trials of tens of milliseconds. Each Optuna trial is still asked
  and told on its own by Ray's `OptunaSearch` (engine/tuning/ray_backend.py, `BatchSearch`) and
  recorded as its own trial.

A batch trains in a `TrialHost`: a Ray actor pinned to the Tune trial's node and holding no
CPU of its own (the Tune trial holds that CPU meanwhile and only waits), lent by the
connection's `HostBroker`, which makes hosts as they are needed and keeps them as long as the
searching process stays connected. A host's process imports
torch once, pays the first-use costs once (`warm_up`) and keeps its data sets (`_CACHE`), so
the next trials, batches and searches of the same connection start warm; Tune's own actors
are new at every search (Tune starts them per `fit`) and stay light: this module imports the
engine's training code only inside `train_task`.
"""

from __future__ import annotations

import math
from typing import Any

from engine.states import RunState

METRIC = "val_loss"

_CACHE: Any = None
"""The data sets (engine.tuning.kfold.BundleCache) of the trials this Ray worker process has run."""


def cache() -> Any:
    """This process's data sets, kept across the trials it runs."""
    global _CACHE
    if _CACHE is None:
        from engine.tuning.kfold import BundleCache

        _CACHE = BundleCache()
    return _CACHE


def train_task(task: dict[str, Any]) -> dict[str, Any]:
    """One whole trial (TrialTask fields) in a reused Ray worker process; its outcome as JSON."""
    from engine.tuning.trial import TrialTask, run_trial
    from engine.tuning.worker import warm_up

    warm_up()  # once per process: torch's and numba's first-use costs, not inside the first trial
    return run_trial(TrialTask(**task), cache()).to_json()


class TrialHost:
    """A Ray actor that trains whole trials (`train_task`) in one warm process."""

    def __init__(self) -> None:
        from engine.tuning.worker import warm_up

        warm_up()  # while Tune starts its trial actors, not inside the first trial

    def train(self, task: dict[str, Any]) -> dict[str, Any]:
        return train_task(task)

    def pid(self) -> int:
        import os

        return os.getpid()


class HostBroker:
    """A Ray actor that lends each Tune trial a free trial host on the Tune trial's node, making
    one there when none is free (so a node gets as many hosts as trials ran on it at once, at
    most its CPUs). The hosts are the broker's: they live as long as it does."""

    def __init__(self) -> None:
        self.hosts: dict[str, list[Any]] = {}  # node id → its hosts' actor handles
        self.free: dict[str, list[int]] = {}

    def lease(self, node: str) -> tuple[str, int, Any]:
        """(node, index, host) of a free host on `node`."""
        free = self.free.setdefault(node, [])
        if not free:
            import ray
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            pinned = NodeAffinitySchedulingStrategy(node, soft=False)
            # no CPU of its own (the Tune trial holds it); a host a trial killed comes back (cold)
            host = ray.remote(num_cpus=0, max_restarts=-1)(TrialHost).options(scheduling_strategy=pinned)
            self.hosts.setdefault(node, []).append(host.remote())
            free.append(len(self.hosts[node]) - 1)
        i = free.pop(0)
        return node, i, self.hosts[node][i]

    def give_back(self, node: str, index: int) -> None:
        if index not in self.free[node]:
            self.free[node].append(index)

    def reset(self) -> None:
        """Every host free again (a search starts: leases of a stopped search's trials end)."""
        self.free = {node: list(range(len(h))) for node, h in self.hosts.items()}

    def pids(self) -> dict[str, list[int]]:
        """The hosts' process ids by node."""
        import ray

        return {node: ray.get([h.pid.remote() for h in hosts]) for node, hosts in self.hosts.items()}


def ray_batch_trial(config: dict[str, Any]) -> None:
    """Tune's trainable without a pruner: the batch's Optuna trials (`config["__batch"]`, each
    with its config JSON) one after the other on this node, one Tune report per trial."""
    import ray
    from ray import tune

    node = ray.get_runtime_context().get_node_id()
    broker = ray.get_actor(config["__broker"])
    _node, index, host = ray.get(broker.lease.remote(node))
    tasks = [
        {
            "number": -1,
            "config_json": item["__config"],
            "folds": int(config["__folds"]),
            "threads": int(config["__threads"]),
            "prune": False,
        }
        for item in config["__batch"]
    ]
    pending: list[Any] = []
    submitted = 0

    def top_up() -> None:
        # One trial queued ahead on the host (an actor runs its calls in order): it starts the
        # next trial as soon as one ends, without waiting for this actor's round trip.
        nonlocal submitted
        while len(pending) < 2 and submitted < len(tasks):
            pending.append(host.train.remote(tasks[submitted]))
            submitted += 1

    try:
        top_up()
        for k in range(len(tasks)):
            try:
                outcome = ray.get(pending.pop(0))
            except Exception as e:  # noqa: BLE001 - a host that died mid-trial fails that trial, the batch goes on
                message = f"the Ray worker failed: {str(e).splitlines()[0]}"
                outcome = {"number": -1, "state": RunState.ERROR.value, "message": message}
                # Ray restarts the host (cold); the trial queued behind this one did not fail
                # and is sent again once the host answers.
                _wait_for(host)
                pending.clear()
                submitted = k + 1
            top_up()
            _report(tune, outcome, k, node)
    finally:
        broker.give_back.remote(node, index)


def _wait_for(host: Any, timeout_s: float = 120.0) -> None:
    """Until the (restarting) host answers, or `timeout_s` (its next trials then fail on their own)."""
    import time

    import ray

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            ray.get(host.pid.remote(), timeout=max(0.1, end - time.monotonic()))
            return
        except Exception:  # noqa: BLE001 - not back yet (unavailable while Ray restarts it): ask again
            time.sleep(0.2)


def _report(tune: Any, outcome: dict[str, Any], k: int, node: str) -> None:
    score = float(outcome.get("score", math.nan))
    curve = outcome.get("curve") or [math.nan]
    value = score if math.isfinite(score) else float(curve[-1])
    seconds = float(outcome.get("t_end", 0.0)) - float(outcome.get("t_start", 0.0))
    tune.report(
        {
            METRIC: value,
            "epoch": len(outcome.get("curve", ())),
            "node": node,
            "batch_index": k,
            # flat, for the searcher (Tune flattens what it hands searchers): how it ended, and how long it took
            "trial_state": outcome["state"],
            "trial_score": score,
            "trial_s": seconds if outcome.get("t_start") else math.nan,
            "outcome": outcome,
        }
    )
