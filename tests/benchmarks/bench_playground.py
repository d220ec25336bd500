"""Playground race speed: 6 optimizers (sgd, momentum, nesterov, adagrad, rmsprop, adam)
x 10,000 lockstep steps on Rosenbrock with gradient noise, all series recorded.
Baseline in the same process: the same race stepped by the real torch.optim optimizers
(one step() per racer, engine.playground.reference) for 1,000 steps, scaled to 10,000.
Target: batched race <= 1 s. Prints one JSON line (with the machine load)."""
from __future__ import annotations

import json
import os
import sys
import time

import torch

from engine.playground import make_config
from engine.playground.race import Race
from engine.playground.reference import reference_paths


def timed_race(steps: int) -> tuple[float, float]:
    cfg = make_config("rosenbrock", None, {"steps": steps, "sigma": 0.1})
    race = Race(cfg)
    w, c = time.perf_counter(), time.process_time()
    race.advance()
    return time.perf_counter() - w, time.process_time() - c


def main() -> int:
    torch.set_num_threads(1)
    timed_race(500)                                         # warm-up
    runs = [timed_race(10_000) for _ in range(3)]
    wall = min(r[0] for r in runs)
    cpu = min(r[1] for r in runs)
    cfg = make_config("rosenbrock", None, {"steps": 1000, "sigma": 0.1})
    t0 = time.perf_counter()
    reference_paths(cfg)
    ref = (time.perf_counter() - t0) * 10
    out = {"bench": "playground_race", "optimizers": 6, "steps": 10_000,
           "batched_wall_s": round(wall, 3), "batched_cpu_s": round(cpu, 3),
           "torch_optim_per_racer_wall_s_est": round(ref, 3), "speedup": round(ref / wall, 1),
           "target_s": 1.0, "ok": wall <= 1.0, "loadavg_1min": round(os.getloadavg()[0], 2)}
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
