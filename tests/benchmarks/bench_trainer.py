"""Steps/s of Descent's trainer (probes off) vs a bare PyTorch loop on the same model,
data and batch order: sklearn digits, MLP 64-128-128-10 ReLU, batch 64, SGD lr 0.1
momentum 0.9, 2 threads. They alternate in one process; prints JSON. Target: ratio >= 0.95.

Descent records per step the loss, lr and global gradient norm, and per epoch the
validation loss/accuracy and the eval-mode training loss/accuracy on a fixed subset of 512
training samples. `ratio` compares it with the bare loop that also evaluates the
validation set and that training subset once per epoch (the same work a user's own loop
does to watch a run and compare train with validation fairly);
`ratio_vs_train_only` compares it with a loop that does nothing but train. `cpu_ratio` is
the same comparison in process CPU time per step (steadier when other processes compete
for the cores).

What the two loops compute differently (`differs_from_bare` in the JSON): Descent computes
the epoch's evaluation losses and accuracies with its compiled cross-entropy
(engine/train/kernels.py `loss_and_correct`: the same loss up to float rounding, about a
quarter of the time of torch's CPU cross-entropy over 10 classes), the bare loop with
nn.CrossEntropyLoss and argmax. Both evaluate the training subset and the validation set in a
forward pass each. The training steps compute the same (Descent sets the gradients to None
before backward, as the bare loop's zero_grad does).
Usage: python tests/benchmarks/bench_trainer.py [epochs_per_trial] [threads]"""

from __future__ import annotations

import json
import os
import sys
import time

import torch
from torch import nn

from engine.config import ExperimentConfig
from engine.train import Trainer


def make_config(epochs: int) -> ExperimentConfig:
    return ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "model.hidden": [128, 128],
            "model.activation": "relu",
            "optim.name": "momentum",
            "optim.lr": 0.1,
            "optim.momentum": 0.9,
            "train.batch_size": 64,
            "train.epochs": epochs,
            "train.threads": 2,
            "device": "cpu",
        }
    )


CPU: dict[str, list[float]] = {"descent": [], "bare": [], "bare_val": []}


def descent_run(cfg: ExperimentConfig) -> tuple[float, int]:
    t = Trainer(cfg, hooks=[])
    t0, c0 = time.perf_counter(), time.process_time()
    t.run()
    CPU["descent"].append((time.process_time() - c0) / t.step)
    return time.perf_counter() - t0, t.step


@torch.no_grad()
def validate_epoch(ref: Trainer, model: nn.Module, loss_fn: nn.Module) -> None:
    """What a user's own loop does at an epoch's end to compare train with validation fairly:
    eval-mode loss and accuracy on the trainer's fixed training subset and on the validation set."""
    model.eval()
    x_sub, y_sub = ref.train_eval_batch  # the same fixed subset of training samples as Descent's
    for xe, ye in ((x_sub, y_sub), (ref.data.x_val, ref.data.y_val)):
        out = model(xe)
        float(loss_fn(out, ye)), float((out.argmax(1) == ye).float().mean())
    model.train()


def bare_run(cfg: ExperimentConfig, validate: bool = False) -> tuple[float, int]:
    # Same data, init and batch order as the trainer, built by the trainer's own pieces.
    ref = Trainer(cfg, hooks=[])
    model, x, y = ref.model, ref.data.x_train, ref.data.y_train
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(cfg.seed + 1)
    n, bs = x.shape[0], cfg.train.batch_size
    steps = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(cfg.train.epochs):
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, bs):
            idx = perm[s : s + bs]
            out = model(x[idx])
            loss = loss_fn(out, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        if validate:
            validate_epoch(ref, model, loss_fn)
    CPU["bare_val" if validate else "bare"].append((time.process_time() - c0) / steps)
    return time.perf_counter() - t0, steps


def main() -> None:
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    torch.set_num_threads(threads)
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    cfg = make_config(epochs).with_updates({"train.threads": threads})
    descent_run(make_config(1)), bare_run(make_config(1))  # warm-up
    for v in CPU.values():
        v.clear()
    d_rates, b_rates, bv_rates = [], [], []
    for _ in range(5):
        dt, n = bare_run(cfg)
        b_rates.append(n / dt)
        dt, n = bare_run(cfg, validate=True)
        bv_rates.append(n / dt)
        dt, n = descent_run(cfg)
        d_rates.append(n / dt)
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731 - a one-line median beside its uses
    ratio = med(d_rates) / med(bv_rates)
    print(
        json.dumps(
            {
                "benchmark": "trainer_vs_bare_loop",
                "model": "digits MLP 64-128-128-10 relu, batch 64, SGD momentum",
                "threads": torch.get_num_threads(),
                "epochs_per_trial": epochs,
                "trials": len(d_rates),
                "descent_steps_per_s": round(med(d_rates), 1),
                "bare_with_validation_steps_per_s": round(med(bv_rates), 1),
                "bare_train_only_steps_per_s": round(med(b_rates), 1),
                "ratio": round(ratio, 3),
                "ratio_vs_train_only": round(med(d_rates) / med(b_rates), 3),
                # Process CPU time per step (all threads): steadier than wall time on a shared machine.
                "cpu_ratio": round(med(CPU["bare_val"]) / med(CPU["descent"]), 3),
                "descent_cpu_us_per_step": round(med(CPU["descent"]) * 1e6, 1),
                "bare_with_validation_cpu_us_per_step": round(med(CPU["bare_val"]) * 1e6, 1),
                "differs_from_bare": (
                    "epoch evaluation: Descent's compiled cross-entropy and accuracy (equal to torch's up to "
                    "rounding); the bare loop: nn.CrossEntropyLoss and argmax; both a forward pass over the "
                    "training subset and one over the validation set"
                ),
                "target": 0.95,
                "meets_target": bool(ratio >= 0.95),
                "load_avg_1min": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
