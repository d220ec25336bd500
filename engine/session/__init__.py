"""Session files: everything a run produced, saved to a zip and opened again safely."""

from engine.session.archive import FORMAT_VERSION, SessionError, load_session, save_session
from engine.session.checkpoint import CheckpointError, capture_checkpoint, continue_run, record_of, restore_checkpoint
from engine.session.record import Checkpoint, RunRecord, Session

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
