"""The session file: a zip of JSON and .npy members, written atomically, read safely.

Layout (format version 2; resources/session-format.md documents every member):
  manifest.json                 format, format_version, app_version, created, runs[]
  meta.json                     session-level JSON (playground, layout, ...)
  arrays/<path>.npy             session-level arrays
  runs/<NNN>/config.json        the run's ExperimentConfig
  runs/<NNN>/final.json         final metrics
  runs/<NNN>/meta.json          the run's JSON metadata
  runs/<NNN>/series/<name>.npy  full-resolution metric series
  runs/<NNN>/arrays/<path>.npy  other arrays (probes, weights, trajectories...)
  runs/<NNN>/checkpoint.json    (v2) step, epoch, optimizer groups, schedule: to continue the run
  runs/<NNN>/checkpoint/<path>.npy  (v2) weights, optimizer tensors, random states, batch order

Version 1 files (no checkpoints) still open.

Loading never unpickles: .npy members are read with allow_pickle=False, members of any
other kind, pickles and paths that escape the archive are refused.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine import __version__
from engine.config import ConfigError, ExperimentConfig
from engine.session.checkpoint import Checkpoint
from engine.session.record import RunRecord, Session

FORMAT_NAME = "descent-session"
FORMAT_VERSION = 2
STORE_ABOVE_BYTES = 256 * 1024  # members larger than this are stored, not deflated
MAX_TOTAL_BYTES = 8 * 1024**3  # refuse archives that would unpack to more than this
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # member timestamps: saving twice gives identical bytes
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
_PICKLE_MAGIC = (b"\x80", b"(dp", b"(lp", b"cnumpy", b"ccopy_reg")


_UMASK = os.umask(0)  # read once at import (os.umask is process-wide: never toggle it later)
os.umask(_UMASK)


class SessionError(Exception):
    """A session file that cannot be written or read; the message names file and problem."""


def _check_key(key: str) -> str:
    if not _SAFE_NAME.match(key) or any(p in ("", ".", "..") for p in key.split("/")):
        raise SessionError(f"invalid array or series name '{key}' (letters, digits, _ . - and / only)")
    return key


def _npy_bytes(a: np.ndarray) -> bytes:
    a = np.asarray(a)
    if a.dtype == object:
        raise SessionError("object arrays cannot be saved (they would need pickle)")
    buf = io.BytesIO()
    # (ascontiguousarray would turn a 0-d array into shape (1,): a round trip must keep shapes)
    np.save(buf, np.ascontiguousarray(a) if a.ndim else a, allow_pickle=False)
    return buf.getvalue()


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=True, allow_nan=True).encode()


def session_to_members(session: Session) -> dict[str, bytes]:
    """Every archive member as bytes, keyed by its path (sorted on write)."""
    members: dict[str, bytes] = {}
    runs_manifest = []
    for i, run in enumerate(session.runs):
        d = f"runs/{i:03d}"
        runs_manifest.append({"name": run.name, "dir": d, "state": run.state, "checkpoint": run.checkpoint is not None})
        members[f"{d}/config.json"] = run.config.model_dump_json(indent=1).encode()
        members[f"{d}/final.json"] = _json_bytes(run.final)
        members[f"{d}/meta.json"] = _json_bytes(run.meta)
        for k, v in run.series.items():
            members[f"{d}/series/{_check_key(k)}.npy"] = _npy_bytes(v)
        for k, v in run.arrays.items():
            members[f"{d}/arrays/{_check_key(k)}.npy"] = _npy_bytes(v)
        if run.checkpoint is not None:
            members[f"{d}/checkpoint.json"] = _json_bytes(run.checkpoint.meta)
            for k, v in run.checkpoint.arrays.items():
                members[f"{d}/checkpoint/{_check_key(k)}.npy"] = _npy_bytes(v)
    for k, v in session.arrays.items():
        members[f"arrays/{_check_key(k)}.npy"] = _npy_bytes(v)
    members["meta.json"] = _json_bytes(session.meta)
    members["manifest.json"] = _json_bytes(
        {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "app_version": session.app_version or __version__,
            "created": session.created or datetime.now(UTC).isoformat(timespec="seconds"),
            "runs": runs_manifest,
        }
    )
    return members


def save_session(session: Session, path: str | os.PathLike) -> Path:
    """Write atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    members = session_to_members(session)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SessionError(f"{path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise SessionError(f"{path}: cannot write there ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
                for name in ["manifest.json"] + sorted(n for n in members if n != "manifest.json"):
                    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
                    # Large arrays (weights, trajectories) are float noise to deflate: storing them
                    # as they are saves seconds for a few percent of size.
                    info.compress_type = (
                        zipfile.ZIP_STORED if len(members[name]) > STORE_ABOVE_BYTES else zipfile.ZIP_DEFLATED
                    )
                    info.external_attr = 0o644 << 16
                    z.writestr(info, members[name])
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a session is an ordinary file
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise SessionError(f"{path}: cannot write ({e.strerror or e})") from None
        raise
    return path


def _safe_member(name: str) -> bool:
    if name.startswith(("/", "\\")) or "\\" in name or re.match(r"^[A-Za-z]:", name):
        return False
    return all(p not in ("..",) for p in name.split("/"))


def read_members(path: str | os.PathLike) -> dict[str, bytes]:
    """All members of a session archive after the safety checks; raises SessionError."""
    path = Path(path)
    if not path.exists():
        raise SessionError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise SessionError(f"{path}: not a Descent session (not a zip archive, or truncated)")
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            total = 0
            for info in infos:
                if not _safe_member(info.filename):
                    raise SessionError(f"{path}: refused: member '{info.filename}' escapes the archive")
                total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise SessionError(
                    f"{path}: refused: unpacks to {total} bytes, more than the {MAX_TOTAL_BYTES} allowed"
                )
            members: dict[str, bytes] = {}
            for info in infos:
                if info.is_dir():
                    continue
                name = info.filename
                data = z.read(info)
                if name.endswith((".pkl", ".pickle", ".pt", ".pth")) or (
                    not name.endswith((".npy", ".json", ".safetensors")) and data.startswith(_PICKLE_MAGIC)
                ):
                    raise SessionError(f"{path}: refused: member '{name}' is a pickle (loading it could run code)")
                if not name.endswith((".npy", ".json", ".safetensors", ".txt", ".md")):
                    raise SessionError(f"{path}: refused: unexpected member '{name}'")
                members[name] = data
    except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile) as e:
        raise SessionError(f"{path}: corrupt session file ({e})") from None
    return members


