"""The window paints before the engine loads: at the main window's first paint the process
has imported no torch, scikit-learn, scipy, numba, optuna or OpenGL, and nothing has built a
run; the status bar says "starting engine…". Then the engine loads torch on its own thread
(never the GUI thread), the run is built (paused), and the Lessons dock arrives.

Asserted on sys.modules in a fresh process running the real entry point, not on time
(tests/benchmarks/bench_startup.py measures the time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"torch", "sklearn", "scipy", "numba", "optuna", "OpenGL", "matplotlib"}
ENGINE_BUILDERS = {"engine.experiment", "engine.train.trainer", "engine.data.datasets", "engine.lessons.metrics"}

# The real `descent --paused` with an application-wide event filter: at the first paint of
# anything in the main window it records what is imported, then waits for the run to be built.
PROBE = """
import json, os, sys, threading
import desktop.app as app_module

first_import = {}

class Spy:  # which thread imports torch first
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and not first_import:
            first_import["thread"] = threading.current_thread().name
        return None

sys.meta_path.insert(0, Spy())

make_app = app_module._make_app
report = {}

def make_and_watch():
    app = make_app()
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QMainWindow, QWidget
    from engine.states import RunState

    class Watch(QObject):
        seen = False

        def eventFilter(self, obj, event):
            if (not self.seen and event.type() == QEvent.Paint and isinstance(obj, QWidget)
                    and isinstance(obj.window(), QMainWindow)):
                self.seen = True
                win = obj.window()
                report["modules"] = sorted(sys.modules)
                report["status"] = win.statusBar().currentMessage()
                report["worker"] = win.controller.worker is not None
                report["lessons"] = win.lessons_dock is not None
                report["tabs"] = win.tabs.count()

                def poll():
                    c = win.controller
                    if c.state not in (RunState.IDLE, RunState.BUILDING) and win.lessons_dock is not None:
                        report["state"] = str(c.state)
                        report["torch_after"] = "torch" in sys.modules
                        report["has_trainer"] = c.worker is not None and c.worker.trainer is not None
                        report["help_menus"] = [a.text() for a in win.menuBar().actions()].count("&Help")
                        report["lessons_in_help"] = "Lessons" in [a.text() for a in win.help_menu.menu.actions()]
                        report["lessons_visible"] = win.lessons_dock.isVisible()
                        report["torch_thread"] = first_import.get("thread")
                        print("REPORT " + json.dumps(report), flush=True)
                        os._exit(0)
                    QTimer.singleShot(50, poll)

                QTimer.singleShot(0, poll)
            return False

    app._watch = Watch()
    app.installEventFilter(app._watch)
    return app

app_module._make_app = make_and_watch
from desktop.cli import main
sys.exit(main(["--paused", "--set", "device=cpu"]))
"""


def test_first_paint_imports_no_engine_then_the_run_is_built(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # default layout, not the user's saved one
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env.setdefault("OMP_NUM_THREADS", "1")
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, env=env, timeout=180)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("REPORT ")]
    assert lines, f"no report (rc {r.returncode}): {r.stderr[-600:]}"
    rep = json.loads(lines[-1][len("REPORT ") :])
    loaded = set(rep.pop("modules"))
    top = {m.split(".")[0] for m in loaded}
    assert not top & HEAVY, sorted(top & HEAVY)
    assert not loaded & ENGINE_BUILDERS, sorted(loaded & ENGINE_BUILDERS)
    assert rep["tabs"] >= 8, rep  # the whole window: every tab group is there at the first paint
    assert rep["status"] == "starting engine…", rep
    assert not rep["worker"] and not rep["lessons"], rep  # both come after the paint
    # ... and then the engine loads and builds the run, held at step 0
    assert rep["state"] == "paused" and rep["has_trainer"] and rep["torch_after"], rep
    assert rep["help_menus"] == 1 and rep["lessons_in_help"], rep  # the dock joins the one Help menu
    assert rep["lessons_visible"], rep  # open beside the window, as on a first start
    assert rep["torch_thread"] not in (None, "MainThread"), rep  # torch loads off the GUI thread
