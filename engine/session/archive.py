"""The session file: a zip of JSON and .npy members, written atomically, read safely.

Layout (format version 5; resources/session-format.md documents every member):
  manifest.json                 format, format_version, app_version, created, runs[]
  meta.json                     session-level JSON (playground, layout, ...)
  arrays/<path>.npy             session-level arrays ((v4) lr_find/*: the learning-rate range test)
  runs/<NNN>/config.json        the run's ExperimentConfig
  runs/<NNN>/final.json         final metrics
  runs/<NNN>/meta.json          the run's JSON metadata
  runs/<NNN>/series/<name>.npy  full-resolution metric series
  runs/<NNN>/arrays/<path>.npy  other arrays (probes, weights, trajectories...)
  runs/<NNN>/checkpoint.json    (v2) step, epoch, optimizer groups, schedule: to continue the run
  runs/<NNN>/checkpoint/<path>.npy  (v2) weights, optimizer tensors, random states, batch order;
                                (v3) the features' states (hooks/<feature>/<key>) and last good weights

A feature's state often holds the same arrays as what the feature saved in the run
(its history): such an array is written once, under arrays/, and the checkpoint's
"arrays_in_record" names it (v3). Version 4 adds optional session-level members (a search:
meta.json "search", arrays/search/...); version 5 more (the Curves' ghost runs: meta.json "ghosts",
arrays/ghosts/...). Version 1 (no checkpoints), 2, 3 and 4 files still open.

Loading never unpickles: .npy members are read with allow_pickle=False, members of any
other kind, pickles and paths that escape the archive are refused.
"""

from __future__ import annotations

import ast
import io
import json
import math
import os
import re
import stat
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine import __version__
from engine.atomic import atomic_write, output_path_problem
from engine.config import SYNTHETIC_2D, ConfigError, ExperimentConfig
from engine.safe_json import loads_limited
from engine.session.record import Checkpoint, RunRecord, Session
from engine.states import RunState

FORMAT_NAME = "descent-session"
FORMAT_VERSION = 5
SHARED_ARRAYS = "arrays_in_record"  # checkpoint.json: checkpoint array → the run array holding the same values
STORE_ABOVE_BYTES = 256 * 1024  # members larger than this are stored, not deflated
MAX_TOTAL_BYTES = 1024**3
"""Default cap on what an archive may unpack to (the environment variable
DESCENT_MAX_SESSION_BYTES or load_session's max_total_bytes changes it)."""
UNPACK_RATIO = 200
"""An archive may unpack to at most this many times its size on disk (sessions unpack to
about 1-5×: large arrays are stored, small members deflate a few fold) ..."""
MIN_ALLOWANCE = 1024**2
"""... or to this much, whichever is more (a tiny file may hold a few all-zero arrays)."""
MAX_JSON_MEMBER_BYTES = 16 * 1024**2
"""Largest JSON member read: a few MB of JSON text can become ~30× that in Python objects."""
MAX_JSON_TOTAL_BYTES = 32 * 1024**2
"""Most JSON text read from one archive, all members together."""
MAX_MEMBERS = 100_000
"""Most members an archive may have (a session with many runs has a few thousand)."""
MAX_NPY_HEADER = 10_000
"""Longest npy header read (numpy's own default limit)."""
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # member timestamps: saving twice gives identical bytes
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")


def _as_saved(config: ExperimentConfig, version: int) -> ExperimentConfig:
    """A config of a file older than version 4 with the meaning it was run with: there,
    'auto' left the 2D sets unstandardized and the output layer had the hidden layers' init."""
    if version >= 4:
        return config
    updates: dict[str, Any] = {"model.output_init": "same"}
    if config.data.preprocess == "auto" and config.data.name in SYNTHETIC_2D:
        updates["data.preprocess"] = "none"
    return config.with_updates(updates)


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


