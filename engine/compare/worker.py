"""The comparison's engine thread: a LockstepRunner driven by commands posted from the GUI.

Like the single-run EngineWorker, commands run between two lockstep rounds, every
exception becomes an ErrorRaised event and the thread stays alive. The comparison as a
whole reports its state under run_id `COMPARISON_ID`; every run reports under its name.
"""
from __future__ import annotations

import threading
import traceback
from collections import deque
from typing import Any, Callable

from engine.config import ConfigError, ExperimentConfig
from engine.compare.lockstep import LockstepRunner
from engine.events import ErrorRaised, EventChannel, StateChanged

COMPARISON_ID = "comparison"


class ComparisonWorker:
    """States: idle, running, paused, finished, stopped."""

    def __init__(self, channel: EventChannel) -> None:
        self.channel = channel
        self.runner = LockstepRunner(emit=channel.put)
        self.state = "idle"
        self._commands: deque[tuple[str, Any]] = deque()
        self._wake = threading.Condition()
        self._quit = False
        self._thread = threading.Thread(target=self._loop, name="descent-comparison", daemon=True)

    # -- commands (any thread) -----------------------------------------------------------
    def _post(self, name: str, arg: Any = None) -> None:
        if not self._thread.is_alive() and not self._quit:
            self._thread.start()
        with self._wake:
            self._commands.append((name, arg))
            self._wake.notify()

    def start(self, runs: list[tuple[str, ExperimentConfig]], paused: bool = False) -> None:
        """Build every run and step them together."""
        for name, cfg in runs:
            self._post("add", (name, cfg))
        self._post("pause" if paused else "resume")

    def add(self, name: str, config: ExperimentConfig) -> None:
        """Add a run while the others keep going."""
        self._post("add", (name, config))

    def remove(self, name: str) -> None:
        self._post("remove", name)

    def pause(self) -> None:
        self._post("pause")

    def resume(self) -> None:
        self._post("resume")

    def stop(self) -> None:
        self._post("stop")

    def call(self, fn: Callable[[LockstepRunner], Any]) -> None:
        """Run fn(runner) on the engine thread between two rounds (snapshots for saving)."""
        self._post("call", fn)

    def shutdown(self, timeout: float = 2.0) -> bool:
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
        self.channel.put(StateChanged(COMPARISON_ID, state, message))

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
                    self._report(e, arg if name in ("add", "remove") else None)
            if self.state == "running":
                try:
                    if not self.runner.step():
                        self._set_state("finished")
                except Exception as e:  # noqa: BLE001
                    self._report(e)
                    self._set_state("paused", str(e))

    def _report(self, e: BaseException, arg: Any = None) -> None:
        msg = str(e) if isinstance(e, (ConfigError, RuntimeError, ValueError)) else f"{type(e).__name__}: {e}"
        run = arg[0] if isinstance(arg, tuple) else (arg if isinstance(arg, str) else COMPARISON_ID)
        self.channel.put(ErrorRaised(run, msg, traceback.format_exc()))

    def _handle(self, name: str, arg: Any) -> None:
        r = self.runner
        if name == "add":
            run, cfg = arg
            self.channel.put(StateChanged(run, "building"))
            t = r.add(run, cfg)
            self.channel.put(StateChanged(run, t.state))
            if self.state == "finished":
                self._set_state("running")
        elif name == "remove":
            if arg in r.trainers:
                r.remove(arg)
                self.channel.put(StateChanged(arg, "removed"))
        elif name == "pause":
            r.flush()
            if self.state != "finished":
                self._set_state("paused")
        elif name == "resume":
            if r.active:
                self._set_state("running")
            elif self.state != "finished":
                self._set_state("finished")
        elif name == "stop":
            for run in r.active:
                t = r.trainers[run]
                t._flush()
                t.state = "stopped"
                for h in t.hooks:
                    h.on_finish(t)
                r._finish(run, t)
            self._set_state("stopped")
        elif name == "call":
            arg(r)
