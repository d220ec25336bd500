"""What runs on a Ray cluster's nodes for `--ray`: a light module (the standard library, Ray and
engine.states only at import; torch and the trainer are imported inside the function that trains).

Tune's trainable is `session_trial` (engine/tuning/ray_session.py runs one Tune run per
connection), in one of two modes:

* "single" (with a pruner): one Optuna trial per Tune trial, trained epoch by epoch on a warm
  `TrialHost` on the Tune trial's node, each epoch reported so that Tune's scheduler (ASHA,
  the median rule) can stop it there.
* "batch" (no pruner): one Tune trial trains a whole search's Optuna trials. It holds one CPU on
  each of the search's slots (a placement group, `trial_resources`) and trains on a warm
  `TrialHost` on each slot's node, taking the Optuna trials from the search's queue (kept by the
  connection's `HostBroker` and filled by the driver as results come) and reporting each as it
  ends. Each Optuna trial is still asked and told on its own by Ray's `OptunaSearch`.

A `TrialHost` is a Ray actor pinned to a node and holding no CPU of its own (the Tune trial holds
that CPU meanwhile), lent by the connection's `HostBroker`, which makes hosts as they are needed
and keeps them as long as the searching process stays connected. A host's process imports torch
once, pays the first-use costs once (`warm_up`) and keeps its data sets (`_CACHE`), so the next
trials and searches of the same connection start warm.
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
    """A Ray actor that trains trials in one warm process: whole (`train`, a batch's trial) or
    epoch by epoch (`begin`, `step`, `close`: a Tune trial whose scheduler may stop it)."""

    def __init__(self) -> None:
        from engine.tuning.worker import warm_up

        warm_up()  # while Tune starts its trial actors, not inside the first trial
        self._steps: Any = None  # the epoch-by-epoch trial (engine.tuning.trial.trial_epochs)
        self._epochs = 0

    def train(self, task: dict[str, Any]) -> dict[str, Any]:
        return train_task(task)

    def begin(self, task: dict[str, Any]) -> dict[str, Any]:
        """Start a trial epoch by epoch (ending any the last lease left): its first epoch."""
        from engine.config import ExperimentConfig
        from engine.tuning.trial import TrialTask, trial_epochs
        from engine.tuning.worker import warm_up

        warm_up()
        self.close()
        t = TrialTask(**task)
        try:
            self._epochs = ExperimentConfig.from_json(t.config_json).train.epochs
        except ValueError:
            self._epochs = 0  # trial_epochs fails the trial with the message
        self._steps = trial_epochs(t, cache())
        return self._advance(first=True)

    def step(self) -> dict[str, Any]:
        """Go on with the trial: its next epoch (the last one together with the trial's outcome)."""
        if self._steps is None:
            raise RuntimeError("no trial is running on this host")
        return self._advance(first=False)

    def close(self) -> None:
        """End the trial here (Tune's scheduler stopped it)."""
        if self._steps is not None:
            self._steps.close()
            self._steps = None

    def _advance(self, first: bool) -> dict[str, Any]:
        """The next epoch's report ({"epoch", "value", "sd", "train_loss"}); at the last epoch,
        or when the trial ended, {"outcome"} too (Tune's scheduler stops a trial at its last
        epoch's report: the outcome must come with it)."""
        epoch: dict[str, Any] = {}
        try:
            report = next(self._steps) if first else self._steps.send(True)
            epoch = {"epoch": report.epoch, "value": report.value, "sd": report.sd, "train_loss": report.train_loss}
            if report.epoch < self._epochs:
                return epoch
            self._steps.send(True)  # the last epoch: only the outcome is left
        except StopIteration as stop:
            self._steps = None
            return {**epoch, "outcome": stop.value.to_json()}
        raise RuntimeError("the trial went on after its last epoch")

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
        self.queues: dict[str, list[Any]] = {}  # search key → its batch's queued Optuna trials

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

    def put(self, key: str, items: list[Any]) -> None:
        """Queue Optuna trials (dicts with the trial's id, index and config JSON; None marks
        the end) for the batch of search `key`."""
        self.queues.setdefault(key, []).extend(items)

    def take(self, key: str, n: int) -> list[Any]:
        """Up to `n` queued items of search `key` (fewer, or none, when fewer are queued)."""
        q = self.queues.get(key, [])
        taken, self.queues[key] = q[:n], q[n:]
        return taken

    def drop(self, key: str) -> int:
        """Forget search `key`'s queue; how many items were still in it."""
        return len(self.queues.pop(key, []))

    def reset(self) -> None:
        """Every host free again (a search starts: leases of a stopped search's trials end)."""
        self.free = {node: list(range(len(h))) for node, h in self.hosts.items()}

    def pids(self) -> dict[str, list[int]]:
        """The hosts' process ids by node."""
        import ray

        return {node: ray.get([h.pid.remote() for h in hosts]) for node, hosts in self.hosts.items()}


def trial_resources(config: dict[str, Any]) -> Any:
    """What a Tune trial holds: one bundle of `__threads` CPUs per slot, spread over the nodes."""
    from ray.tune.execution.placement_groups import PlacementGroupFactory

    bundle = {"CPU": float(config.get("__threads", 1))}
    return PlacementGroupFactory([bundle] * int(config.get("__bundles", 1)), strategy="SPREAD")


def session_trial(config: dict[str, Any]) -> None:
    """Tune's trainable: a batch of the search's Optuna trials, or one trial epoch by epoch."""
    if config.get("__mode") == "batch":
        batch_trial(config)
    else:
        single_trial(config)


def single_trial(config: dict[str, Any]) -> None:
    """One Optuna trial, trained epoch by epoch on a warm host on this node, each epoch reported
    to Tune (whose scheduler may stop the trial at a report: the host's trial is then closed),
    the last one with the trial's outcome."""
    import os

    import ray
    from ray import tune

    node = ray.get_runtime_context().get_node_id()
    broker = ray.get_actor(config["__broker"])
    _node, index, host = ray.get(broker.lease.remote(node))
    task = {
        "number": -1,
        "config_json": config["__config"],
        "folds": int(config["__folds"]),
        "threads": int(config["__threads"]),
    }
    try:
        step = ray.get(host.begin.remote(task))
        while True:
            report = {"epoch": step["epoch"], "node": node, "tune_pid": os.getpid()} if "epoch" in step else {}
            if "value" in step:
                report |= {METRIC: step["value"], "val_loss_sd": step["sd"], "train_loss": step["train_loss"]}
            if "outcome" in step:
                outcome = step["outcome"]
                score, curve = float(outcome.get("score", math.nan)), outcome.get("curve") or [math.nan]
                value = score if math.isfinite(score) else float(curve[-1])
                final = {METRIC: value, "epoch": len(outcome.get("curve", ())), "node": node, "tune_pid": os.getpid()}
                tune.report({**report, **final, "outcome": outcome})
                return
            tune.report(report)
            step = ray.get(host.step.remote())
    finally:
        host.close.remote()  # after its last step (an actor runs one caller's calls in order)
        broker.give_back.remote(node, index)


DEPTH = 2
"""Optuna trials sent to a host at once: the one it trains and the next, queued behind it."""


def batch_trial(config: dict[str, Any]) -> None:
    """The search's Optuna trials on a warm host per slot (the nodes of this Tune trial's
    placement group), taken from the search's queue until its end mark, one Tune report per trial."""
    import os
    import time

    import ray
    from ray import tune

    pg = ray.util.get_current_placement_group()
    placed = ray.util.placement_group_table(pg)["bundles_to_node_id"] if pg is not None else {}
    here = ray.get_runtime_context().get_node_id()
    nodes = [str(placed[i]) for i in sorted(placed)] or [here]
    broker = ray.get_actor(config["__broker"])
    leases = ray.get([broker.lease.remote(node) for node in nodes])
    hosts = [host for _node, _index, host in leases]
    key = str(config["__search"])
    common = {"number": -1, "folds": int(config["__folds"]), "threads": int(config["__threads"]), "prune": False}
    inflight: dict[Any, tuple[int, dict[str, Any]]] = {}  # result ref → (slot, queued item)
    load = [0] * len(hosts)
    ended = False

    def send(slot: int, item: dict[str, Any]) -> None:
        ref = hosts[slot].train.remote({**common, "config_json": item["config_json"]})
        inflight[ref] = (slot, item)
        load[slot] += 1

    def running() -> list[str]:
        return [item["id"] for _slot, item in inflight.values()]

    def take() -> None:
        nonlocal ended
        room = sum(DEPTH - n for n in load)
        if room and not ended:
            for item in ray.get(broker.take.remote(key, room)):
                if item is None:
                    ended = True
                    break
                send(min(range(len(hosts)), key=load.__getitem__), item)

    try:
        take()
        # the first report: which trials it started (and where), before any has ended
        tune.report({METRIC: math.nan, "running": running(), "node": here, "tune_pid": os.getpid()})
        while True:
            take()
            if not inflight:
                if ended:
                    return
                time.sleep(0.005)  # the driver queues the next trials as results come
                continue
            # while a slot has room, look at the queue again soon rather than wait for a result
            starving = not ended and sum(load) < DEPTH * len(hosts)
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.01 if starving else None)
            if not ready:
                continue
            slot, item = inflight.pop(ready[0])
            load[slot] -= 1
            try:
                outcome = ray.get(ready[0])
            except Exception as e:  # noqa: BLE001 - a host that died mid-trial fails that trial, the batch goes on
                message = f"the Ray worker failed: {str(e).splitlines()[0]}"
                outcome = {"number": -1, "state": RunState.ERROR.value, "message": message}
                # Ray restarts the host (cold); the trials queued behind this one did not fail
                # and are sent again once the host answers.
                _wait_for(hosts[slot])
                for ref, (s, behind) in list(inflight.items()):
                    if s == slot:
                        del inflight[ref]
                        load[slot] -= 1
                        send(slot, behind)
            _report(tune, outcome, item, nodes[slot], running(), os.getpid())
    finally:
        for node, index, _host in leases:
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


def _report(tune: Any, outcome: dict[str, Any], item: dict[str, Any], node: str, running: list[str], pid: int) -> None:
    score = float(outcome.get("score", math.nan))
    curve = outcome.get("curve") or [math.nan]
    value = score if math.isfinite(score) else float(curve[-1])
    seconds = float(outcome.get("t_end", 0.0)) - float(outcome.get("t_start", 0.0))
    tune.report(
        {
            METRIC: value,
            "epoch": len(outcome.get("curve", ())),
            "node": node,
            "member": item["id"],
            "batch_index": item["k"],
            "running": running,  # the batch's trials in training now
            "tune_pid": pid,
            # flat, for the searcher (Tune flattens what it hands searchers): how it ended, and how long it took
            "trial_state": outcome["state"],
            "trial_score": score,
            "trial_s": seconds if outcome.get("t_start") else math.nan,
            "outcome": outcome,
        }
    )
