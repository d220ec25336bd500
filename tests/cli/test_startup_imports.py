"""Start-up stays short: `descent --help` loads no engine, and reading a session for
`descent info` loads no torch or scikit-learn (asserted on sys.modules in a fresh process,
not on time; tests/benchmarks/bench_startup.py measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "sklearn", "scipy", "PySide6", "pyqtgraph")

# Runs the real entry point in-process and reports, on stderr, what it imported.
PROBE = """
import contextlib, io, json, sys
from desktop.cli import main
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        rc = main(sys.argv[1:])
except SystemExit as e:
    rc = e.code
print(json.dumps({"rc": rc, "out": out.getvalue(), "modules": sorted(m.split(".")[0] for m in sys.modules)}))
"""


def _run(*args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_help_imports_no_engine_and_no_heavy_library():
    r = _run("--help")
    assert r["rc"] == 0 and "usage: descent" in r["out"]
    loaded = set(r["modules"])
    assert not loaded & {*HEAVY, "pydantic", "numpy", "engine"}, sorted(
        loaded & {*HEAVY, "pydantic", "numpy", "engine"}
    )


def test_info_reads_a_session_with_every_section_without_torch_or_sklearn(tmp_path):
    session = tmp_path / "s.descent"
    from desktop.cli import main  # in this process, where torch is loaded already: a short real run

    sets = ["train.epochs=2", "data.n_samples=120", "model.hidden=8", "probes.every=2", "landscape.snapshot_every=2"]
    assert main(["run", "--quiet", "--out", str(session), *(a for kv in sets for a in ("--set", kv))]) == 0
    r = _run("info", str(session), "--json")
    assert r["rc"] == 0
    info = json.loads(r["out"])
    run = info["runs"][0]
    assert run["probes"] and run["classification"] and run["landscape"]["snapshots"] > 0  # the sections read
    assert not set(r["modules"]) & set(HEAVY), sorted(set(r["modules"]) & set(HEAVY))
