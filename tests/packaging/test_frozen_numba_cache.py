"""The bundle's entry point (packaging/descent_entry.py) sends numba's on-disk cache to
Descent's own cache folder: run as a frozen app would run it (sys.frozen set), a cached kernel
compiled afterwards lands in $XDG_CACHE_HOME/Descent/numba, not numba's user-wide folder.
numba honours the folder only for functions whose source file exists, which is why the
PyInstaller spec ships the kernel modules as .py files (checked here too)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import runpy, sys
sys.frozen = True  # what PyInstaller's bootloader sets
sys.argv = ["descent", "--version"]
try:
    runpy.run_path(ENTRY, run_name="__main__")
except SystemExit as e:
    assert e.code == 0, e.code
sys.path.insert(0, KERNEL_DIR)
import jitted
print(jitted.inc(41))
"""


def test_frozen_entry_caches_numba_kernels_in_descents_folder(tmp_path):
    pytest.importorskip("numba")
    pytest.importorskip("platformdirs")
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "jitted.py").write_text(
        "from engine.compiled import jit\n\n\n@jit()\ndef inc(x):\n    return x + 1\n"
    )
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(XDG_CACHE_HOME=str(cache), PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    script = SCRIPT.replace("ENTRY", repr(str(ROOT / "packaging" / "descent_entry.py"))).replace(
        "KERNEL_DIR", repr(str(tmp_path / "kernels"))
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split()[-1] == "42"
    ours = list((cache / "Descent" / "numba").rglob("*.nbi"))
    assert ours, f"no numba cache in Descent's folder; cache holds {sorted(str(p) for p in cache.rglob('*'))}"
    assert not (cache / "numba").exists(), "numba's user-wide cache folder was used"


def test_bundle_ships_the_kernel_modules_as_source():
    spec = (ROOT / "packaging" / "descent.spec").read_text()
    kernels = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "engine").rglob("*.py")
        if "from engine.compiled import" in p.read_text()
    )
    assert "engine.probes.kernels" in kernels and "engine.train.kernels" in kernels
    for name in kernels:
        assert f'"{name}": "py"' in spec, f"{name} is not shipped as a .py file: numba would not cache it"
