"""The network view's hook: every neuron's picture, a few times a second, on the engine thread
(between two steps, so the model is never read while it changes).

The refresh is paced by time (network.refresh_hz) and by its own cost: after a pass that
took t seconds of the engine thread's CPU time, the next one waits until the thread has
spent at least t / MAX_SHARE more CPU time (training), so the pictures never take more than
that share of the training thread, however large the network and however busy the machine
(on a shared machine wall time stretches, CPU time does not).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from engine.config import NetworkConfig
from engine.model.modes import mode_dependent
from engine.network.maps import NetworkLayout, layout_of, network_pictures
from engine.network.snapshot import NetworkSnapshot, to_record
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext

MAX_SHARE = 0.02
"""Most share of the training thread's time the pictures may take (the pacing's cap)."""


class NetworkViewHook(TrainerHook):
    """Emits a NetworkSnapshot at the start, at most network.refresh_hz times a second while
    training, and at the end."""

    name = "network"

    def __init__(self, cfg: NetworkConfig) -> None:
        self.cfg = cfg
        self.interval_s = 1.0 / cfg.refresh_hz
        self.layout: NetworkLayout | None = None
        self.extent: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        self.latest: NetworkSnapshot | None = None
        self.passes = 0
        self.seconds = 0.0  # time spent in the passes (the benchmark reads it)
        self._next = 0.0  # wall clock (perf_counter) of the next pass, at the earliest
        self._next_cpu = 0.0  # and the engine thread's CPU time (thread_time) it must have reached
        self.switch_mode = True  # whether a pass switches the model to eval mode (engine/model/modes.py)

    def setup(self, ctx: RunContext) -> None:
        self.layout, self.extent = layout_of(ctx.data, self.cfg.samples, self.cfg.resolution, ctx.device)
        self.switch_mode = mode_dependent(ctx.model)

    def on_start(self, ctx: RunContext) -> None:
        self._evaluate(ctx)

    def on_resume(self, ctx: RunContext) -> None:
        self._evaluate(ctx)

    def after_step(self, ctx: RunContext) -> None:
        if time.perf_counter() >= self._next and time.thread_time() >= self._next_cpu:
            self._evaluate(ctx)

    def on_finish(self, ctx: RunContext) -> None:
        self._evaluate(ctx)

    def _evaluate(self, ctx: RunContext) -> None:
        if self.layout is None:  # (set up on every run)
            return
        t0, c0 = time.perf_counter(), time.thread_time()
        layers = network_pictures(
            ctx.model, ctx.config.model.activation, self.layout, self.cfg.max_units, self.switch_mode
        )
        self.latest = NetworkSnapshot(
            ctx.run_id,
            ctx.step,
            ctx.epoch,
            self.layout.kind,
            ctx.config.model.activation,
            self.extent,
            self.layout.class_names,
            tuple(layers),
        )
        ctx.emit(self.latest)
        t1, c1 = time.perf_counter(), time.thread_time()
        self.passes += 1
        self.seconds += t1 - t0
        self._next = t1 + self.interval_s
        self._next_cpu = c1 + (c1 - c0) / MAX_SHARE

    def export(self, record: RunRecord) -> None:
        arrays, meta = to_record([self.latest] if self.latest is not None else [])
        record.arrays.update(arrays)
        record.meta.update(meta)
