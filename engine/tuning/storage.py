"""A search in a session file: its snapshot under meta.json's "search" and arrays/search/.

The members are optional (session format 4): a session without a search opens as before,
and a format 1–3 file has none.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.session import Session, SessionError, load_session, save_session
from engine.tuning.snapshot import ARRAY_PREFIX, META_KEY, SearchFileError, SearchSnapshot


def session_with_search(snapshot: SearchSnapshot, session: Session | None = None) -> Session:
    """The session (a new one by default) holding the search (replacing any it held)."""
    session = session or Session()
    meta, arrays = snapshot.to_session()
    session.meta = {**session.meta, META_KEY: meta}
    session.arrays = {k: v for k, v in session.arrays.items() if not k.startswith(ARRAY_PREFIX)} | arrays
    return session


def search_of(session: Session) -> SearchSnapshot | None:
    """The search a session holds, or None; SearchFileError when it is malformed."""
    if META_KEY not in session.meta:
        return None
    arrays = {k: v for k, v in session.arrays.items() if k.startswith(ARRAY_PREFIX)}
    return SearchSnapshot.from_session(session.meta[META_KEY], arrays)


def save_search(snapshot: SearchSnapshot, path: str | os.PathLike, session: Session | None = None) -> Path:
    """Write the search (with the session's runs, if given) atomically; raises SessionError."""
    return save_session(session_with_search(snapshot, session), path)


def load_search(path: str | os.PathLike) -> SearchSnapshot:
    """The search of a session file; SessionError when the file has none or it is malformed."""
    session = load_session(path)
    try:
        snapshot = search_of(session)
    except SearchFileError as e:
        raise SessionError(f"{path}: {e}") from None
    if snapshot is None:
        raise SessionError(f"{path}: holds no search (make one with descent search)")
    return snapshot