def _load_npy(path: Path, name: str, data: bytes) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise SessionError(f"{path}: refused: member '{name}' holds pickled objects") from None
        raise SessionError(f"{path}: corrupt array '{name}' ({e})") from None
    except Exception as e:  # noqa: BLE001 - any parse failure of untrusted bytes
        raise SessionError(f"{path}: corrupt array '{name}' ({e})") from None


def _load_json(path: Path, name: str, data: bytes) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SessionError(f"{path}: corrupt member '{name}' ({e})") from None


def _arrays_under(path: Path, members: dict[str, bytes], prefix: str) -> dict[str, np.ndarray]:
    out = {}
    for name, data in members.items():
        if name.startswith(prefix) and name.endswith(".npy"):
            out[name[len(prefix) : -4]] = _load_npy(path, name, data)
    return dict(sorted(out.items()))


def load_session(path: str | os.PathLike) -> Session:
    """Open a session file; raises SessionError with a message naming the problem."""
    path = Path(path)
    members = read_members(path)
    if "manifest.json" not in members:
        raise SessionError(f"{path}: not a Descent session (no manifest.json)")
    manifest = _load_json(path, "manifest.json", members["manifest.json"])
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise SessionError(f"{path}: not a Descent session (unknown format)")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise SessionError(f"{path}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise SessionError(
            f"{path}: made by a newer Descent (format version {version}); "
            f"this version reads up to {FORMAT_VERSION} — please upgrade"
        )
    session = Session(
        format_version=version,
        app_version=str(manifest.get("app_version", "")),
        created=str(manifest.get("created", "")),
    )
    session.meta = _load_json(path, "meta.json", members["meta.json"]) if "meta.json" in members else {}
    session.arrays = _arrays_under(path, members, "arrays/")
    for entry in manifest.get("runs", []):
        try:
            d, name = entry["dir"], str(entry["name"])
        except (KeyError, TypeError):
            raise SessionError(f"{path}: corrupt manifest (run entry {entry!r})") from None
        cfg_name = f"{d}/config.json"
        if cfg_name not in members:
            raise SessionError(f"{path}: run '{name}' has no config")
        try:
            config = ExperimentConfig.from_json(members[cfg_name].decode("utf-8", "replace"))
        except ConfigError as e:
            raise SessionError(f"{path}: run '{name}' has an invalid config: {e}") from None
        run = RunRecord(
            name=name,
            config=config,
            series=_arrays_under(path, members, f"{d}/series/"),
            final=_load_json(path, f"{d}/final.json", members.get(f"{d}/final.json", b"{}")),
            arrays=_arrays_under(path, members, f"{d}/arrays/"),
            meta=_load_json(path, f"{d}/meta.json", members.get(f"{d}/meta.json", b"{}")),
            state=str(entry.get("state", "finished")),
        )
        if f"{d}/checkpoint.json" in members:
            ck_meta = _load_json(path, f"{d}/checkpoint.json", members[f"{d}/checkpoint.json"])
            if not isinstance(ck_meta, dict):
                raise SessionError(f"{path}: run '{name}' has a corrupt checkpoint.json")
            run.checkpoint = Checkpoint(arrays=_arrays_under(path, members, f"{d}/checkpoint/"), meta=ck_meta)
        session.runs.append(run)
    return session
