"""Search throughput: a 32-trial random search, 5 epochs per trial, on digits.

Measures, in one process, alternating the variants (ABAB, `--rounds` times):
  * trials per minute with --jobs 2 (two worker processes) against --jobs 1 (in-process),
    target ≥ 1.7× on a 2-core machine. The worker pool is warmed first (as after a process's
    first search: the workers stay up across searches); the cold start of two workers (torch
    import, data build) is reported beside it;
  * Optuna's own time per trial (ask, suggest, report, should_prune, tell) as a share of the
    trial's training time, with in-memory storage (target ≤ 2%) and with sqlite beside it;
  * where the time goes (Linux): CPU seconds per trial of the process(es) that train (this
    process for --jobs 1, the two workers for --jobs 2) and the share of their time they were
    ready to run but waited for a core another process held. Equal CPU per trial and a high wait
    share mean the speed-up was lost to the machine's other load, not to the workers;
  * with --ray: the same search through Ray Tune on a local two-node cluster (started here, one
    CPU per node, shut down after) against --jobs 2, target ≥ 0.6×. As for the pool, the first
    Ray search (connecting, starting the warm trial hosts) is timed apart (`ray_cold_start_s`);
    the rounds after it alternate Ray and --jobs 2. Beside the rates, the overhead per trial of
    each: the slots' time not spent inside a trial (wall × slots − Σ trial time) per trial.
    `--ray-only` skips the --jobs 1 / sqlite rounds. The searches of one connection share one
    Tune run (engine/tuning/ray_session.py), so the rounds measure searches that start warm.
    After the rounds that run is ended and, on the same connection: a search that starts its
    own Tune run (`ray_fresh_run_search_s`, what a search pays after the shared run has ended),
    and an empty Tune run of two trials that only report (`tune_empty_fit_s`, no search that
    starts its own Tune run can be faster: `ray_vs_jobs2_upper_bound` is --jobs 2's time over
    it), with where its time goes (`tune_empty_fit_breakdown_s`: from `fit` to the start of its
    first trial actor's process; from there to the trainable running, i.e. starting Python,
    importing Ray and Ray Tune, joining the cluster; from there to `fit` returning).
Prints one JSON line (with the load average: the machine may be shared).

    PYTHONPATH=. python tests/benchmarks/bench_search.py [--trials 32] [--epochs 5] [--rounds 2] [--ray] [--ray-only]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from typing import Any

from engine.config import ExperimentConfig
from engine.jobs import run_job
from engine.tuning.search import SearchRun, SearchSettings
from engine.tuning.snapshot import SearchSnapshot
from engine.tuning.space import parse_space
from engine.tuning.worker import POOL

SPACE = ["optim.lr=log:1e-4:1", "optim.weight_decay=log:1e-6:1e-2"]


def _search(
    trials: int, epochs: int, jobs: int, storage: str = "", ray_address: str = ""
) -> tuple[float, SearchSnapshot]:
    base = ExperimentConfig().with_updates(
        {"data.name": "digits", "model.hidden": [32], "train.epochs": epochs, "optim.name": "adam"}
    )
    settings = SearchSettings(
        base, parse_space(SPACE), trials=trials, jobs=jobs, storage=storage, seed=0, study_name=f"bench{time.time_ns()}"
    )
    if ray_address:
        from engine.tuning.ray_backend import RaySearch

        run: SearchRun = RaySearch(settings, ray_address)
    else:
        run = SearchRun(settings)
    t = time.perf_counter()
    snap = run_job(run.job())
    return time.perf_counter() - t, snap


def _per_min(seconds: float, snap: SearchSnapshot) -> float:
    rate = 60.0 * len(snap.finished) / seconds
    print(f"  {len(snap.finished)} trials, {snap.jobs} job(s), {snap.storage or 'in memory'}: {seconds:.1f} s, "
          f"{rate:.1f} trials/min", file=sys.stderr, flush=True)  # fmt: skip
    return rate


def _sched(pids: list[int]) -> tuple[float, float]:
    """Seconds on a CPU and seconds ready but waiting for one, summed over the processes'
    threads (/proc/<pid>/task/*/schedstat); NaN where that is not available."""
    run = wait = 0
    try:
        for pid in pids:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    on_cpu, waiting, _slices = f.read().split()
                run, wait = run + int(on_cpu), wait + int(waiting)
    except (OSError, ValueError):
        return math.nan, math.nan
    return run / 1e9, wait / 1e9


def _timed(pids: list[int], *args: Any) -> tuple[float, SearchSnapshot, float, float]:
    """A search with the CPU ms per finished trial of `pids` and their wait share (%)."""
    run0, wait0 = _sched(pids)
    seconds, snap = _search(*args)
    run1, wait1 = _sched(pids)
    run, wait = run1 - run0, wait1 - wait0
    share = 100.0 * wait / (run + wait) if run + wait else math.nan
    return seconds, snap, 1000.0 * run / max(1, len(snap.finished)), share


def _overhead(snap: SearchSnapshot) -> float:
    """Optuna's time as a percentage of the trials' training time."""
    train = sum(t.duration_s for t in snap.trials)
    return 100.0 * snap.optuna_s / train if train else float("nan")


def _slot_overhead_ms(seconds: float, snap: SearchSnapshot, slots: int) -> float:
    """The slots' time outside the trials, per finished trial (ms): scheduling, reporting, waiting."""
    inside = sum(t.duration_s for t in snap.trials)
    return 1000.0 * (seconds * slots - inside) / max(1, len(snap.finished))


def _process_start() -> float:
    """When this process started (time.time() seconds; /proc, to 10 ms)."""
    with open("/proc/self/stat") as f:
        ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        up = float(f.read().split()[0])
    return time.time() - (up - ticks / os.sysconf("SC_CLK_TCK"))


def _wait_for_free_cpus(timeout_s: float = 10.0) -> None:
    """Until every CPU of the connected cluster is free again (or `timeout_s`)."""
    import ray

    end = time.monotonic() + timeout_s
    total = ray.cluster_resources().get("CPU", 0)
    while time.monotonic() < end and ray.available_resources().get("CPU", 0) < total:
        time.sleep(0.02)


def _empty_tune_fit(trials: int = 2) -> tuple[float, list[float]]:
    """Seconds of a Tune run of `trials` trials that do nothing but report, on the connected
    cluster: what a Tune run costs (its trial actors start, report, stop) even with trials of no
    length; and its parts: `fit` → the first trial actor's process starts → its trainable runs →
    `fit` returns."""
    from ray import tune

    def empty(config: dict) -> None:
        tune.report({"val_loss": 0.0, "proc_start": _process_start(), "entered": time.time()})

    with tempfile.TemporaryDirectory() as d:
        t0, t = time.time(), time.perf_counter()
        grid = tune.Tuner(
            tune.with_resources(empty, {"cpu": 1}),
            tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=2, reuse_actors=True),
            run_config=tune.RunConfig(storage_path=d, verbose=0),
        ).fit()
        seconds = time.perf_counter() - t
    first = min((r.metrics for r in grid), key=lambda m: m["entered"])
    start, entered = first["proc_start"] - t0, first["entered"] - t0
    return seconds, [start, entered - start, seconds - entered]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=32)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--ray", action="store_true", help="also measure Ray Tune on a local two-node cluster")
    p.add_argument("--ray-only", action="store_true", help="only the Ray rounds against --jobs 2")
    a = p.parse_args()
    a.ray = a.ray or a.ray_only
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _search(2, 1, 1)  # warm-up: imports and compiled kernels of this process
    cold_s, _ = _search(2, 1, 2)  # starts the pool's two workers (they stay up for every search below)
    workers = POOL.idle_pids()
    one, two, mem, sql = [], [], [], []
    cpu1, cpu2, wait1, wait2 = [], [], [], []
    for _ in range(0 if a.ray_only else a.rounds):
        s1, snap1, c1, w1 = _timed([os.getpid()], a.trials, a.epochs, 1)
        one.append(_per_min(s1, snap1))
        mem.append(_overhead(snap1))
        s2, snap2, c2, w2 = _timed(workers, a.trials, a.epochs, 2)
        two.append(_per_min(s2, snap2))
        cpu1, cpu2, wait1, wait2 = [*cpu1, c1], [*cpu2, c2], [*wait1, w1], [*wait2, w2]
        print(f"  CPU per trial: {c1:.1f} ms in-process, {c2:.1f} ms in the workers; waiting for a core: "
              f"{w1:.0f}% in-process, {w2:.0f}% in the workers", file=sys.stderr, flush=True)  # fmt: skip
        with tempfile.TemporaryDirectory() as d:
            _s3, snap3 = _search(a.trials, a.epochs, 1, storage=f"sqlite:///{d}/bench.db")
        sql.append(_overhead(snap3))
    out: dict[str, Any] = {"bench": "search", "trials": a.trials, "epochs": a.epochs, "rounds": a.rounds}
    if not a.ray_only:
        out |= {
            "jobs1_trials_per_min": round(statistics.median(one), 2),
            "jobs2_trials_per_min": round(statistics.median(two), 2),
            "jobs2_speedup": round(statistics.median(two) / statistics.median(one), 3),
            "target_jobs2_speedup": 1.7,
            "pool_cold_start_s": round(cold_s, 2),
            "jobs1_cpu_ms_per_trial": round(statistics.median(cpu1), 1),
            "jobs2_worker_cpu_ms_per_trial": round(statistics.median(cpu2), 1),
            "jobs1_wait_for_core_pct": round(statistics.median(wait1), 1),
            "jobs2_wait_for_core_pct": round(statistics.median(wait2), 1),
            "optuna_overhead_pct_inmemory": round(statistics.median(mem), 3),
            "optuna_overhead_pct_sqlite": round(statistics.median(sql), 3),
            "target_overhead_pct": 2.0,
        }
    else:
        out["pool_cold_start_s"] = round(cold_s, 2)
    if a.ray:
        from ray.cluster_utils import Cluster

        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))
        small = {"num_cpus": 1, "object_store_memory": 80 * 1024**2, "include_dashboard": False}
        cluster = Cluster(initialize_head=True, head_node_args=small)
        try:
            cluster.add_node(num_cpus=1, object_store_memory=80 * 1024**2)
            cluster.wait_for_nodes()
            t = time.perf_counter()
            _search(a.trials, a.epochs, 1, ray_address=cluster.address)  # connects, starts the warm trial hosts
            ray_cold = time.perf_counter() - t
            rays, twos, ray_over, two_over, empties, two_s, parts, fresh = [], [], [], [], [], [], [], []
            for _ in range(a.rounds):
                sr, snapr = _search(a.trials, a.epochs, 1, ray_address=cluster.address)
                rays.append(_per_min(sr, snapr))
                ray_over.append(_slot_overhead_ms(sr, snapr, 2))
                s2, snap2 = _search(a.trials, a.epochs, 2)
                twos.append(_per_min(s2, snap2))
                two_over.append(_slot_overhead_ms(s2, snap2, 2))
                two_s.append(s2)
                print(f"  overhead per trial: Ray {ray_over[-1]:.0f} ms, --jobs 2 {two_over[-1]:.0f} ms",
                      file=sys.stderr, flush=True)  # fmt: skip
            from engine.tuning.ray_backend import end_session

            for _ in range(a.rounds):  # with no shared Tune run (it holds the CPUs while it waits)
                end_session()
                fresh.append(_search(a.trials, a.epochs, 1, ray_address=cluster.address)[0])
                end_session()
                _wait_for_free_cpus()  # the ended run's placement groups go back to the cluster
                seconds, split = _empty_tune_fit()
                empties.append(seconds)
                parts.append(split)
                print(f"  a search starting its own Tune run: {fresh[-1]:.1f} s; an empty 2-trial Tune run: "
                      f"{seconds:.2f} s (" + ", ".join(f"{x:.2f}" for x in split) + ")",
                      file=sys.stderr, flush=True)  # fmt: skip
        finally:
            from engine.tuning.ray_backend import disconnect

            disconnect()
            cluster.shutdown()
        out |= {
            "ray_trials_per_min": round(statistics.median(rays), 2),
            "jobs2_trials_per_min_beside_ray": round(statistics.median(twos), 2),
            "ray_vs_jobs2": round(statistics.median(rays) / statistics.median(twos), 3),
            "target_ray_vs_jobs2": 0.6,
            "ray_cold_start_s": round(ray_cold, 2),
            "ray_overhead_ms_per_trial": round(statistics.median(ray_over), 1),
            "jobs2_overhead_ms_per_trial": round(statistics.median(two_over), 1),
            "ray_fresh_run_search_s": round(statistics.median(fresh), 2),
            "ray_vs_jobs2_fresh_run": round(statistics.median(two_s) / statistics.median(fresh), 3),
            "tune_empty_fit_s": round(statistics.median(empties), 2),
            "tune_empty_fit_breakdown_s": {
                name: round(statistics.median(p[i] for p in parts), 2)
                for i, name in enumerate(["to_actor_process_start", "process_start_to_trainable", "to_fit_return"])
            },
            # for a search that starts its own Tune run: no such search beats an empty Tune run
            "ray_vs_jobs2_upper_bound": round(statistics.median(two_s) / statistics.median(empties), 3),
        }
    out["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    out["cores"] = os.cpu_count()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
