"""Atomic file writes: a temporary file beside the target, then a rename.

A temporary file is named ``.<target name>.<writer's PID>-<random>.tmp``. It is removed on
every exit path the process lives through (an exception, KeyboardInterrupt, the SystemExit
the CLI raises on SIGTERM); one left by a killed writer (SIGKILL, a crash, power loss) is
removed the next time the same target is written — only when its writer's PID is gone, so
two live writers of one folder (autosave and a CLI) never delete each other's files.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_UMASK = os.umask(0)  # read once at import (os.umask is process-wide: never toggle it later)
os.umask(_UMASK)


def _temp_name(target: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(target.name)}\.([0-9]+)-[A-Za-z0-9_]+\.tmp")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return True  # unknown: keep the file
    return True


def stale_temp_files(target: str | os.PathLike) -> list[Path]:
    """Temporary files of earlier writes of `target` whose writer's process is gone."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    pattern = _temp_name(target)
    out = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            out.append(Path(entry.path))
    return out


def remove_stale_temp_files(target: str | os.PathLike) -> list[Path]:
    """Remove what stale_temp_files finds; returns the files removed."""
    removed = []
    for p in stale_temp_files(target):
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Write `path` through a file object: the content replaces the target only when the
    block ends normally (flushed and fsynced first); on any exception the temporary file is
    removed and the target left as it was. Raises OSError when the folder cannot be written."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    remove_stale_temp_files(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; the target is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def output_path_problem(path: str | os.PathLike) -> str | None:
    """Why a file cannot be written at `path` (no name, a folder, a missing or read-only
    folder), or None: checked before long work whose result would otherwise be lost."""
    if not str(path).strip():
        return "no file name given"
    p = Path(path)
    if p.is_dir():
        return "is a folder, not a file"
    if p.exists() and not p.is_file():
        return "exists and is not a regular file"
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        return f"folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable"
    return None
