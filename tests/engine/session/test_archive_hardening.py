"""Hostile session files, generated at test time and small: each is refused with one
SessionError naming the file and the member — never another exception, a hang, or
gigabytes of memory — and `descent info` prints one line for each, never a traceback."""

from __future__ import annotations

import argparse
import io
import json
import os
import stat
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.commands import info as info_command
from engine.commands.common import CommandError
from engine.config import ExperimentConfig
from engine.session import RunRecord, Session, SessionError, load_session, save_session
from engine.session.archive import session_to_members

ROOT = Path(__file__).resolve().parents[3]
RUN = "runs/000"
S = f"{RUN}/series/epoch/train_loss.npy"


def _valid_members() -> dict[str, bytes]:
    record = RunRecord(
        name="r",
        config=ExperimentConfig(),
        series={"epoch/train_loss": np.array([1.0, 0.5, 0.25])},
        final={"train_loss": 0.25, "val_loss": 0.3, "train_acc": 0.9, "val_acc": 0.8, "epochs": 3.0},
    )
    return session_to_members(Session(runs=[record], meta={"layout": {"tab": 0}}))


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _write(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _with(changes: dict[str, bytes]) -> Callable[[Path], Path]:
    """A valid session with the given members replaced or added."""

    def build(path: Path) -> Path:
        return _write(path, {**_valid_members(), **changes})

    return build


def _manifest(**fields: object) -> bytes:
    m = json.loads(_valid_members()["manifest.json"])
    m.update(fields)
    return json.dumps(m).encode()


def _corrupt_deflate(path: Path) -> Path:
    """meta.json's deflate stream overwritten with an invalid block type (zlib.error)."""
    _write(path, _valid_members())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("meta.json")
    raw = bytearray(path.read_bytes())
    name_len, extra_len = (
        int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little"),
        int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little"),
    )
    start = info.header_offset + 30 + name_len + extra_len
    raw[start] = 0xFF  # BFINAL=1, BTYPE=11: a reserved block type
    path.write_bytes(bytes(raw))
    return path


def _npz_as_npy(path: Path) -> Path:
    buf = io.BytesIO()
    np.savez(buf, a=np.arange(3.0))
    return _with({S: buf.getvalue()})(path)


def _symlink_member(path: Path) -> Path:
    members = _valid_members()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        info = zipfile.ZipInfo(f"{RUN}/arrays/link.npy")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, "/etc/passwd")
    return path


def _npy_header_declares_huge(path: Path) -> Path:
    """A header declaring 10^13 float64 values over 32 bytes of data."""
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000000,), }"
    header = header.ljust(118) + b"\n"
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + np.arange(4.0).tobytes()
    return _with({S: data})(path)


