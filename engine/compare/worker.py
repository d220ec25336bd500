"""The comparison's engine thread: a LockstepRunner driven by commands posted from the GUI.

It shares the single-run EngineWorker's loop (engine.command_thread.CommandThread):
commands run between two lockstep rounds, every exception becomes an ErrorRaised event
and the thread stays alive. The comparison as a whole reports its state under run_id
`COMPARISON_ID`; every run reports under its name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.command_thread import CommandThread
from engine.config import ExperimentConfig
from engine.events import EventChannel, StateChanged
from engine.states import RunState

if TYPE_CHECKING:
    from engine.compare.lockstep import LockstepRunner

COMPARISON_ID = "comparison"


class ComparisonWorker(CommandThread):
    """States: idle, running, paused, finished, stopped."""

    state_id = COMPARISON_ID

    def __init__(self, channel: EventChannel) -> None:
        super().__init__(channel, "descent-comparison")
        from engine.compare.lockstep import LockstepRunner  # torch: only once a comparison starts

        self.runner = LockstepRunner(emit=channel.put)

    # -- commands (any thread) -----------------------------------------------------------
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

    # -- engine thread -------------------------------------------------------------------
    def _advance(self) -> None:
        if not self.runner.step():
            self._set_state(RunState.FINISHED)

    def _command_failed(self, name: str, arg: Any, e: BaseException) -> None:
        # A failed add/remove is the named run's error; the comparison goes on.
        run = arg[0] if name == "add" else (arg if name == "remove" else None)
        self._report(e, run)

    def _step_failed(self, e: BaseException) -> None:
        self._set_state(RunState.PAUSED, self._report(e))

    def _handle(self, name: str, arg: Any) -> None:
        r = self.runner
        if name == "add":
            run, cfg = arg
            self.channel.put(StateChanged(run, RunState.BUILDING))
            t = r.add(run, cfg)
            self.channel.put(StateChanged(run, t.state))
            if self.state == RunState.FINISHED:
                self._set_state(RunState.RUNNING)
        elif name == "remove":
            if arg in r.trainers:
                r.remove(arg)
                self.channel.put(StateChanged(arg, RunState.REMOVED))
        elif name == "pause":
            r.flush()
            if self.state != RunState.FINISHED:
                self._set_state(RunState.PAUSED)
        elif name == "resume":
            if r.active:
                self._set_state(RunState.RUNNING)
            elif self.state != RunState.FINISHED:
                self._set_state(RunState.FINISHED)
        elif name == "stop":
            r.stop()
            self._set_state(RunState.STOPPED)
        elif name == "call":
            arg(r)
