"""Events the engine emits, and the bounded channel that carries them to a consumer.

Events are small immutable records of plain Python/numpy values, never tensors. The
channel never blocks the producer: when it is full, consecutive step batches are merged
(nothing is lost, they only arrive in bigger batches); epoch, state, error and final
events are never dropped.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Event:
    run_id: str


@dataclass(frozen=True)
class StepBatch(Event):
    """Per-step scalars for a contiguous range of steps (arrays of equal length)."""

    steps: np.ndarray  # int64 global step numbers (1-based)
    loss: np.ndarray  # float64 minibatch loss
    lr: np.ndarray  # float64 learning rate used at that step
    grad_norm: np.ndarray  # float64 global gradient L2 norm
    epoch: int = 0
    steps_per_s: float = 0.0

    def merged(self, other: StepBatch) -> StepBatch:
        return StepBatch(
            self.run_id,
            np.concatenate([self.steps, other.steps]),
            np.concatenate([self.loss, other.loss]),
            np.concatenate([self.lr, other.lr]),
            np.concatenate([self.grad_norm, other.grad_norm]),
            other.epoch,
            other.steps_per_s,
        )


@dataclass(frozen=True)
class EpochEnd(Event):
    epoch: int
    step: int
    metrics: dict[str, float]  # train_loss, val_loss, train_acc, val_acc, lr, ...


@dataclass(frozen=True)
class StateChanged(Event):
    state: str  # idle | running | paused | finished | stopped | diverged | error
    message: str = ""


@dataclass(frozen=True)
class ErrorRaised(Event):
    message: str
    details: str = ""


@dataclass(frozen=True)
class RunFinished(Event):
    final: dict[str, float]
    state: str = "finished"


@dataclass(frozen=True)
class Notice(Event):
    """A one-line message for the user (e.g. a diagnostic, a live edit applied)."""

    message: str
    level: str = "info"  # info | warning | error


@dataclass(frozen=True)
class Payload(Event):
    """A feature-specific record (probes, surfaces, job progress...): `topic` says which."""

    topic: str
    data: dict[str, Any] = field(default_factory=dict)
    droppable: bool = False  # True: may be replaced by a newer one of the same topic


class EventChannel:
    """Bounded, thread-safe queue of events; `put` never blocks."""

    def __init__(self, capacity: int = 256) -> None:
        self._items: deque[Event] = deque()
        self._lock = threading.Lock()
        self.capacity = capacity
        self.coalesced = 0  # how many step batches were merged into others
        self.dropped = 0  # how many droppable payloads were replaced

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
                elif isinstance(event, Payload) and event.droppable:
                    for i in range(len(items) - 1, -1, -1):
                        old = items[i]
                        if isinstance(old, Payload) and old.topic == event.topic and old.run_id == event.run_id:
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
