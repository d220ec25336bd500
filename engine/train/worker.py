"""The engine thread: runs a Trainer and takes commands (pause, step, live edits...).

Commands are posted from any thread and executed between two steps on the engine thread,
so the model is never touched concurrently. Every exception becomes an ErrorRaised event
and the thread stays alive for the next command.
"""
from __future__ import annotations

import threading
import traceback
from collections import deque
from typing import Any, Callable

from engine.config import ConfigError, ExperimentConfig
from engine.events import ErrorRaised, EventChannel, Notice, RunFinished, StateChanged
from engine.train.trainer import Trainer


class EngineWorker:
    """Owns one Trainer on a daemon thread. States: idle, running, paused, finished,
    diverged, stopped, error."""

    def __init__(self, config: ExperimentConfig, channel: EventChannel, run_id: str = "run",
                 trainer_factory: Callable[..., Trainer] = Trainer) -> None:
        self.config = config
        self.channel = channel
        self.run_id = run_id
        self.trainer_factory = trainer_factory
        self.trainer: Trainer | None = None
        self.state = "idle"
        self._commands: deque[tuple[str, Any]] = deque()
        self._wake = threading.Condition()
        self._quit = False
        self._thread = threading.Thread(target=self._loop, name=f"descent-engine-{run_id}", daemon=True)

    # -- commands (any thread) -------------------------------------------------------------
    def _post(self, name: str, arg: Any = None) -> None:
        with self._wake:
            self._commands.append((name, arg))
            self._wake.notify()

    def start(self, paused: bool = False) -> None:
        """Build the run and begin training (or wait paused at step 0)."""
        if not self._thread.is_alive():
            self._thread.start()
        self._post("build", paused)

    def pause(self) -> None:
        self._post("pause")

    def resume(self) -> None:
        self._post("resume")

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

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Stop the thread; True if it ended within the timeout."""
        with self._wake:
            self._quit = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- engine thread -------------------------------------------------------------------
    def _set_state(self, state: str, message: str = "") -> None:
        self.state = state
        self.channel.put(StateChanged(self.run_id, state, message))

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._quit and not self._commands and self.state != "running":
                    self._wake.wait(0.5)
                if self._quit:
                    break
                commands = list(self._commands)
                self._commands.clear()
            for name, arg in commands:
                try:
                    self._handle(name, arg)
                except Exception as e:  # noqa: BLE001 - the engine thread must survive
                    self._report(e)
            if self.state == "running" and self.trainer is not None:
                try:
                    if not self.trainer.train_step():
                        self._end_of_run()
                except Exception as e:  # noqa: BLE001
                    self._report(e)
        if self.trainer is not None and self.trainer.state == "running":
            self.trainer.state = "stopped"

    def _report(self, e: BaseException) -> None:
        msg = str(e) if isinstance(e, (ConfigError, RuntimeError, ValueError)) else f"{type(e).__name__}: {e}"
        self.channel.put(ErrorRaised(self.run_id, msg, traceback.format_exc()))
        self._set_state("error", msg)

    def _end_of_run(self) -> None:
        t = self.trainer
        assert t is not None
        t._flush() if t.state != "diverged" else None
        self.channel.put(RunFinished(self.run_id, t.final_metrics(), t.state))
        self._set_state(t.state, t.message)

    def _handle(self, name: str, arg: Any) -> None:
        t = self.trainer
        if name == "config":
            self.config = arg
        elif name == "build":
            self._set_state("building")
            self.trainer = self.trainer_factory(self.config, emit=self.channel.put, run_id=self.run_id)
            self.trainer.start()
            self.trainer.state = "paused" if arg else "running"
            self._set_state(self.trainer.state)
        elif name == "pause":
            if self.state == "running" and t is not None:
                t._flush()
                t.state = "paused"
                self._set_state("paused")
        elif name == "resume":
            if t is not None and (self.state == "paused" or (self.state == "diverged" and t.recover())):
                t.state = "running"
                self._set_state("running")
        elif name == "step":
            if t is not None and self.state == "diverged" and t.recover():
                self._set_state("paused")
            if self.state in ("paused", "idle") and t is not None:
                if not t.train_step():
                    self._end_of_run()
                else:
                    t._flush()
        elif name == "stop":
            if t is not None and self.state in ("running", "paused"):
                t._flush()
                t.state = "stopped"
                for h in t.hooks:
                    h.on_finish(t)
                self.channel.put(RunFinished(self.run_id, t.final_metrics(), "stopped"))
                self._set_state("stopped")
        elif name == "set":
            key, value = arg
            self.config = self.config.with_updates({key: value})
            if t is not None and t.apply_live(key, value):
                self.channel.put(Notice(self.run_id, f"{key} = {value:g} applied to the running optimizer"))
        elif name == "call":
            if t is not None:
                arg(t)
