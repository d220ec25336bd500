"""Atomic writes: temporary files carry the writer's PID, are removed on every exit path a
process lives through, and a killed writer's are removed by the next write of the target —
never a live writer's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from engine.atomic import atomic_write, output_path_problem, stale_temp_files


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_the_next_write_removes_a_killed_writers_temp_file_but_not_a_live_writers(tmp_path):
    target = tmp_path / "a.descent"
    dead = tmp_path / f".a.descent.{_dead_pid()}-abc123.tmp"
    dead.write_bytes(b"x" * 1000)
    live_writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".a.descent.{live_writer.pid}-def456.tmp"
        live.write_bytes(b"y")
        other_target = tmp_path / f".b.descent.{_dead_pid()}-abc123.tmp"
        other_target.write_bytes(b"z")
        assert stale_temp_files(target) == [dead]
        with atomic_write(target) as f:
            f.write(b"new")
        assert target.read_bytes() == b"new"
        assert not dead.exists() and live.exists() and other_target.exists()
    finally:
        live_writer.kill()
        live_writer.wait()


def test_a_failed_write_leaves_the_target_and_no_temp_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")
    for exc in (OSError("disk full"), KeyboardInterrupt(), SystemExit(143)):
        with pytest.raises(type(exc)):
            with atomic_write(target) as f:
                f.write(b"partial")
                names = os.listdir(tmp_path)
                assert any(n.startswith(f".a.txt.{os.getpid()}-") and n.endswith(".tmp") for n in names), names
                raise exc
        assert target.read_bytes() == b"old"
        assert os.listdir(tmp_path) == ["a.txt"]


def test_output_path_problems(tmp_path):
    assert output_path_problem("") == "no file name given"
    assert output_path_problem(tmp_path) == "is a folder, not a file"
    assert "does not exist" in str(output_path_problem(tmp_path / "missing" / "a.descent"))
    assert output_path_problem(tmp_path / "a.descent") is None
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert "not writable" in str(output_path_problem(ro / "a.descent"))
