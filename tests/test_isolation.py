"""engine/ never imports Qt; the engine's tests import no Qt; the headless path loads no Qt module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "OpenGL", "desktop")


def gui_imports(*paths: Path) -> list[str]:
    """Every import of a GUI module (or of desktop) in these files and the .py files under these folders."""
    offenders = []
    files = [f for p in paths for f in (p.rglob("*.py") if p.is_dir() else [p])]
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names = [str(node.args[0].value)]
            for n in names:
                if n.split(".")[0] in FORBIDDEN:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {n}")
    return offenders


def test_no_gui_imports_under_engine():
    offenders = gui_imports(ROOT / "engine")
    assert not offenders, "\n".join(offenders)


def test_engine_tests_import_no_gui():
    """tests/engine/ runs without Qt: its tests and conftests import neither Qt nor desktop."""
    offenders = gui_imports(ROOT / "tests" / "engine", ROOT / "tests" / "conftest.py")
    assert not offenders, "\n".join(offenders)
    assert len(list((ROOT / "tests" / "engine").rglob("test_*.py"))) >= 20


def test_headless_run_loads_no_qt(tmp_path):
    code = (
        "import sys, desktop.cli as c;"
        "rc = c.main(['run', '--set', 'train.epochs=1', '--set', 'data.n_samples=100', '--quiet',"
        f" '--out', r'{tmp_path / 'a.descent'}']);"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'OpenGL')];"
        "print('QT', bad); sys.exit(rc or (3 if bad else 0))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "QT []" in r.stdout
