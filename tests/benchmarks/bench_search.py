"""Search throughput: a 32-trial random search, 5 epochs per trial, on digits.

Measures, in one process, alternating the variants (ABAB, `--rounds` times):
  * trials per minute with --jobs 2 (two worker processes) against --jobs 1 (in-process),
    target ≥ 1.7× on a 2-core machine. The worker pool is warmed first (as after a process's
    first search: the workers stay up across searches); the cold start of two workers (torch
    import, data build) is reported beside it;
  * Optuna's own time per trial (ask, suggest, report, should_prune, tell) as a share of the
    trial's training time, with in-memory storage (target ≤ 2%) and with sqlite beside it;
  * with --ray: the same search through Ray Tune on a local two-node cluster (started here, one
    CPU per node, shut down after) against --jobs 2, target ≥ 0.6×.
Prints one JSON line (with the load average: the machine may be shared).

    PYTHONPATH=. python tests/benchmarks/bench_search.py [--trials 32] [--epochs 5] [--rounds 2] [--ray]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from engine.config import ExperimentConfig
from engine.jobs import run_job
from engine.tuning.search import SearchRun, SearchSettings
from engine.tuning.snapshot import SearchSnapshot
from engine.tuning.space import parse_space

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


def _overhead(snap: SearchSnapshot) -> float:
    """Optuna's time as a percentage of the trials' training time."""
    train = sum(t.duration_s for t in snap.trials)
    return 100.0 * snap.optuna_s / train if train else float("nan")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=32)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--ray", action="store_true", help="also measure Ray Tune on a local two-node cluster")
    a = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _search(2, 1, 1)  # warm-up: imports and compiled kernels of this process
    cold_s, _ = _search(2, 1, 2)  # starts the pool's two workers (they stay up for every search below)
    one, two, mem, sql = [], [], [], []
    for _ in range(a.rounds):
        s1, snap1 = _search(a.trials, a.epochs, 1)
        one.append(_per_min(s1, snap1))
        mem.append(_overhead(snap1))
        s2, snap2 = _search(a.trials, a.epochs, 2)
        two.append(_per_min(s2, snap2))
        with tempfile.TemporaryDirectory() as d:
            _s3, snap3 = _search(a.trials, a.epochs, 1, storage=f"sqlite:///{d}/bench.db")
        sql.append(_overhead(snap3))
    out = {
        "bench": "search",
        "trials": a.trials,
        "epochs": a.epochs,
        "rounds": a.rounds,
        "jobs1_trials_per_min": round(statistics.median(one), 2),
        "jobs2_trials_per_min": round(statistics.median(two), 2),
        "jobs2_speedup": round(statistics.median(two) / statistics.median(one), 3),
        "target_jobs2_speedup": 1.7,
        "pool_cold_start_s": round(cold_s, 2),
        "optuna_overhead_pct_inmemory": round(statistics.median(mem), 3),
        "optuna_overhead_pct_sqlite": round(statistics.median(sql), 3),
        "target_overhead_pct": 2.0,
    }
    if a.ray:
        import ray
        from ray.cluster_utils import Cluster

        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))
        small = {"num_cpus": 1, "object_store_memory": 80 * 1024**2, "include_dashboard": False}
        cluster = Cluster(initialize_head=True, head_node_args=small)
        try:
            cluster.add_node(num_cpus=1, object_store_memory=80 * 1024**2)
            cluster.wait_for_nodes()
            rays, twos = [], []
            for _ in range(a.rounds):
                sr, snapr = _search(a.trials, a.epochs, 1, ray_address=cluster.address)
                rays.append(_per_min(sr, snapr))
                s2, snap2 = _search(a.trials, a.epochs, 2)
                twos.append(_per_min(s2, snap2))
        finally:
            ray.shutdown()
            cluster.shutdown()
        out |= {
            "ray_trials_per_min": round(statistics.median(rays), 2),
            "ray_vs_jobs2": round(statistics.median(rays) / statistics.median(twos), 3),
            "target_ray_vs_jobs2": 0.6,
        }
    out["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    out["cores"] = os.cpu_count()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
