"""The engine thread: runs a Trainer and takes commands (pause, step, live edits...).

Commands are posted from any thread and executed between two steps on the engine thread
(the loop is engine.command_thread.CommandThread), so the model is never touched
concurrently. Every exception becomes an ErrorRaised event and the thread stays alive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.command_thread import CommandThread
from engine.config import ExperimentConfig
from engine.events import EventChannel, Notice, RunFinished
from engine.states import RunState

if TYPE_CHECKING:
    from engine.train.trainer import Trainer


class EngineWorker(CommandThread):
    """Owns one Trainer on a daemon thread. States: idle, running, paused, finished,
    diverged, stopped, error.

    `trainer_factory(config, emit=..., run_id=...)` builds the run on the engine thread:
    the plain Trainer (the default) is a bare run; engine.experiment.build_trainer gives it
    the features its config enables. Torch is imported there, so creating a worker is cheap."""

    def __init__(
        self,
        config: ExperimentConfig,
        channel: EventChannel,
        run_id: str = "run",
        trainer_factory: Callable[..., Trainer] | None = None,
    ) -> None:
        super().__init__(channel, f"descent-engine-{run_id}")
        self.config = config
        self.run_id = self.state_id = run_id
        self.trainer_factory = trainer_factory
        self.trainer: Trainer | None = None
        # Steps per second at most (None: as fast as possible). A setting of the desktop app
        # so a run can be watched; headless commands and benchmarks leave it at None.
        self.max_steps_per_s: float | None = None
        self._next_step_at = 0.0

    # -- commands (any thread) -------------------------------------------------------------
    def start(self, paused: bool = False) -> None:
        """Build the run and begin training (or wait paused at step 0)."""
        self._post("build", paused)

    def pause(self) -> None:
        self._post("pause")

    def resume(self, config: ExperimentConfig | None = None) -> None:
        """Continue a paused run, or a diverged one from its last good state with a fresh
        optimizer state and the optimizer settings of `config` when given (else of the
        run's config, live edits included)."""
        self._post("resume", config)

    def single_step(self) -> None:
        self._post("step")

    def stop(self) -> None:
        self._post("stop")

    def restart(self, config: ExperimentConfig | None = None, paused: bool = False) -> None:
        if config is not None:
            self._post("config", config)
        self._post("build", paused)

    def set_value(self, key: str, value: Any) -> None:
        """A live edit (lr, momentum, weight decay) applied at the next step boundary."""
        self._post("set", (key, value))

    def call(self, fn: Callable[[Trainer], Any]) -> None:
        """Run fn(trainer) on the engine thread between two steps (e.g. to snapshot weights)."""
        self._post("call", fn)

    # -- engine thread -------------------------------------------------------------------
    def _advance(self) -> None:
        if self.trainer is None:
            return
        pace = self.max_steps_per_s
        if pace:
            now = time.perf_counter()
            if now < self._next_step_at:
                with self._wake:  # a command (pause, a new speed) ends the wait at once
                    if not self._commands and not self._quit:
                        self._wake.wait(self._next_step_at - now)
                return
            # one period after the last due time; no burst of catch-up steps after a pause
            self._next_step_at = max(self._next_step_at, now - 1.0 / pace) + 1.0 / pace
        if not self.trainer.train_step():
            self._end_of_run()

    def set_max_steps_per_s(self, steps_per_s: float | None) -> None:
        """Pace the run (None or 0: as fast as possible); takes effect at the next step."""
        self.max_steps_per_s = float(steps_per_s) if steps_per_s else None
        self._next_step_at = 0.0
        with self._wake:
            self._wake.notify()

    def _on_quit(self) -> None:
        if self.trainer is not None and self.trainer.state == RunState.RUNNING:
            self.trainer.state = RunState.STOPPED

    def _end_of_run(self) -> None:
        t = self.trainer
        assert t is not None
        t.flush()
        self.channel.put(RunFinished(self.run_id, t.final_metrics(), t.state))
        self._set_state(t.state, t.message)

    def _handle(self, name: str, arg: Any) -> None:
        t = self.trainer
        if name == "config":
            self.config = arg
        elif name == "build":
            self._set_state(RunState.BUILDING)
            factory = self.trainer_factory
            if factory is None:
                from engine.train.trainer import Trainer

                factory = Trainer
            self.trainer = factory(self.config, emit=self.channel.put, run_id=self.run_id)
            self.trainer.start()
            self.trainer.state = RunState.PAUSED if arg else RunState.RUNNING
            self._set_state(self.trainer.state)
        elif name == "pause":
            if self.state == RunState.RUNNING and t is not None:
                t.flush()
                t.state = RunState.PAUSED
                self._set_state(RunState.PAUSED)
        elif name == "resume":
            if t is not None and (
                self.state == RunState.PAUSED or (self.state == RunState.DIVERGED and t.recover(arg))
            ):
                t.state = RunState.RUNNING
                self._set_state(RunState.RUNNING)
        elif name == "step":
            if t is not None and self.state == RunState.DIVERGED and t.recover():
                self._set_state(RunState.PAUSED)
            if self.state in (RunState.PAUSED, RunState.IDLE) and t is not None:
                if not t.train_step():
                    self._end_of_run()
                else:
                    t.flush()
        elif name == "stop":
            if t is not None and self.state in (RunState.RUNNING, RunState.PAUSED) and t.stop():
                self.channel.put(RunFinished(self.run_id, t.final_metrics(), RunState.STOPPED))
                self._set_state(RunState.STOPPED)
        elif name == "set":
            key, value = arg
            self.config = self.config.with_updates({key: value})
            if t is not None and t.apply_live(key, value):
                self.channel.put(Notice(self.run_id, f"{key} = {value:g} applied to the running optimizer"))
        elif name == "call":
            if t is not None:
                arg(t)
