"""Soak: memory and event flow over a long headless run.

Trains the spiral MLP (probes and landscape snapshots on, unpaced) for N steps, emitting into
an EventChannel that a consumer thread drains at ~30 Hz, as the GUI's bridge does. Reports
RSS (VmRSS from /proc/self/status) sampled about once a second, its growth after warm-up
(the first 10% of the steps; target ≤ 50 MB), the channel's largest depth, how many step
batches were coalesced and droppable events replaced, the consumer's tick times, steps/s and
the load average. Prints one JSON line.

With --gui the same experiment runs in the real app under the display (Xvfb): the main window,
its bridge draining the controller's channel on the GUI thread, the views drawing, the tabs
cycled every few seconds so that every view draws for a while. It reports the same figures,
the ticks being the bridge's own, and measures growth from the step at which every tab had
drawn once (views build their plots, caches and GL contexts on first show) (default 30000 steps).
Usage: python tests/benchmarks/bench_soak.py [steps]   (default 100000)
       xvfb-run -a python tests/benchmarks/bench_soak.py --gui [steps]
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
from engine.states import RunState

GUI = "--gui" in sys.argv
_ARGS = [a for a in sys.argv[1:] if a != "--gui"]
STEPS = int(_ARGS[0]) if _ARGS else 30_000 if GUI else 100_000
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


def report(
    mode: str,
    samples: list[tuple[float, int, float]],
    ticks: list[float],
    channel: EventChannel,
    depth: int,
    events: int,
    steps: int,
    state: str,
    wall: float,
    extra: dict | None = None,
    warm_step: int | None = None,
) -> None:
    """Print the soak's JSON line; samples are (seconds, step, RSS MB), ticks in seconds.
    Growth is measured from warm_step (default: 10% of the steps)."""
    warm_step = warm_step if warm_step is not None else max(1, steps // 10)
    warm = next((s for s in samples if s[1] >= warm_step), samples[-1])
    after = [s for s in samples if s[1] >= warm_step]
    growth = samples[-1][2] - warm[2]
    ticks_ms = sorted(1000 * t for t in ticks) or [0.0]
    print(
        json.dumps(
            {
                "bench": "soak",
                "mode": mode,
                "steps": steps,
                "state": state,
                "wall_s": round(wall, 1),
                "steps_per_s": round(steps / wall, 1),
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
                "channel_max_depth": depth,
                "coalesced": channel.coalesced,
                "dropped": channel.dropped,
                "events_drained": events,
                "tick_ms_median": round(ticks_ms[len(ticks_ms) // 2], 3),
                "tick_ms_p99": round(ticks_ms[min(len(ticks_ms) - 1, int(len(ticks_ms) * 0.99))], 3),
                "tick_ms_max": round(ticks_ms[-1], 3),
                **(extra or {}),
                "loadavg": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


def gui_soak(epochs: int) -> None:
    """The soak in the real app: window, bridge and views on the GUI thread."""
    from PySide6.QtCore import QTimer

    from desktop.app import _make_app
    from desktop.controller import AppController
    from desktop.main_window import MainWindow

    app = _make_app()
    controller = AppController(make_config(epochs))
    window = MainWindow(controller)
    window.resize(1600, 1000)
    window.show()
    bridge = window.bridge
    samples: list[tuple[float, int, float]] = []
    ticks: list[float] = []
    depth = [0]
    tabs_seen: set[str] = set()
    warm_step = [0]  # the step when every tab had drawn once: memory grows until then by design
    real_tick = bridge.tick

    def timed_tick() -> None:  # the bridge's own tick, timed, with the depth it found
        depth[0] = max(depth[0], len(controller.channel))
        before = bridge.ticks
        real_tick()
        if bridge.ticks != before:
            ticks.append(bridge.last_tick_ms / 1000)

    bridge.tick = timed_tick  # type: ignore[method-assign]  # the timer calls tick through this attribute
    t0 = time.perf_counter()

    def step() -> int:
        trainer = controller.worker.trainer if controller.worker is not None else None
        return trainer.step if trainer is not None else 0

    def sample() -> None:
        samples.append((time.perf_counter() - t0, step(), rss_mb()))
        if step() >= STEPS or controller.state in (RunState.FINISHED, RunState.DIVERGED, RunState.ERROR):
            app.quit()

    def next_tab() -> None:
        tabs = window.tabs
        tabs.setCurrentIndex((tabs.currentIndex() + 1) % tabs.count())
        tabs_seen.add(tabs.tabText(tabs.currentIndex()))
        if len(tabs_seen) == tabs.count() and not warm_step[0]:
            warm_step[0] = step()

    sampler, cycler = QTimer(), QTimer()
    sampler.timeout.connect(sample)
    cycler.timeout.connect(next_tab)
    sampler.start(1000)
    cycler.start(3000)
    controller.start()
    app.exec()
    wall = time.perf_counter() - t0
    steps, state = step(), str(controller.state)
    samples.append((wall, steps, rss_mb()))
    window.close()
    report(
        "gui",
        samples,
        ticks,
        controller.channel,
        depth[0],
        bridge.events_seen,
        steps,
        state,
        wall,
        {"bridge_max_tick_ms": round(bridge.max_tick_ms, 1), "tab_groups_drawn": sorted(tabs_seen)},
        warm_step=warm_step[0] or None,
    )


def main() -> None:
    torch.manual_seed(0)
    per_epoch = build_trainer(make_config(1)).steps_per_epoch
    epochs = math.ceil(STEPS / per_epoch)
    if GUI:
        gui_soak(epochs)
        return
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

    report("headless", samples, ticks, channel, depth[0], events[0], trainer.step, str(trainer.state), wall)


if __name__ == "__main__":
    main()
