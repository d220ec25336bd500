"""Comparisons: four digits-MLP runs in lockstep vs the same four runs one after another,
and saving/opening a session of four 50-epoch runs with probes. Prints one JSON line.

Targets: lockstep/sequential total steps/s ratio >= 1.0 (comparing costs no more than
running the runs apart); save and open <= 1 s each way. Both orders are timed alternately
(ABAB) and the best of each is kept, to reduce the noise of a shared machine.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from engine.compare import LockstepRunner
from engine.config import ExperimentConfig
from engine.session import Session, load_session, save_session

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def digits_config(epochs: int, probes: bool) -> ExperimentConfig:
    """Digits MLP 64-128-128-10; probes (histograms every 20 steps) and trajectory snapshots
    when `probes`; no sharpness estimates, diagnostics or metrics (they cost training time,
    not session size)."""
    return ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "model.hidden": [128, 128],
            "model.activation": "relu",
            "optim.lr": 0.01,
            "train.batch_size": 64,
            "train.epochs": epochs,
            "train.threads": 2,
            "device": "cpu",
            "probes.enabled": probes,
            "diagnostics.enabled": False,
            "metrics.enabled": False,
            "landscape.snapshots": probes,
            "landscape.sharpness_every": 0,
        }
    )


def lockstep(cfg: ExperimentConfig) -> tuple[float, int]:
    r = LockstepRunner()
    for name in OPTIMIZERS:
        r.add(name, cfg.with_updates({"optim.name": name}))
    t0 = time.perf_counter()
    r.run()
    return time.perf_counter() - t0, sum(t.step for t in r.trainers.values())


def one_after_another(cfg: ExperimentConfig) -> tuple[float, int]:
    total, steps = 0.0, 0
    for name in OPTIMIZERS:
        # each run alone (built the same way: shared data, own RNG), timed only while stepping
        r = LockstepRunner()
        r.add(name, cfg.with_updates({"optim.name": name}))
        t0 = time.perf_counter()
        r.run()
        total += time.perf_counter() - t0
        steps += r.trainers[name].step
    return total, steps


def main() -> int:
    epochs = int(os.environ.get("BENCH_EPOCHS", "3"))
    session_epochs = int(os.environ.get("BENCH_SESSION_EPOCHS", "50"))
    torch.set_num_threads(2)
    cfg = digits_config(epochs, probes=False)
    lock, seq = [], []
    for _ in range(2):
        lock.append(lockstep(cfg))
        seq.append(one_after_another(cfg))
        print(f"lockstep {lock[-1]}, one after another {seq[-1]}", file=sys.stderr)
    (tl, sl), (ts, ss) = min(lock), min(seq)
    assert sl == ss
    lock_rate, seq_rate = sl / tl, ss / ts

    # four 50-epoch runs with probes, saved with weights and optimizer state
    r = LockstepRunner()
    big = digits_config(session_epochs, probes=True)
    t0 = time.perf_counter()
    for name in OPTIMIZERS:
        r.add(name, big.with_updates({"optim.name": name}))
    r.run()
    train_s = time.perf_counter() - t0
    print(f"trained 4 x {session_epochs} epochs in {train_s:.1f} s", file=sys.stderr)
    session = Session(runs=r.records(), meta={"comparison": {"order": list(OPTIMIZERS)}})
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "four.descent"
        saves, opens = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            save_session(session, p)
            saves.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            loaded = load_session(p)
            opens.append(time.perf_counter() - t0)
        size = p.stat().st_size
    n_probe_arrays = sum(1 for rr in loaded.runs for k in rr.arrays if k.startswith("probes/"))
    print(
        json.dumps(
            {
                "benchmark": "compare",
                "runs": len(OPTIMIZERS),
                "epochs": epochs,
                "steps_total": sl,
                "lockstep_steps_per_s": round(lock_rate, 1),
                "sequential_steps_per_s": round(seq_rate, 1),
                "ratio": round(lock_rate / seq_rate, 3),
                "ratio_target": 1.0,
                "session_runs": len(loaded.runs),
                "session_epochs": session_epochs,
                "session_train_s": round(train_s, 2),
                "session_bytes": size,
                "probe_arrays": n_probe_arrays,
                "save_s": round(min(saves), 3),
                "open_s": round(min(opens), 3),
                "save_open_target_s": 1.0,
                "load_average": os.getloadavg()[0],
                "threads": torch.get_num_threads(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
