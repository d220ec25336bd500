"""Session files: everything a run produced, saved to a zip and opened again safely."""

from engine.session.archive import FORMAT_VERSION, SessionError, load_session, save_session
from engine.session.checkpoint import Checkpoint, CheckpointError, capture_checkpoint, continue_run, restore_checkpoint
from engine.session.record import RunRecord, Session, record_of

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
