"""The loop both engine threads share (one run: EngineWorker; a comparison: ComparisonWorker).

Commands are posted from any thread and executed on the engine thread between two steps,
so models are never touched concurrently. Every exception becomes an ErrorRaised event and
the thread stays alive for the next command.
"""

from __future__ import annotations

import threading
import traceback
from collections import deque
from typing import Any

from engine.config import ConfigError
from engine.events import ErrorRaised, EventChannel, StateChanged
from engine.states import RunState


def error_message(e: BaseException) -> str:
    """A user-facing one-liner: our own errors speak for themselves, others get their type."""
    return str(e) if isinstance(e, (ConfigError, RuntimeError, ValueError)) else f"{type(e).__name__}: {e}"


class CommandThread:
    """A daemon thread that runs posted commands, then one unit of work while `running`.

    Subclasses implement `_handle(name, arg)` (one command), `_advance()` (one step; False
    when there is nothing left to do) and may override the error and exit handlers."""

    state_id = "run"  # the run_id under which the thread reports its state

    def __init__(self, channel: EventChannel, thread_name: str) -> None:
        self.channel = channel
        self.state: RunState = RunState.IDLE
        self._commands: deque[tuple[str, Any]] = deque()
        self._wake = threading.Condition()
        self._quit = False
        self._thread = threading.Thread(target=self._loop, name=thread_name, daemon=True)

    # -- any thread ----------------------------------------------------------------------
    def _post(self, name: str, arg: Any = None) -> None:
        if not self._thread.is_alive() and not self._quit:
            self._thread.start()
        with self._wake:
            self._commands.append((name, arg))
            self._wake.notify()

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
    def _set_state(self, state: RunState, message: str = "") -> None:
        self.state = RunState(state)
        self.channel.put(StateChanged(self.state_id, state, message))

    def _report(self, e: BaseException, run_id: str | None = None) -> str:
        msg = error_message(e)
        self.channel.put(ErrorRaised(run_id or self.state_id, msg, traceback.format_exc()))
        return msg

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._quit and not self._commands and self.state != RunState.RUNNING:
                    self._wake.wait(0.5)
                if self._quit:
                    break
                commands = list(self._commands)
                self._commands.clear()
            for name, arg in commands:
                try:
                    self._handle(name, arg)
                except Exception as e:  # noqa: BLE001 - the engine thread must survive
                    self._command_failed(name, arg, e)
            if self.state == RunState.RUNNING:
                try:
                    self._advance()
                except Exception as e:  # noqa: BLE001 - a failed step is reported, the thread lives on
                    self._step_failed(e)
        self._on_quit()

    def _handle(self, name: str, arg: Any) -> None:
        raise NotImplementedError

    def _advance(self) -> None:
        raise NotImplementedError

    def _command_failed(self, name: str, arg: Any, e: BaseException) -> None:
        self._step_failed(e)

    def _step_failed(self, e: BaseException) -> None:
        self._set_state(RunState.ERROR, self._report(e))

    def _on_quit(self) -> None:
        pass