def _bomb(path: Path) -> Path:
    """50 MB of zeros deflated to about 50 KB: far more than 200× the file."""
    members = _valid_members()
    members["arrays/zeros.npy"] = _npy(np.zeros(50 * 1024**2 // 8))
    return _write(path, members)


def _big_json(path: Path) -> Path:
    """18 MB of ``[],[],...`` (gigabytes of Python lists), with 100 KB of incompressible
    padding so that the archive's size allows for it."""
    pad = np.random.default_rng(0).bytes(100_000)
    return _with({"meta.json": b"[" + b"[]," * (6 * 1024**2) + b"[]]", "pad.txt": pad})(path)


def _duplicate_runs(path: Path) -> Path:
    m = json.loads(_valid_members()["manifest.json"])
    return _with({"manifest.json": json.dumps({**m, "runs": m["runs"] * 1000}).encode()})(path)


def _duplicate_member(path: Path) -> Path:
    members = _valid_members()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        with pytest.warns(UserWarning):
            z.writestr("meta.json", b"[]")
    return path


def _bzip2_member(path: Path) -> Path:
    members = _valid_members()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data, compress_type=zipfile.ZIP_BZIP2 if name == "meta.json" else zipfile.ZIP_DEFLATED)
    return path


OBJECT_NPY = (
    b"\x93NUMPY\x01\x00v\x00" + b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".ljust(117) + b"\n\x80\x04N."
)
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_INT = b"7" * 5000

# name: (builder, the member the message must name, a phrase the message must hold)
CORPUS: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "corrupt deflate data": (_corrupt_deflate, "meta.json", "corrupt"),
    "deep JSON in the manifest": (_with({"manifest.json": DEEP}), "manifest.json", "nested"),
    "deep JSON in meta": (_with({"meta.json": DEEP}), "meta.json", "nested"),
    "deep JSON in a config": (_with({f"{RUN}/config.json": DEEP}), "config.json", "nested"),
    "5,000-digit integer in meta": (_with({"meta.json": b'{"n": ' + HUGE_INT + b"}"}), "meta.json", "5000 digits"),
    "5,000-digit integer in a config": (
        _with({f"{RUN}/config.json": b'{"seed": ' + HUGE_INT + b"}"}),
        "config.json",
        "5000 digits",
    ),
    "manifest runs an int": (_with({"manifest.json": _manifest(runs=7)}), "manifest.json", "'runs' is a number"),
    "manifest runs null": (_with({"manifest.json": _manifest(runs=None)}), "manifest.json", "'runs' is null"),
    "manifest run entry a string": (_with({"manifest.json": _manifest(runs=["x"])}), "manifest.json", "run entry 1"),
    "manifest created a list": (_with({"manifest.json": _manifest(created=[1])}), "manifest.json", "'created'"),
    "manifest format_version true": (_with({"manifest.json": _manifest(format_version=True)}), "", "format_version"),
    "run listed twice": (_duplicate_runs, "manifest.json", "again"),
    "unknown run state": (
        _with({"manifest.json": _manifest(runs=[{"name": "r", "dir": RUN, "state": "exploded"}])}),
        "manifest.json",
        "state",
    ),
    "run name with a lone surrogate": (
        _with({"manifest.json": _manifest(runs=[{"name": "\ud800", "dir": RUN}])}),
        "manifest.json",
        "name",
    ),
    "run dir escaping": (_with({"manifest.json": _manifest(runs=[{"name": "r", "dir": "../x"}])}), "manifest", "dir"),
    "final.json a list": (_with({f"{RUN}/final.json": b"[1, 2]"}), "final.json", "JSON list"),
    "final.json a text metric": (_with({f"{RUN}/final.json": b'{"val_acc": "high"}'}), "final.json", "text"),
    "meta.json a list": (_with({"meta.json": b"[1]"}), "meta.json", "JSON list"),
    "run meta.json a list": (_with({f"{RUN}/meta.json": b"[]"}), "meta.json", "JSON list"),
    "checkpoint.json a list": (_with({f"{RUN}/checkpoint.json": b"[]"}), "checkpoint.json", "JSON list"),
    ".npz under an .npy name": (_npz_as_npy, "train_loss.npy", ".npz"),
    "text under an .npy name": (_with({S: b"hello, I am text"}), "train_loss.npy", "not an .npy array"),
    "symlink member": (_symlink_member, "link.npy", "a link or special file"),
    "0-d series": (_with({S: _npy(np.array(1.0))}), "train_loss.npy", "shape ()"),
    "2-D series": (_with({S: _npy(np.ones((2, 2)))}), "train_loss.npy", "shape (2, 2)"),
    "string series": (_with({S: _npy(np.array(["a", "b"]))}), "train_loss.npy", "<U1"),
    "void series": (_with({S: _npy(np.zeros(2, dtype="V8"))}), "train_loss.npy", "V8"),
    "record series": (_with({S: _npy(np.zeros(2, dtype=[("a", "<f8")]))}), "train_loss.npy", "header"),
    "object array": (
        _with({f"{RUN}/arrays/x.npy": OBJECT_NPY}),
        "x.npy",
        "pickled",
    ),
    "npy header declaring 80 TB": (_npy_header_declares_huge, "train_loss.npy", "declares"),
    "npy header not a literal": (
        _with({S: b"\x93NUMPY\x01\x00\x10\x00" + b"__import__('os')"}),
        "train_loss.npy",
        "header",
    ),
    "deflate bomb": (_bomb, "", "allowed"),
    "17 MB JSON member": (_big_json, "meta.json", "allowed"),
    "member twice": (_duplicate_member, "meta.json", "twice"),
    "bzip2 member": (_bzip2_member, "meta.json", "compression"),
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_hostile_file_is_refused_naming_file_and_member(tmp_path, case):
    build, member, phrase = CORPUS[case]
    path = build(tmp_path / "hostile.descent")
    with pytest.raises(SessionError) as e:
        load_session(path)
    msg = str(e.value)
    assert msg.startswith(str(path)), msg
    assert member in msg and phrase in msg, msg
    assert "\n" not in msg and len(msg) < 500, msg


def test_descent_info_gives_a_one_line_command_error_for_every_hostile_file(tmp_path):
    """`descent info` prints a CommandError as one line with exit code 2 (tests/cli). It reads
    no checkpoint, so the hostile files whose damage lies there describe normally."""
    for i, (build, member, _) in enumerate(CORPUS.values()):
        path = build(tmp_path / f"h{i}.descent")
        if "checkpoint" in member:
            assert info_command.main(argparse.Namespace(file=str(path), json=True, full=False)) == 0
            continue
        with pytest.raises(CommandError) as e:
            info_command.main(argparse.Namespace(file=str(path), json=True, full=False))
        assert str(e.value).startswith(str(path)) and "\n" not in str(e.value), str(e.value)


def test_devices_and_fifos_are_refused_before_reading(tmp_path):
    with pytest.raises(SessionError, match="/dev/zero: not a Descent session .*not a regular file"):
        load_session("/dev/zero")
    fifo = tmp_path / "pipe.descent"
    os.mkfifo(fifo)
    result: list[BaseException] = []
    t = threading.Thread(target=lambda: result.append(pytest.raises(SessionError, load_session, fifo).value))
    t.start()
    t.join(timeout=10)
    assert not t.is_alive(), "opening a FIFO blocked"
    assert "not a regular file" in str(result[0])
    with pytest.raises(SessionError, match="a folder"):
        load_session(tmp_path)


def test_the_unpack_cap_is_configurable(tmp_path, monkeypatch):
    noise = np.random.default_rng(0).random(100_000)
    path = _write(tmp_path / "s.descent", {**_valid_members(), "arrays/x.npy": _npy(noise)})
    assert load_session(path).arrays["x"].shape == (100_000,)
    with pytest.raises(SessionError, match="more than the 100000 allowed"):
        load_session(path, max_total_bytes=100_000)
    monkeypatch.setenv("DESCENT_MAX_SESSION_BYTES", "100000")
    with pytest.raises(SessionError, match="DESCENT_MAX_SESSION_BYTES"):
        load_session(path)


def test_members_the_session_does_not_use_are_never_read(tmp_path):
    """A corrupt member no run lists (runs/999/...) costs nothing and breaks nothing."""
    members = {**_valid_members(), "runs/999/series/x.npy": b"not an array"}
    s = load_session(_write(tmp_path / "s.descent", members))
    assert [r.name for r in s.runs] == ["r"]


def test_info_reads_no_checkpoint_while_continuing_reads_and_checks_it(tmp_path, capsys):
    """`info` never reads the runs' weights (most of a file's bytes): a damaged checkpoint
    does not stop it, while a full load refuses the file naming the member."""
    members = {
        **_valid_members(),
        "runs/000/checkpoint.json": b"{}",
        "runs/000/checkpoint/model/w.npy": b"\x93NUMPY damaged",
    }
    path = _write(tmp_path / "s.descent", members)
    unread = load_session(path, checkpoints=False).runs[0]
    assert unread.checkpoint is None and unread.has_checkpoint
    with pytest.raises(SessionError, match="opened without its checkpoint"):
        save_session(Session(runs=[unread]), tmp_path / "copy.descent")
    with pytest.raises(SessionError, match="checkpoint/model/w.npy"):
        load_session(path)
    assert info_command.main(argparse.Namespace(file=str(path), json=True, full=False)) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["name"] == "r"


def test_a_valid_session_still_opens_with_every_kind_of_array(tmp_path):
    record = RunRecord(
        name="r",
        config=ExperimentConfig(),
        series={"step/loss": np.linspace(1, 0, 7)},
        arrays={"a/f32": np.ones((2, 3), np.float32), "a/fortran": np.asfortranarray(np.eye(3)), "a/0d": np.array(3)},
    )
    from engine.session import save_session

    path = save_session(Session(runs=[record]), tmp_path / "ok.descent")
    r = load_session(path).runs[0]
    np.testing.assert_array_equal(r.series["step/loss"], np.linspace(1, 0, 7))
    assert r.arrays["a/f32"].dtype == np.float32 and r.arrays["a/f32"].shape == (2, 3)
    np.testing.assert_array_equal(r.arrays["a/fortran"], np.eye(3))
    assert r.arrays["a/0d"].shape == ()


def _peak_rss_mb(*args: str) -> tuple[int, subprocess.CompletedProcess]:
    """Peak RSS of `python -m desktop.cli ARGS` alone: measured by a fresh parent whose only
    child it is (getrusage of children)."""
    code = (
        "import resource, subprocess, sys; "
        f"r = subprocess.run([sys.executable, '-m', 'desktop.cli', *{list(args)!r}], capture_output=True, text=True); "
        "sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + '\\n' + str(r.returncode) "
        "+ '\\n' + r.stderr)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    kb, rc, *err = r.stdout.split("\n")
    return int(kb) // 1024, subprocess.CompletedProcess(args, int(rc), "", "\n".join(err))


def test_a_small_file_with_a_20m_value_series_stays_within_memory(tmp_path):
    """300 KB on disk, 160 MB unpacked: refused from the zip headers, in well under 1 GB."""
    members = _valid_members()
    members[f"{RUN}/series/step/loss.npy"] = _npy(np.zeros(20_000_000))
    path = _write(tmp_path / "big.descent", members)
    assert path.stat().st_size < 400_000
    rss, r = _peak_rss_mb("info", str(path), "--json")
    assert r.returncode == 2 and "allowed" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert rss < 1000, rss


# -- fuzzing: mutated valid sessions load or raise SessionError, never anything else ------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALID_BYTES = io.BytesIO()
with zipfile.ZipFile(VALID_BYTES, "w", zipfile.ZIP_DEFLATED) as _z:
    for _name, _data in _valid_members().items():
        _z.writestr(_name, _data)
VALID_ZIP = VALID_BYTES.getvalue()
JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _loads_or_refuses(path: Path) -> None:
    try:
        session = load_session(path)
    except SessionError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e), str(e)
        return
    for run in session.runs:  # what a loaded session promises its readers
        assert all(v.ndim == 1 and v.dtype.kind in "biuf" for v in run.series.values())
        assert all(isinstance(v, float) for v in run.final.values())
        assert isinstance(run.meta, dict)


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, len(VALID_ZIP) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_byte_flipped_sessions_load_or_are_refused(tmp_path, flips):
    raw = bytearray(VALID_ZIP)
    for at, value in flips:
        raw[at] = value
    path = tmp_path / "flipped.descent"
    path.write_bytes(bytes(raw))
    _loads_or_refuses(path)


@FUZZ
@given(
    member=st.sampled_from(
        ["manifest.json", "meta.json", f"{RUN}/final.json", f"{RUN}/meta.json", f"{RUN}/config.json"]
    ),
    key_path=st.lists(
        st.text(max_size=6) | st.sampled_from(["runs", "dir", "name", "state", "format_version"]), max_size=3
    ),
    value=JSON_VALUES,
)
def test_sessions_with_mutated_json_load_or_are_refused(tmp_path, member, key_path, value):
    members = _valid_members()
    data = json.loads(members[member])
    node = data
    for k in key_path[:-1]:
        if not isinstance(node, dict):
            break
        node = node.setdefault(k, {})
    if isinstance(node, dict) and key_path:
        node[key_path[-1]] = value
    else:
        data = value
    members[member] = json.dumps(data).encode()
    _loads_or_refuses(_write(tmp_path / "mutated.descent", members))


@FUZZ
@given(
    shape=st.lists(st.integers(0, 4), max_size=3).map(tuple),
    dtype=st.sampled_from(["<f8", ">f4", "<i8", "|u1", "|b1", "<c16", "<U3", "|S2", "<M8[s]", "|V4"]),
    lie=st.sampled_from([None, "(5,)", "(1000000000000,)", "()", "(2, 2)", "'x'", "(-1,)"]),
)
def test_sessions_with_odd_or_lying_npy_members_load_or_are_refused(tmp_path, shape, dtype, lie):
    data = _npy(np.zeros(shape, dtype=dtype))
    if lie is not None:
        data = data.replace(repr(shape).encode(), lie.encode().ljust(len(repr(shape))), 1)
    _loads_or_refuses(_write(tmp_path / "npy.descent", {**_valid_members(), S: data}))
