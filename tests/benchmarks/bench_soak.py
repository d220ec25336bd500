"""Soak: memory and event flow over a long headless run.

Trains the spiral MLP (probes and landscape snapshots on, unpaced) for N steps, emitting into
an EventChannel that a consumer thread drains at ~30 Hz, as the GUI's bridge does. Reports
RSS (VmRSS from /proc/self/status) sampled about once a second, its growth after warm-up
(the first 10% of the steps; target ≤ 50 MB), the channel's largest depth, how many step
batches were coalesced and droppable events replaced, the consumer's tick times, steps/s and
the load average. Prints one JSON line.
Usage: python tests/benchmarks/bench_soak.py [steps]   (default 100000)
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time

import torch

from engine.config import ExperimentConfig
from engine.events import EventChannel
from engine.experiment import build_trainer

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
TARGET_MB = 50.0
TICK_S = 1 / 30


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def make_config(epochs: int) -> ExperimentConfig:
    return ExperimentConfig().with_updates(
        {
            "device": "cpu",
            "train.threads": 1,
            "data.name": "spiral",
            "data.n_samples": 1000,
            "model.hidden": [32, 32],
            "train.batch_size": 32,
            "train.epochs": epochs,
            "probes.every": 20,
            "landscape.snapshots": True,
        }
    )


def main() -> None:
    torch.manual_seed(0)
    per_epoch = build_trainer(make_config(1)).steps_per_epoch
    epochs = math.ceil(STEPS / per_epoch)
    channel = EventChannel()
    trainer = build_trainer(make_config(epochs), emit=channel.put, run_id="soak")
    samples: list[tuple[float, int, float]] = []  # (seconds, step, RSS MB)
    ticks: list[float] = []
    depth = [0]
    events = [0]
    done = threading.Event()
    t0 = time.perf_counter()

    def consume() -> None:
        next_sample = 0.0
        while not done.is_set():
            time.sleep(TICK_S)
            depth[0] = max(depth[0], len(channel))
            start = time.perf_counter()
            events[0] += len(channel.drain())
            ticks.append(time.perf_counter() - start)
            now = start - t0
            if now >= next_sample:
                samples.append((now, trainer.step, rss_mb()))
                next_sample = now + 1.0
        events[0] += len(channel.drain())

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    trainer.run(max_steps=STEPS)
    wall = time.perf_counter() - t0
    done.set()
    consumer.join()
    samples.append((wall, trainer.step, rss_mb()))

    warm_step = max(1, trainer.step // 10)
    warm = next((s for s in samples if s[1] >= warm_step), samples[-1])
    after = [s for s in samples if s[1] >= warm_step]
    growth = samples[-1][2] - warm[2]
    ticks_ms = sorted(1000 * t for t in ticks) or [0.0]
    print(
        json.dumps(
            {
                "bench": "soak",
                "steps": trainer.step,
                "state": str(trainer.state),
                "wall_s": round(wall, 1),
                "steps_per_s": round(trainer.step / wall, 1),
                "rss_start_mb": round(samples[0][2], 1),
                "rss_after_warmup_mb": round(warm[2], 1),
                "warmup_step": warm[1],
                "rss_end_mb": round(samples[-1][2], 1),
                "rss_max_after_warmup_mb": round(max(s[2] for s in after), 1),
                "rss_growth_mb": round(growth, 1),
                "target_mb": TARGET_MB,
                "meets_target": growth <= TARGET_MB,
                "rss_over_time": [
                    [round(s[0], 1), s[1], round(s[2], 1)] for s in samples[:: max(1, len(samples) // 20)]
                ],
                "channel_capacity": channel.capacity,
                "channel_max_depth": depth[0],
                "coalesced": channel.coalesced,
                "dropped": channel.dropped,
                "events_drained": events[0],
                "tick_ms_median": round(ticks_ms[len(ticks_ms) // 2], 3),
                "tick_ms_max": round(ticks_ms[-1], 3),
                "loadavg": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
