"""Writing export files: atomic, with one-line errors naming the file and the problem."""

from __future__ import annotations

import os
import re
from pathlib import Path

from engine.atomic import atomic_write


class ExportError(Exception):
    """An export that cannot be written; the message names the path and the reason."""


def safe_stem(name: str, taken: set[str] | None = None) -> str:
    """A file-name-safe version of a run name, unique within `taken` (which it updates)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("=", "-")).strip("._") or "run"
    if taken is not None:
        base, i = stem, 2
        while stem in taken:
            stem = f"{base}_{i}"
            i += 1
        taken.add(stem)
    return stem


def ensure_folder(folder: str | os.PathLike) -> Path:
    """Create the folder if needed and check it can be written; raises ExportError."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"{folder}: cannot create the folder ({e.strerror or e})") from None
    if not folder.is_dir():
        raise ExportError(f"{folder}: not a folder")
    if not os.access(folder, os.W_OK):
        raise ExportError(f"{folder}: the folder is read-only")
    return folder


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """A temporary file in the same folder, then a rename (engine.atomic)."""
    path = Path(path)
    try:
        with atomic_write(path) as f:
            f.write(data)
    except OSError as e:
        raise ExportError(f"{path}: cannot write ({e.strerror or e})") from None
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))
