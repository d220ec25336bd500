"""The event channel: never blocks, merges step batches, never drops epoch/state/final events."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from engine.events import EpochEnd, Event, EventChannel, RunFinished, StateChanged, StepBatch


def _batch(start: int, n: int) -> StepBatch:
    steps = np.arange(start, start + n)
    return StepBatch("r", steps, steps * 1.0, np.full(n, 0.1), np.ones(n))


def test_full_channel_merges_step_batches_without_losing_steps():
    ch = EventChannel(capacity=4)
    for i in range(100):
        ch.put(_batch(i * 10 + 1, 10))
        if i % 10 == 0:
            ch.put(EpochEnd("r", i // 10, i * 10, {"val_loss": 1.0}))
    ch.put(StateChanged("r", "finished"))
    ch.put(RunFinished("r", {}))
    events = ch.drain()
    steps = np.concatenate([e.steps for e in events if isinstance(e, StepBatch)])
    assert np.array_equal(steps, np.arange(1, 1001))  # every step, in order
    assert sum(isinstance(e, EpochEnd) for e in events) == 10  # no epoch dropped
    assert isinstance(events[-1], RunFinished) and isinstance(events[-2], StateChanged)
    assert ch.coalesced > 0
    assert len(events) < 30  # bounded: batches were merged


@dataclass(frozen=True)
class Report(Event):
    """A droppable event (only the newest matters)."""

    droppable: ClassVar[bool] = True
    i: int = 0


def test_droppable_event_is_replaced_not_queued():
    ch = EventChannel(capacity=2)
    ch.put(StateChanged("r", "running"))
    ch.put(StateChanged("r", "paused"))
    for i in range(5):
        ch.put(Report("r", i))
    events = ch.drain()
    payloads = [e for e in events if isinstance(e, Report)]
    assert [p.i for p in payloads] == [4] or payloads[-1].i == 4
    assert len(events) <= 4


def test_producer_never_blocks_with_slow_consumer():
    ch = EventChannel(capacity=8)
    done = threading.Event()

    def produce():
        for i in range(20000):
            ch.put(_batch(i + 1, 1))
        done.set()

    t = threading.Thread(target=produce)
    t.start()
    assert done.wait(10), "producer blocked"
    t.join()
    steps = np.concatenate([e.steps for e in ch.drain()])
    assert len(steps) == 20000