def _arrays_in_record(checkpoint: dict[str, np.ndarray], record: dict[str, np.ndarray]) -> dict[str, str]:
    """The features' checkpoint arrays (hooks/...) equal to one of the run's arrays, each
    mapped to that array's key: written once, not twice."""
    by_kind: dict[tuple, list[str]] = {}
    for k, v in record.items():
        by_kind.setdefault((v.shape, v.dtype.str), []).append(k)
    shared = {}
    for k, v in checkpoint.items():
        if not k.startswith("hooks/") or v.size == 0:
            continue
        for rk in by_kind.get((v.shape, v.dtype.str), []):
            if np.array_equal(v, record[rk], equal_nan=v.dtype.kind in "fc"):
                shared[k] = rk
                break
    return shared


def session_to_members(session: Session) -> dict[str, bytes]:
    """Every archive member as bytes, keyed by its path (sorted on write)."""
    members: dict[str, bytes] = {}
    runs_manifest = []
    for i, run in enumerate(session.runs):
        d = f"runs/{i:03d}"
        if run.checkpoint_unread:
            raise SessionError(f"run '{run.name}' was opened without its checkpoint; saving it would lose its weights")
        runs_manifest.append({"name": run.name, "dir": d, "state": run.state, "checkpoint": run.checkpoint is not None})
        members[f"{d}/config.json"] = run.config.model_dump_json(indent=1).encode()
        members[f"{d}/final.json"] = _json_bytes(run.final)
        members[f"{d}/meta.json"] = _json_bytes(run.meta)
        for k, v in run.series.items():
            members[f"{d}/series/{_check_key(k)}.npy"] = _npy_bytes(v)
        for k, v in run.arrays.items():
            members[f"{d}/arrays/{_check_key(k)}.npy"] = _npy_bytes(v)
        if run.checkpoint is not None:
            shared = _arrays_in_record(run.checkpoint.arrays, run.arrays)
            ck_meta = {**run.checkpoint.meta, SHARED_ARRAYS: shared} if shared else run.checkpoint.meta
            members[f"{d}/checkpoint.json"] = _json_bytes(ck_meta)
            for k, v in run.checkpoint.arrays.items():
                if k not in shared:
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
    """Write atomically (engine.atomic: a temporary file in the same folder, removed on any
    failure, then a rename); raises SessionError naming the file."""
    path = Path(path)
    members = session_to_members(session)
    problem = output_path_problem(path)
    if problem is not None:
        raise SessionError(f"{path}: {problem}")
    try:
        with atomic_write(path) as f:
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
    except OSError as e:
        raise SessionError(f"{path}: cannot write ({e.strerror or e})") from None
    return path


def _safe_member(name: str) -> bool:
    if name.startswith(("/", "\\")) or "\\" in name or re.match(r"^[A-Za-z]:", name):
        return False
    return all(p not in ("..",) for p in name.split("/"))


