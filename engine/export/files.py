"""Writing export files: atomic, with one-line errors naming the file and the problem."""

from __future__ import annotations

import html
import os
import re
import unicodedata
from pathlib import Path

from engine.atomic import atomic_write


class ExportError(Exception):
    """An export that cannot be written; the message names the path and the reason."""


def plain_text(markup: str) -> str:
    """The text a plot title shows, without its HTML: tags dropped, entities decoded, spaces collapsed."""
    text = re.sub(r"<[^>]*>", " ", markup)
    return " ".join(html.unescape(text).split())


def safe_stem(name: str, taken: set[str] | None = None) -> str:
    """A plain file-name stem for a run name or a plot title (HTML dropped, accents folded to ASCII,
    anything else but letters, digits, '.', '-' and '_' made '_'), unique within `taken` (which it updates)."""
    ascii_name = unicodedata.normalize("NFKD", plain_text(name)).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name.replace("=", "-")).strip("._-") or "run"
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
