"""The states of a run, a comparison and a background job: one enum, not string literals.

The values are the strings session manifests and events have always carried, so older
files and any code comparing with a plain string keep working (a StrEnum member equals
its value)."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    IDLE = "idle"
    BUILDING = "building"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    ERROR = "error"
    REMOVED = "removed"  # a run taken out of a comparison
    CANCELLED = "cancelled"  # a background job stopped before its end
    REPLAY = "replay"  # the desktop shows a reopened session: nothing to step, pause or stop
    PRUNED = "pruned"  # a search trial stopped early by the pruner (its curve was clearly worse)

    @property
    def over(self) -> bool:
        """The run ended (it may be continued or resumed, but not stepped as it is)."""
        return self in TERMINAL


TERMINAL = frozenset({RunState.FINISHED, RunState.STOPPED, RunState.DIVERGED})


def parse_state(value: object, default: RunState = RunState.FINISHED) -> RunState:
    """A state read from a file: the enum member, or `default` for anything unknown."""
    try:
        return RunState(str(value))
    except ValueError:
        return default
