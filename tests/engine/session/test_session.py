"""Session files: exact round trip, atomic writes, refusal of hostile or newer files."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from engine.experiment import build_trainer
from engine.session import FORMAT_VERSION, RunRecord, Session, SessionError, load_session, record_of, save_session


@pytest.fixture
def trained_session(small_config):
    t = build_trainer(small_config)
    t.run()
    rec = record_of(t, "baseline")
    rec.arrays["extra/matrix"] = np.arange(12, dtype=np.float32).reshape(3, 4)
    rec.meta["note"] = {"a": 1}
    return Session(runs=[rec], meta={"layout": {"tab": 0}}, arrays={"playground/x": np.linspace(0, 1, 5)})


def test_round_trip_is_exact_and_stable(tmp_path, trained_session):
    p1, p2 = tmp_path / "a.descent", tmp_path / "b.descent"
    save_session(trained_session, p1)
    s = load_session(p1)
    r0, r1 = trained_session.runs[0], s.runs[0]
    assert r1.name == "baseline" and r1.config == r0.config and r1.state == r0.state
    assert set(r1.series) == set(r0.series)
    for k in r0.series:
        assert np.array_equal(r0.series[k], r1.series[k]) and r1.series[k].dtype == r0.series[k].dtype, k
    assert np.array_equal(r1.arrays["extra/matrix"], r0.arrays["extra/matrix"])
    assert r1.meta["note"] == {"a": 1} and s.meta == trained_session.meta
    assert np.array_equal(s.arrays["playground/x"], trained_session.arrays["playground/x"])
    save_session(s, p2)
    assert p1.read_bytes() == p2.read_bytes()  # save → open → save: identical bytes


def test_manifest_contents(tmp_path, trained_session):
    p = tmp_path / "a.descent"
    save_session(trained_session, p)
    with zipfile.ZipFile(p) as z:
        m = json.loads(z.read("manifest.json"))
        assert m["format_version"] == FORMAT_VERSION and m["app_version"] and m["created"]
        assert any(n.endswith("series/step/loss.npy") for n in z.namelist())


def _write_zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _manifest(version=1):
    return json.dumps({"format": "descent-session", "format_version": version, "runs": []})


def test_newer_version_is_refused(tmp_path):
    p = tmp_path / "new.descent"
    _write_zip(p, {"manifest.json": _manifest(FORMAT_VERSION + 1)})
    with pytest.raises(SessionError, match="newer Descent"):
        load_session(p)


def test_pickle_member_is_refused(tmp_path):
    p = tmp_path / "evil.descent"
    _write_zip(p, {"manifest.json": _manifest(), "runs/000/payload.pkl": pickle.dumps({"x": 1})})
    with pytest.raises(SessionError, match="pickle"):
        load_session(p)


def test_object_npy_is_refused(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    p = tmp_path / "obj.descent"
    _write_zip(p, {"manifest.json": _manifest(), "arrays/x.npy": buf.getvalue()})
    with pytest.raises(SessionError, match="pickle"):
        load_session(p)


def test_zip_slip_is_refused(tmp_path):
    p = tmp_path / "slip.descent"
    _write_zip(p, {"manifest.json": _manifest(), "../../evil.json": "{}"})
    with pytest.raises(SessionError, match="escapes the archive"):
        load_session(p)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04garbage"])
def test_corrupt_files_give_clear_errors(tmp_path, content):
    p = tmp_path / "bad.descent"
    p.write_bytes(content)
    with pytest.raises(SessionError, match="bad.descent"):
        load_session(p)


def test_truncated_file(tmp_path, trained_session):
    p = tmp_path / "a.descent"
    save_session(trained_session, p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(SessionError):
        load_session(p)


def test_missing_file():
    with pytest.raises(SessionError, match="no such file"):
        load_session("/nonexistent/x.descent")


def test_failed_write_leaves_previous_file_intact(tmp_path, trained_session):
    p = tmp_path / "a.descent"
    save_session(trained_session, p)
    before = p.read_bytes()
    bad = Session(
        runs=[RunRecord("x", trained_session.runs[0].config, arrays={"obj": np.array([object()], dtype=object)})]
    )
    with pytest.raises(SessionError):
        save_session(bad, p)
    assert p.read_bytes() == before
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []


def test_unwritable_folder(tmp_path, trained_session):
    with pytest.raises(SessionError, match="does not exist"):
        save_session(trained_session, tmp_path / "missing" / "a.descent")
