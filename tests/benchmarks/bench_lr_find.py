"""Seconds per learning-rate range test of Descent (engine/tuning/lr_range.py) vs
torch-lr-finder's LRFinder, same process, alternating (ABAB): sklearn digits, the default
MLP (64-32-32-10 ReLU, Kaiming init), Adam, batch 64, 100 iterations from 1e-6 to 10 on a
log scale (no early stop, so both take every step), one torch thread. Both start from a fresh
model and restore what they changed: Descent builds its sweep trainer from the config (and
puts the random states back), LRFinder caches the model and optimizer state in memory and
`reset()` loads them back; the timed span of each covers all of that. Prints one JSON line.
Target: ratio = descent / torch_lr_finder <= 1.

Usage: python tests/benchmarks/bench_lr_find.py [rounds]"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from engine.config import ExperimentConfig
from engine.data import load_data
from engine.jobs import run_job
from engine.model import build_model
from engine.tuning.lr_range import LrRangeSettings, lr_range_job

ITERATIONS = 100


def make_config() -> ExperimentConfig:
    return ExperimentConfig().with_updates(
        {"data.name": "digits", "optim.name": "adam", "train.batch_size": 64, "train.threads": 1, "device": "cpu"}
    )


def descent_once(cfg: ExperimentConfig, data, settings: LrRangeSettings) -> tuple[float, int]:
    t0 = time.perf_counter()
    result = run_job(lr_range_job(cfg, settings, data=data))
    return time.perf_counter() - t0, result.done


def tlf_once(cfg: ExperimentConfig, data, loader: DataLoader, settings: LrRangeSettings) -> tuple[float, int]:
    from torch_lr_finder import LRFinder

    t0 = time.perf_counter()
    model = build_model(cfg.model, data.n_features, data.n_classes, cfg.seed, input_shape=data.input_shape)
    opt = torch.optim.Adam(model.parameters(), lr=settings.start)
    finder = LRFinder(model, opt, nn.CrossEntropyLoss(), device="cpu")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # tqdm, prints
        finder.range_test(
            loader,
            start_lr=settings.start,
            end_lr=settings.end,
            num_iter=settings.iterations,
            step_mode="exp",
            smooth_f=1 - settings.beta,
            diverge_th=settings.diverge_factor,
        )
    finder.reset()
    return time.perf_counter() - t0, len(finder.history["lr"])


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    torch.set_num_threads(1)
    cfg = make_config()
    data = load_data(cfg)
    # No early stop: both take all 100 steps (their stop rules differ: LRFinder smooths without
    # bias correction), so the times compare the same work.
    settings = LrRangeSettings(1e-6, 10.0, ITERATIONS, beta=0.95, diverge_factor=1e9)
    loader = DataLoader(
        TensorDataset(data.x_train, data.y_train),
        batch_size=cfg.train.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(1),
    )
    descent_once(cfg, data, settings)  # warm-up: compiled kernels, allocator, imports
    tlf_once(cfg, data, loader, settings)
    times: dict[str, list[float]] = {"descent": [], "torch_lr_finder": []}
    done: dict[str, int] = {}
    for _ in range(rounds):
        t, done["descent"] = descent_once(cfg, data, settings)
        times["descent"].append(t)
        t, done["torch_lr_finder"] = tlf_once(cfg, data, loader, settings)
        times["torch_lr_finder"].append(t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        json.dumps(
            {
                "benchmark": "lr_find",
                "iterations": ITERATIONS,
                "iterations_done": done,
                "rounds": rounds,
                "descent_s": round(med["descent"], 4),
                "torch_lr_finder_s": round(med["torch_lr_finder"], 4),
                "ratio": round(med["descent"] / med["torch_lr_finder"], 3),
                "target": "ratio <= 1",
                "descent_min_s": round(min(times["descent"]), 4),
                "torch_lr_finder_min_s": round(min(times["torch_lr_finder"]), 4),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
