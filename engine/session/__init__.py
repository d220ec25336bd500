"""Session files: everything a run produced, saved to a zip and opened again safely."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.session.archive import FORMAT_VERSION, SessionError, load_session, save_session
    from engine.session.checkpoint import (
        CheckpointError,
        capture_checkpoint,
        continue_run,
        record_of,
        restore_checkpoint,
    )
    from engine.session.record import Checkpoint, RunRecord, Session

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "FORMAT_VERSION": "engine.session.archive",
        "SessionError": "engine.session.archive",
        "load_session": "engine.session.archive",
        "save_session": "engine.session.archive",
        "CheckpointError": "engine.session.checkpoint",
        "capture_checkpoint": "engine.session.checkpoint",
        "continue_run": "engine.session.checkpoint",
        "record_of": "engine.session.checkpoint",
        "restore_checkpoint": "engine.session.checkpoint",
        "Checkpoint": "engine.session.record",
        "RunRecord": "engine.session.record",
        "Session": "engine.session.record",
    },
)

__all__ = [
    "RunRecord",
    "record_of",
    "Session",
    "FORMAT_VERSION",
    "SessionError",
    "load_session",
    "save_session",
    "Checkpoint",
    "CheckpointError",
    "capture_checkpoint",
    "continue_run",
    "restore_checkpoint",
]
