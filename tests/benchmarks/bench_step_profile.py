"""Where Descent's per-step CPU goes beyond the bare loop, in whole runs: the thread CPU time of
every step of bench_probes.py's model and data (sklearn digits, MLP 64-128-128-10, batch 64,
SGD momentum, 1 torch thread so that the training thread's CPU time is the run's), grouped by
the step's place relative to the probes (every 20 steps) and to the epoch ends (23 steps).

The code between two steps runs cold (the step before pushed it out of the caches), and it
leaves the next steps cold in turn: a warm timeit of a probe underestimates what it costs a
run. This script shows both: for each variant the mean CPU µs of
- the probed step, the step after it, the three after that, and the other steps, each minus
  the same steps of the run without probes (`probe_*`);
- the epoch's last step (flush and evaluation), the five steps after it, and the steps in
  the middle of an epoch, each minus the same steps of the bare loop that validates
  (`epoch_*`; its randperm at the epoch start is timed with the first step, as Descent's);
- the run's one-off cost at its start: Trainer.start (the hooks' set-up, the probe and the
  pictures at init), as µs per step of the run (`once_us_per_step`; the probe and pictures
  at the end fall in the last step, an epoch's last).
Prints one JSON line. Usage: python tests/benchmarks/bench_step_profile.py [epochs] [trials]
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
TRIALS = int(sys.argv[2]) if len(sys.argv) > 2 else 8
sys.argv[1:] = [str(EPOCHS), "1", "1"]  # bench_probes reads its thread count (here 1) at import
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_probes as bp  # noqa: E402 - the same model, data and variants as the target benchmark
from bench_trainer import validate_epoch  # noqa: E402 - bench_trainer's baseline's epoch evaluation

from engine.experiment import build_trainer  # noqa: E402
from engine.train import Trainer  # noqa: E402

VARIANTS = {
    "trainer": {"network.enabled": False, "probes.enabled": False},
    "probes": {"network.enabled": False, "probes.updates": False},
    "descent": {},  # the default instrumentation: probes, update sizes, network pictures
}
EPOCH_STEPS = 23  # digits: 1437 training samples in batches of 64


def descent_steps(over: dict, epochs: int) -> tuple[np.ndarray, float]:
    """Thread CPU seconds of each step, and of start() (once)."""
    t = build_trainer(bp.make_config(epochs, True, False, over))
    clock = time.thread_time
    c0 = clock()
    t.start()
    once = clock() - c0
    times = []
    while True:
        c0 = clock()
        more = t.train_step()
        times.append(clock() - c0)
        if not more:
            break
    return np.array(times), once


def bare_steps(epochs: int) -> np.ndarray:
    """The bare loop that validates once per epoch (bench_trainer.py's baseline), step by step."""
    ref = Trainer(bp.make_config(epochs, False), hooks=[])
    model, x, y = ref.model, ref.data.x_train, ref.data.y_train
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(ref.config.seed + 1)
    n, bs = x.shape[0], ref.config.train.batch_size
    clock, times = time.thread_time, []
    for _ in range(epochs):
        c0 = clock()
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, bs):
            idx = perm[s : s + bs]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if s + bs >= n:
                validate_epoch(ref, model, loss_fn)
            times.append(clock() - c0)
            c0 = clock()
    return np.array(times)


def by_place(us: np.ndarray, period: int, first: int) -> np.ndarray:
    """Mean of the steps at each place in a cycle of `period` steps (step k at (k + first) % period)."""
    place = (np.arange(len(us)) + first) % period
    return np.array([us[place == p].mean() for p in range(period)])


def main() -> None:
    torch.set_num_threads(1)
    epochs, trials = EPOCHS, TRIALS
    every = bp.EVERY
    for over in VARIANTS.values():  # warm-up (compiled kernels, data)
        descent_steps(over, 1)
    bare_steps(1)
    steps: dict[str, list[np.ndarray]] = {k: [] for k in [*VARIANTS, "bare_val"]}
    once: dict[str, list[float]] = {k: [] for k in VARIANTS}
    for _ in range(trials):  # interleaved: load changes hit every variant alike
        for name, over in VARIANTS.items():
            gc.collect()
            t, o = descent_steps(over, epochs)
            steps[name].append(t)
            once[name].append(o)
        gc.collect()
        steps["bare_val"].append(bare_steps(epochs))
    us = {k: np.median(np.stack(v), axis=0) * 1e6 for k, v in steps.items()}  # per step, median over trials
    out: dict = {
        "benchmark": "step_profile",
        "model": "digits MLP 64-128-128-10 relu, batch 64, SGD momentum",
        "threads": 1,
        "clock": "thread",
        "epochs_per_trial": epochs,
        "trials": trials,
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "cpu_us_per_step": {k: round(float(v.mean()), 1) for k, v in us.items()},
    }
    # A step is probed when (its index + 1) % every == 0: place 0 of the cycle below.
    base = by_place(us["trainer"], every, 1)
    for name in ("probes", "descent"):
        d = by_place(us[name], every, 1) - base
        out[f"probe_{name}_us"] = {
            "probed_step": round(float(d[0]), 1),
            "next_step": round(float(d[1]), 1),
            "next_3_steps": round(float(d[2:5].sum()), 1),
            "other_steps": round(float(d[5:].sum()), 1),
            "per_step": round(float(d.mean()), 1),
        }
    bare = by_place(us["bare_val"], EPOCH_STEPS, 0)
    for name in VARIANTS:
        d = by_place(us[name], EPOCH_STEPS, 0) - bare
        out[f"epoch_{name}_vs_bare_val_us"] = {
            "epoch_end_step": round(float(d[-1]), 1),
            "next_5_steps": round(float(d[:5].sum()), 1),
            "mid_epoch_step": round(float(d[5:-1].mean()), 1),
            "per_step": round(float(d.mean()), 1),
        }
    n_steps = len(us["trainer"])
    out["once_us_per_step"] = {k: round(float(np.median(v)) * 1e6 / n_steps, 1) for k, v in once.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
