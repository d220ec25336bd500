"""Events the engine emits, and the bounded channel that carries them to a consumer.

Events are small immutable records of plain Python/numpy values, never tensors. The
channel never blocks the producer: when it is full, consecutive step batches are merged
(nothing is lost, they only arrive in bigger batches), and a droppable event replaces the
queued one of the same kind and run that it makes obsolete (a newer metrics report, a
newer decision-boundary grid); epoch, state, error and final events are never dropped.

Each feature's live event is its snapshot type (engine/<feature>/snapshot.py): the same
frozen record the session stores, so the views decode one format.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.states import RunState


@dataclass(frozen=True)
class Event:
    run_id: str

    # True: when the channel is full, this event replaces the queued droppable one of the
    # same kind and run (only the newest matters: a report, a grid); never for data that
    # accumulates (steps, trajectory rows, findings).
    droppable: ClassVar[bool] = False


@dataclass(frozen=True)
class StepBatch(Event):
    """Per-step scalars for a contiguous range of steps (arrays of equal length)."""

    steps: np.ndarray  # int64 global step numbers (1-based)
    loss: np.ndarray  # float64 minibatch loss
    lr: np.ndarray  # float64 learning rate used at that step
    grad_norm: np.ndarray  # float64 global gradient L2 norm
    epoch: int = 0
    steps_per_s: float = 0.0
    wall: np.ndarray | None = None  # float64 seconds since the run started, at the end of each step

    def merged(self, other: StepBatch) -> StepBatch:
        wall = None
        if self.wall is not None and other.wall is not None:
            wall = np.concatenate([self.wall, other.wall])
        return StepBatch(
            self.run_id,
            np.concatenate([self.steps, other.steps]),
            np.concatenate([self.loss, other.loss]),
            np.concatenate([self.lr, other.lr]),
            np.concatenate([self.grad_norm, other.grad_norm]),
            other.epoch,
            other.steps_per_s,
            wall,
        )


@dataclass(frozen=True)
class EpochEnd(Event):
    epoch: int
    step: int
    metrics: dict[str, float]  # train_loss, val_loss, train_acc, val_acc, lr, ...


@dataclass(frozen=True)
class StateChanged(Event):
    state: RunState
    message: str = ""


@dataclass(frozen=True)
class ErrorRaised(Event):
    message: str
    details: str = ""


@dataclass(frozen=True)
class RunFinished(Event):
    final: dict[str, float]
    state: RunState = RunState.FINISHED


@dataclass(frozen=True)
class Notice(Event):
    """A one-line message for the user (e.g. a diagnostic, a live edit applied)."""

    message: str
    level: str = "info"  # info | warning | error


STEP_SERIES = ("loss", "lr", "grad_norm")  # the per-step series a StepBatch carries ("step/<name>")


def series_events(run_id: str, series: Mapping[str, np.ndarray]) -> list[Event]:
    """A saved run's full-resolution series as the events that drew them live: one StepBatch
    of every step ("step/loss", "step/lr", "step/grad_norm"), then one EpochEnd per epoch
    with every "epoch/<name>" value. Views decode live and saved curves with the same code.
    Series of the wrong shape or length raise ValueError naming the series."""
    steps: dict[str, np.ndarray] = {}
    for name in STEP_SERIES:
        if f"step/{name}" in series:
            steps[name] = _series(series, f"step/{name}")
    n = len(steps["loss"]) if "loss" in steps else max((len(v) for v in steps.values()), default=0)
    for name in STEP_SERIES:
        if name not in steps:
            steps[name] = np.full(n, np.nan)
        elif len(steps[name]) != n:
            raise ValueError(f"series 'step/{name}' has {len(steps[name])} values, 'step/loss' has {n}")
    wall = _series(series, "step/wall") if "step/wall" in series else None  # format 4 on
    if wall is not None and len(wall) != n:
        wall = None  # optional: without it, the curves have no wall-time axis
    out: list[Event] = []
    if n:
        out.append(
            StepBatch(
                run_id,
                np.arange(1, n + 1, dtype=np.int64),
                steps["loss"],
                steps["lr"],
                steps["grad_norm"],
                wall=wall,
            )
        )
    epoch = {k.removeprefix("epoch/"): _series(series, k) for k in series if k.startswith("epoch/")}
    epoch_steps = epoch.pop("step", None)
    m = max((len(v) for v in epoch.values()), default=0) if epoch_steps is None else len(epoch_steps)
    for k, v in epoch.items():
        if len(v) > m:
            raise ValueError(f"series 'epoch/{k}' has {len(v)} values, 'epoch/step' has {m}")
    for i in range(m):
        step = int(epoch_steps[i]) if epoch_steps is not None else 0
        out.append(
            EpochEnd(run_id, i + 1, step, {k: float(v[i]) if i < len(v) else math.nan for k, v in epoch.items()})
        )
    return out


def _series(series: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    a = np.asarray(series[name])
    if a.ndim != 1 or a.dtype.kind not in "biuf":
        raise ValueError(f"series '{name}': expected a 1-D numeric array, got shape {a.shape} of {a.dtype}")
    return a.astype(np.float64, copy=False)


class EventChannel:
    """Bounded, thread-safe queue of events; `put` never blocks."""

    def __init__(self, capacity: int = 256) -> None:
        self._items: deque[Event] = deque()
        self._lock = threading.Lock()
        self.capacity = capacity
        self.coalesced = 0  # how many step batches were merged into others
        self.dropped = 0  # how many droppable events were replaced

    def put(self, event: Event) -> None:
        with self._lock:
            items = self._items
            if len(items) >= self.capacity:
                if isinstance(event, StepBatch):
                    for i in range(len(items) - 1, -1, -1):
                        old = items[i]
                        if isinstance(old, StepBatch) and old.run_id == event.run_id:
                            items[i] = old.merged(event)
                            self.coalesced += 1
                            return
                elif event.droppable:
                    for i in range(len(items) - 1, -1, -1):
                        old = items[i]
                        if type(old) is type(event) and old.run_id == event.run_id:
                            items[i] = event
                            self.dropped += 1
                            return
            items.append(event)

    def drain(self, limit: int | None = None) -> list[Event]:
        with self._lock:
            if limit is None or limit >= len(self._items):
                out = list(self._items)
                self._items.clear()
            else:
                out = [self._items.popleft() for _ in range(limit)]
        return out

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