def _one_line(text: object, limit: int = 120) -> str:
    """An exception's text for a message: one line, cut to `limit` characters."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def allowed_unpacked_bytes(archive_bytes: int, cap: int | None = None) -> int:
    """What an archive of `archive_bytes` on disk may unpack to: UNPACK_RATIO × its size,
    at least MIN_ALLOWANCE, never more than the cap (MAX_TOTAL_BYTES unless set)."""
    if cap is None:
        env = os.environ.get("DESCENT_MAX_SESSION_BYTES", "")
        cap = int(env) if env.isascii() and env.isdigit() else MAX_TOTAL_BYTES
    return min(cap, max(MIN_ALLOWANCE, UNPACK_RATIO * archive_bytes))


_NUMERIC = "biuf"  # numpy dtype kinds of series and checkpoint tensors
_ARRAY_KINDS = "biufcSU"  # ... and of feature arrays (numbers, plain strings; never objects or records)
_MEMBER_SUFFIXES = (".npy", ".json", ".safetensors", ".txt", ".md")


class SessionArchive:
    """A session zip opened for reading: every member's name, kind and declared size is
    checked when it is opened, and members are read one at a time, only when asked for,
    each checked (JSON limits, npy header against the declared size) before it is used.
    Every failure is a SessionError naming the file and the member."""

    def __init__(self, path: str | os.PathLike, max_total_bytes: int | None = None) -> None:
        self.path = Path(path)
        self._json_read = 0
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise SessionError(f"{self.path}: no such file") from None
        except OSError as e:
            raise SessionError(f"{self.path}: cannot open ({e.strerror or e})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                what = "a folder" if stat.S_ISDIR(st.st_mode) else "a device, FIFO or socket"
                raise SessionError(f"{self.path}: not a Descent session ({what}, not a regular file)")
            self._file = os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
        try:
            self.allowance = allowed_unpacked_bytes(st.st_size, max_total_bytes)
            self._zip = self._open_zip()
            self._infos = self._checked_infos()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        z = getattr(self, "_zip", None)
        if z is not None:
            z.close()
        self._file.close()

    def __enter__(self) -> SessionArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_zip(self) -> zipfile.ZipFile:
        try:
            if not zipfile.is_zipfile(self._file):
                raise SessionError(f"{self.path}: not a Descent session (not a zip archive, or truncated)")
            return zipfile.ZipFile(self._file)
        except SessionError:
            raise
        except Exception as e:  # noqa: BLE001 - any parse failure of untrusted bytes is a corrupt file
            raise SessionError(f"{self.path}: corrupt session file ({_one_line(e)})") from None

    def _checked_infos(self) -> dict[str, zipfile.ZipInfo]:
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise SessionError(f"{self.path}: refused: {len(infos)} members, more than the {MAX_MEMBERS} allowed")
        out: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename
            if not name:
                raise SessionError(f"{self.path}: refused: a member has an empty name (a corrupt archive)")
            if not _safe_member(name):
                raise SessionError(f"{self.path}: refused: member {name!r} escapes the archive")
            if name in out:
                raise SessionError(f"{self.path}: refused: member {name!r} appears twice")
            total += info.file_size
            if info.is_dir():
                continue
            if name.endswith((".pkl", ".pickle", ".pt", ".pth")):
                raise SessionError(f"{self.path}: refused: member {name!r} is a pickle (loading it could run code)")
            if not name.endswith(_MEMBER_SUFFIXES):
                raise SessionError(f"{self.path}: refused: unexpected member {name!r}")
            if stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG):
                raise SessionError(f"{self.path}: refused: member {name!r} is a link or special file, not a file")
            if info.flag_bits & 0x1:
                raise SessionError(f"{self.path}: refused: member {name!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise SessionError(
                    f"{self.path}: refused: member {name!r} uses compression method {info.compress_type} "
                    "(sessions use stored or deflated members)"
                )
            out[name] = info
        if total > self.allowance:
            raise SessionError(
                f"{self.path}: refused: declares {total} bytes unpacked, more than the {self.allowance} allowed "
                f"for a file of this size (at most {UNPACK_RATIO}× its size, and a cap settable with "
                "DESCENT_MAX_SESSION_BYTES)"
            )
        return out

    def names(self) -> list[str]:
        """Every file member's name, in archive order."""
        return list(self._infos)

    def __contains__(self, name: str) -> bool:
        return name in self._infos

    def member_error(self, name: str, problem: str) -> SessionError:
        return SessionError(f"{self.path}: member {name!r}: {problem}")

    def _read_into(self, name: str, f: Any, buf: memoryview) -> None:
        """Fill buf from the open member f, then check that the member ends there (zipfile
        checks the CRC at the member's end)."""
        done = 0
        while done < len(buf):
            chunk = f.read(min(len(buf) - done, 1 << 20))
            if not chunk:
                raise self.member_error(name, f"truncated ({done} of {len(buf)} bytes)")
            buf[done : done + len(chunk)] = chunk
            done += len(chunk)
        if f.read(1):
            raise self.member_error(name, "longer than declared")

    def read_bytes(self, name: str, max_bytes: int) -> bytes:
        """The member's bytes, refused when it declares more than max_bytes."""
        info = self._infos[name]
        if info.file_size > max_bytes:
            raise self.member_error(name, f"{info.file_size} bytes, more than the {max_bytes} allowed")
        buf = bytearray(info.file_size)
        try:
            with self._zip.open(info) as f:
                self._read_into(name, f, memoryview(buf))
        except SessionError:
            raise
        except Exception as e:  # noqa: BLE001 - zlib.error, BadZipFile, EOFError, OSError...: a corrupt member
            raise self.member_error(name, f"corrupt ({_one_line(e)})") from None
        return bytes(buf)

    def json(self, name: str, default: Any = None, kind: type | None = None) -> Any:
        """The JSON member `name` (default when absent), parsed with size, depth and integer
        limits, and checked to be of `kind` when given."""
        if name not in self._infos:
            return default
        remaining = MAX_JSON_TOTAL_BYTES - self._json_read
        data = self.read_bytes(name, min(MAX_JSON_MEMBER_BYTES, max(0, remaining)))
        self._json_read += len(data)
        try:
            value = loads_limited(data, max_bytes=MAX_JSON_MEMBER_BYTES)
        except ValueError as e:
            raise self.member_error(name, _one_line(e)) from None
        if kind is not None and not isinstance(value, kind):
            want = "a JSON object" if kind is dict else "a JSON list" if kind is list else kind.__name__
            raise self.member_error(name, f"holds {_json_type(value)}, expected {want}")
        return value

    def array(self, name: str, kinds: str = _ARRAY_KINDS, ndim: int | None = None) -> np.ndarray:
        """The .npy member `name`, its header checked (dtype kind, dimensions, data size equal to
        what the zip declares) before any memory is allocated for it; never unpickles."""
        info = self._infos[name]
        try:
            with self._zip.open(info) as f:
                shape, fortran, dtype, header_len = self._npy_header(name, f)
                if dtype.hasobject:
                    raise self.member_error(name, "holds pickled Python objects (loading them could run code)")
                if dtype.kind not in kinds or dtype.names is not None or dtype.subdtype is not None:
                    raise self.member_error(name, f"holds {dtype} values, expected {_kinds_text(kinds)}")
                if ndim is not None and len(shape) != ndim:
                    raise self.member_error(
                        name, f"has shape {shape}, expected {ndim} dimension{'s' if ndim != 1 else ''}"
                    )
                nbytes = math.prod(shape) * dtype.itemsize
                if nbytes != info.file_size - header_len:
                    raise self.member_error(
                        name,
                        f"corrupt array (its header declares {nbytes} bytes of data, the member holds "
                        f"{info.file_size - header_len})",
                    )
                a = np.empty(math.prod(shape), dtype=dtype)
                self._read_into(name, f, a.view(np.uint8).data)
        except SessionError:
            raise
        except MemoryError:
            raise self.member_error(name, "not enough memory to read it") from None
        except Exception as e:  # noqa: BLE001 - zlib.error, BadZipFile, EOFError, OSError...: a corrupt member
            raise self.member_error(name, f"corrupt ({_one_line(e)})") from None
        return a.reshape(shape, order="F" if fortran else "C")

    def _npy_header(self, name: str, f: Any) -> tuple[tuple[int, ...], bool, np.dtype, int]:
        """(shape, fortran order, dtype, bytes before the data) of an .npy member."""
        magic = f.read(8)
        if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
            what = "an .npz archive" if magic[:4] == b"PK\x03\x04" else "not an .npy array"
            raise self.member_error(name, f"{what} (a session's arrays are single .npy arrays)")
        version = (magic[6], magic[7])
        if version == (1, 0):
            header_len, size_bytes = int.from_bytes(f.read(2), "little"), 2
        elif version in ((2, 0), (3, 0)):
            header_len, size_bytes = int.from_bytes(f.read(4), "little"), 4
        else:
            raise self.member_error(name, f"unknown .npy version {version[0]}.{version[1]}")
        if header_len > MAX_NPY_HEADER:
            raise self.member_error(name, f"an .npy header of {header_len} bytes (at most {MAX_NPY_HEADER} read)")
        header = f.read(header_len)
        if len(header) != header_len:
            raise self.member_error(name, "truncated .npy header")
        try:
            text = header.decode("utf-8" if version == (3, 0) else "latin1")
            d = ast.literal_eval(text)
            shape, fortran, descr = d["shape"], d["fortran_order"], d["descr"]
            if not (isinstance(shape, tuple) and all(type(n) is int and 0 <= n < 2**48 for n in shape)):
                raise ValueError(f"bad shape {_one_line(repr(shape), 60)}")
            if len(shape) > 32 or not isinstance(fortran, bool):
                raise ValueError("bad header")
            if not isinstance(descr, str):  # a list describes a record (structured) dtype
                raise ValueError("a record dtype")
            dtype = np.dtype(descr)
        except Exception as e:  # noqa: BLE001 - any malformed header (literal_eval raises many kinds)
            raise self.member_error(name, f"corrupt .npy header ({_one_line(e, 80)})") from None
        return shape, fortran, dtype, 8 + size_bytes + header_len

    def arrays_under(self, prefix: str, kinds: str = _ARRAY_KINDS, ndim: int | None = None) -> dict[str, np.ndarray]:
        """Every .npy member under prefix, by its name after the prefix, sorted."""
        out = {}
        for name in sorted(self._infos):
            if name.startswith(prefix) and name.endswith(".npy"):
                out[name[len(prefix) : -4]] = self.array(name, kinds, ndim)
        return out


