"""The headless command line: run, info, and its one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def descent(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "desktop.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def test_run_then_info_json_shows_falling_loss(tmp_path):
    out = tmp_path / "a.descent"
    r = descent(
        "run", "--set", "optim.name=adam", "--set", "train.epochs=5", "--set", "data.n_samples=400", "--out", str(out)
    )
    assert r.returncode == 0, r.stderr
    assert "training [" in r.stderr and out.exists()
    r = descent("info", str(out), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    from engine.session import FORMAT_VERSION

    assert info["format_version"] == FORMAT_VERSION
    run = info["runs"][0]
    assert {"name", "config", "metrics", "final"} <= set(run)
    assert run["config"]["optim"]["name"] == "adam"
    tl = run["metrics"]["epoch/train_loss"]
    assert len(tl) == 5 and tl[-1] < tl[0]
    assert set(run["final"]) >= {"train_loss", "val_loss", "train_acc", "val_acc"}
    human = descent("info", str(out))
    assert human.returncode == 0 and "run 'run'" in human.stdout


def _one_line_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("descent: error:"), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_unknown_set_key(tmp_path):
    _one_line_error(descent("run", "--set", "optim.lrate=0.1", "--out", str(tmp_path / "x.descent")), "optim.lrate")
    assert not (tmp_path / "x.descent").exists()


def test_out_of_range_value(tmp_path):
    _one_line_error(descent("run", "--set", "optim.lr=-1", "--out", str(tmp_path / "x.descent")), "optim.lr", "(0, 10]")


def test_malformed_config_json(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text("{ nope")
    _one_line_error(
        descent("run", "--config", str(cfg), "--out", str(tmp_path / "x.descent")), "c.json", "malformed JSON"
    )


def test_missing_and_corrupt_session(tmp_path):
    _one_line_error(descent("info", str(tmp_path / "missing.descent")), "no such file")
    bad = tmp_path / "bad.descent"
    bad.write_bytes(b"garbage")
    _one_line_error(descent("info", str(bad)), "bad.descent")


def test_config_file_is_used(tmp_path):
    from engine.config import ExperimentConfig

    cfg = tmp_path / "c.json"
    cfg.write_text(
        ExperimentConfig()
        .with_updates({"train.epochs": 1, "data.name": "moons", "data.n_samples": 100, "optim.lr": 0.05})
        .to_json()
    )
    out = tmp_path / "m.descent"
    r = descent("run", "--config", str(cfg), "--quiet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    info = json.loads(descent("info", str(out), "--json").stdout)
    assert info["runs"][0]["config"]["data"]["name"] == "moons"
    assert info["runs"][0]["config"]["optim"]["lr"] == 0.05


def _start_run(*args: str) -> tuple[subprocess.Popen, list[bytes]]:
    """`descent run ARGS` in the background, once its progress bar shows training started."""
    import threading
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop.cli", "run", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A shell starts background jobs with SIGINT ignored, and a child inherits that (Python
        # then installs no KeyboardInterrupt handler): the run gets Ctrl-C's default here.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    err: list[bytes] = []
    assert proc.stderr is not None
    stream = proc.stderr
    threading.Thread(target=lambda: err.extend(iter(lambda: stream.read(1), b"")), daemon=True).start()
    deadline = time.monotonic() + 120
    while b"training [" not in b"".join(err):
        assert proc.poll() is None and time.monotonic() < deadline, b"".join(err)
        time.sleep(0.05)
    return proc, err


LONG_RUN = ("--set", "train.epochs=5000", "--set", "data.n_samples=400", "--set", "landscape.snapshots=false")


def _temp_files(folder: Path) -> list[str]:
    return [f for f in os.listdir(folder) if f.endswith(".tmp")]


def test_sigint_keeps_the_old_file_and_exits_130(tmp_path):
    out = tmp_path / "a.descent"
    out.write_bytes(b"the previous session")
    proc, err = _start_run(*LONG_RUN, "--out", str(out))
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    text = b"".join(err).decode()
    assert "left as it was" in text and "--save-on-interrupt" in text and "Traceback" not in text, text
    assert out.read_bytes() == b"the previous session"
    assert _temp_files(tmp_path) == []


def test_sigint_with_save_on_interrupt_saves_the_stopped_run(tmp_path):
    out = tmp_path / "a.descent"
    out.write_bytes(b"the previous session")
    proc, err = _start_run(*LONG_RUN, "--save-on-interrupt", "--out", str(out))
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert "the stopped run was saved to" in b"".join(err).decode()
    from engine.session import load_session

    run = load_session(out).runs[0]
    assert run.state == "stopped" and 0 < run.final["epochs"] < 5000
    assert _temp_files(tmp_path) == []


def test_sigterm_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "a.descent"
    out.write_bytes(b"the previous session")
    proc, err = _start_run(*LONG_RUN, "--out", str(out))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert "Traceback" not in b"".join(err).decode()
    assert out.read_bytes() == b"the previous session"
    assert _temp_files(tmp_path) == []


@pytest.mark.parametrize("make_out", [lambda p: "", lambda p: str(p), lambda p: str(p / "missing" / "a.descent")])
def test_out_is_checked_before_training(tmp_path, make_out):
    r = descent("run", *LONG_RUN, "--out", make_out(tmp_path), timeout=60)
    _one_line_error(r, "--out")
    assert "training [" not in r.stderr  # refused before the (long) run started


def test_a_hostile_config_file_gives_one_line_naming_the_file(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 50_000 + "]" * 50_000)
    _one_line_error(descent("run", "--config", str(deep), "--out", str(tmp_path / "x.descent")), "deep.json", "nested")
    big = tmp_path / "big.json"
    big.write_text('{"seed": ' + "9" * 5000 + "}")
    _one_line_error(descent("run", "--config", str(big), "--out", str(tmp_path / "x.descent")), "big.json", "digits")


def test_info_summarizes_long_series_unless_full(tmp_path):
    import numpy as np

    from engine.config import ExperimentConfig
    from engine.session import RunRecord, Session, save_session

    long = np.linspace(1.0, 0.0, 150_001)
    rec = RunRecord("r", ExperimentConfig(), series={"step/loss": long, "epoch/val_acc": np.array([0.5, 0.75])})
    path = save_session(Session(runs=[rec]), tmp_path / "long.descent")
    run = json.loads(descent("info", str(path), "--json").stdout)["runs"][0]
    assert run["metrics"]["epoch/val_acc"] == [0.5, 0.75]
    assert run["metrics"]["step/loss"] == {
        "summarized": True, "length": 150_001, "first": 1.0, "last": 0.0, "min": 0.0, "max": 1.0
    }  # fmt: skip
    full = json.loads(descent("info", str(path), "--json", "--full").stdout)["runs"][0]
    assert len(full["metrics"]["step/loss"]) == 150_001


def test_sigterm_during_a_write_leaves_no_temp_file(tmp_path):
    """The CLI's SIGTERM handler unwinds the write (the default action would leave the file)."""
    target = tmp_path / "a.descent"
    code = (
        "import sys, time\n"
        "from desktop.cli import _sigterm_unwinds\n"
        "from engine.atomic import atomic_write\n"
        "with _sigterm_unwinds():\n"
        f"    with atomic_write({str(target)!r}) as f:\n"
        "        f.write(b'x' * 100000); f.flush(); print('writing', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"writing\n"
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    assert os.listdir(tmp_path) == []


def test_info_gives_one_line_for_a_feature_meta_of_the_wrong_type(tmp_path):
    import zipfile

    out = tmp_path / "a.descent"
    r = descent("run", "--set", "train.epochs=2", "--set", "data.n_samples=200", "--quiet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    for key in ("landscape", "metrics"):
        bad = tmp_path / f"bad_{key}.descent"
        with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as z:
            for name in src.namelist():
                data = src.read(name)
                if name == "runs/000/meta.json":
                    data = json.dumps({**json.loads(data), key: [1, 2]}).encode()
                z.writestr(name, data)
        _one_line_error(descent("info", str(bad)), str(bad))


def test_a_mistyped_command_is_named_with_the_one_meant(tmp_path, monkeypatch, capsys):
    from desktop.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["exprot", "x.descent", "--to", "out"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "descent: error: unknown command 'exprot'; did you mean 'export'?"
    assert main(["lr-fnd"]) == 2
    assert "did you mean 'lr-find'?" in capsys.readouterr().err
    # a real file of that name is a session to open: it is read (here: found not to be a session)
    (tmp_path / "exprot").write_bytes(b"not a session")
    assert main(["exprot"]) == 2
    err = capsys.readouterr().err
    assert "exprot" in err and "unknown command" not in err and len(err.strip().splitlines()) == 1
    # a missing file with a path-like name is reported as a missing file, not a typo
    assert main(["export.descent"]) == 2
    assert "unknown command" not in capsys.readouterr().err