def _json_type(value: Any) -> str:
    return {dict: "a JSON object", list: "a JSON list", str: "text", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _kinds_text(kinds: str) -> str:
    return "numbers" if set(kinds) <= set("biufc") else "numbers or plain text"


def read_members(path: str | os.PathLike, max_total_bytes: int | None = None) -> dict[str, bytes]:
    """All members of a session archive, as bytes, after the checks of SessionArchive."""
    with SessionArchive(path, max_total_bytes) as archive:
        return {name: archive.read_bytes(name, archive.allowance) for name in archive.names()}


def load_session(path: str | os.PathLike, max_total_bytes: int | None = None, checkpoints: bool = True) -> Session:
    """Open a session file; raises SessionError with a message naming the file, the member
    and the problem. max_total_bytes caps what the archive may unpack to (MAX_TOTAL_BYTES,
    or DESCENT_MAX_SESSION_BYTES, by default). With checkpoints=False the runs' checkpoints
    (weights, optimizer state: most of a file's bytes) are not read, and each run's
    `checkpoint` is None: for readers that only show what the runs produced."""
    with SessionArchive(path, max_total_bytes) as archive:
        return _read_session(archive, checkpoints)


def _manifest_text(archive: SessionArchive, manifest: dict, key: str) -> str:
    value = manifest.get(key, "")
    if not isinstance(value, str):
        raise archive.member_error("manifest.json", f"'{key}' is {_json_type(value)}, expected text")
    return value


def _run_entries(archive: SessionArchive, manifest: dict) -> list[tuple[str, str, str]]:
    """(dir, name, state) of each run the manifest lists, checked: no run listed twice."""
    runs = manifest.get("runs", [])
    if not isinstance(runs, list):
        raise archive.member_error("manifest.json", f"'runs' is {_json_type(runs)}, expected a JSON list")
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    states = {s.value for s in RunState}
    for i, entry in enumerate(runs):
        where = f"run entry {i + 1}"
        if not isinstance(entry, dict):
            raise archive.member_error("manifest.json", f"{where} is {_json_type(entry)}, expected a JSON object")
        d, name, state = entry.get("dir"), entry.get("name"), entry.get("state", RunState.FINISHED.value)
        if not isinstance(d, str) or not _SAFE_NAME.match(d) or any(p in (".", "..") for p in d.split("/")):
            raise archive.member_error("manifest.json", f"{where} has no valid 'dir'")
        if not isinstance(name, str) or not name.isprintable() or len(name) > 1000:
            raise archive.member_error("manifest.json", f"{where} has no valid 'name' (printable text)")
        if state not in states:
            raise archive.member_error("manifest.json", f"{where} has an unknown state")
        if d in seen:
            raise archive.member_error("manifest.json", f"{where} lists the run in '{d}' again")
        seen.add(d)
        out.append((d, name, state))
    return out


def _final_metrics(archive: SessionArchive, name: str) -> dict[str, float]:
    """final.json: a JSON object of numbers (null for a metric that has no value)."""
    final = archive.json(name, {}, dict)
    out: dict[str, float] = {}
    for k, v in final.items():
        if v is None:
            v = math.nan
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SessionError(
                f"{archive.path}: member {name!r}: '{_one_line(k, 40)}' is {_json_type(v)}, expected a number"
            )
        out[k] = float(v)
    return out


def _read_session(archive: SessionArchive, checkpoints: bool = True) -> Session:
    path = archive.path
    if "manifest.json" not in archive:
        raise SessionError(f"{path}: not a Descent session (no manifest.json)")
    manifest = archive.json("manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise SessionError(f"{path}: not a Descent session (unknown format)")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionError(f"{path}: invalid format_version {_one_line(repr(version), 40)}")
    if version > FORMAT_VERSION:
        raise SessionError(
            f"{path}: made by a newer Descent (format version {version}); "
            f"this version reads up to {FORMAT_VERSION} — please upgrade"
        )
    session = Session(
        format_version=version,
        app_version=_manifest_text(archive, manifest, "app_version"),
        created=_manifest_text(archive, manifest, "created"),
    )
    entries = _run_entries(archive, manifest)
    session.meta = archive.json("meta.json", {}, dict)
    session.arrays = archive.arrays_under("arrays/")
    for d, name, state in entries:
        cfg_name = f"{d}/config.json"
        if cfg_name not in archive:
            raise SessionError(f"{path}: run '{name}' has no config ({cfg_name!r} is missing)")
        try:
            config = _as_saved(ExperimentConfig.from_json(archive.read_bytes(cfg_name, MAX_JSON_MEMBER_BYTES)), version)
        except ConfigError as e:
            raise SessionError(f"{path}: member {cfg_name!r}: run '{name}' has an invalid config: {e}") from None
        run = RunRecord(
            name=name,
            config=config,
            series=archive.arrays_under(f"{d}/series/", _NUMERIC, ndim=1),
            final=_final_metrics(archive, f"{d}/final.json"),
            arrays=archive.arrays_under(f"{d}/arrays/"),
            meta=archive.json(f"{d}/meta.json", {}, dict),
            state=state,
        )
        run.checkpoint_unread = not checkpoints and f"{d}/checkpoint.json" in archive
        if checkpoints and f"{d}/checkpoint.json" in archive:
            ck_meta = archive.json(f"{d}/checkpoint.json", {}, dict)
            ck_arrays = archive.arrays_under(f"{d}/checkpoint/", _NUMERIC)
            shared = ck_meta.pop(SHARED_ARRAYS, {})
            member = f"{d}/checkpoint.json"
            if not isinstance(shared, dict):
                raise SessionError(f"{path}: member {member!r}: '{SHARED_ARRAYS}' is not a JSON object")
            for k, rk in shared.items():
                if not isinstance(rk, str) or rk not in run.arrays or not _SAFE_NAME.match(k) or k in ck_arrays:
                    raise SessionError(f"{path}: member {member!r}: '{SHARED_ARRAYS}' entry {str(k)[:80]!r} is invalid")
                ck_arrays[k] = run.arrays[rk]
            run.checkpoint = Checkpoint(arrays=ck_arrays, meta=ck_meta)
        session.runs.append(run)
    return session
