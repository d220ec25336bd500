"""Start-up times, as a user waits for them: wall time of fresh processes, median of N.

- `help`: `descent --help` until it exits (target ≤ 0.5 s);
- `info`: `descent info FILE --json` on a session file until it exits (target ≤ 0.5 s);
- `window_first_paint`: `descent --paused` (the real entry point, default experiment) until
  the main window has painted its first frame (target ≤ 2 s). Needs a display (run under
  `xvfb-run -a`); the process is ended once the frame is drawn.
- `python`: a bare `python -c pass`, the floor the others include.

Times are measured from the parent (process creation to exit, or to the child's line
saying it painted). Prints one JSON line with the medians, every sample and the load average.

The children may write bytecode (PYTHONDONTWRITEBYTECODE is dropped from their environment)
and one untimed round runs first: an installed or once-started Descent has its .pyc files,
and compiling about 125 of its modules from source (0.16 s) is not what a user waits for.

usage: xvfb-run -a python tests/benchmarks/bench_startup.py [RUNS] [SESSION_FILE]"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
SESSION = sys.argv[2] if len(sys.argv) > 2 else str(ROOT / "tests" / "fixtures" / "format2_main.descent")

# The child runs the real `descent` entry point; an application-wide event filter prints one
# line at the main window's first paint (after the frame it belongs to) and ends the process.
FIRST_PAINT = """
import os, sys
import desktop.app as app_module
make_app = app_module._make_app

def make_and_watch():
    app = make_app()
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QMainWindow, QWidget

    class FirstPaint(QObject):
        seen = False

        def eventFilter(self, obj, event):
            if (not self.seen and event.type() == QEvent.Paint and isinstance(obj, QWidget)
                    and isinstance(obj.window(), QMainWindow)):
                self.seen = True
                def done():
                    print("painted", flush=True)
                    os._exit(0)
                QTimer.singleShot(0, done)
            return False

    app._first_paint = FirstPaint()
    app.installEventFilter(app._first_paint)
    return app

app_module._make_app = make_and_watch
from desktop.cli import main
sys.exit(main(["--paused", "--set", "device=cpu"]))
"""


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.setdefault("OMP_NUM_THREADS", "1")
    e.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: the modules' .pyc are written once, then read
    return e


def until_exit(args: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env(), timeout=120)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"bench_startup: {' '.join(args[-3:])} failed ({r.returncode}): {r.stderr.strip()[-300:]}")
    return dt


def until_painted() -> float:
    t0 = time.perf_counter()
    args = [sys.executable, "-c", FIRST_PAINT]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env())
    assert p.stdout is not None
    line = p.stdout.readline()
    dt = time.perf_counter() - t0
    p.wait(timeout=60)
    if line.strip() != "painted":
        raise SystemExit(f"bench_startup: the window did not paint: {p.stderr.read()[-300:] if p.stderr else ''}")
    return dt


def main() -> None:
    py = sys.executable
    cases = {
        "python": lambda: until_exit([py, "-c", "pass"]),
        "help": lambda: until_exit([py, "-m", "desktop.cli", "--help"]),
        "info": lambda: until_exit([py, "-m", "desktop.cli", "info", SESSION, "--json"]),
    }
    if os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM"):
        cases["window_first_paint"] = until_painted
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for fn in cases.values():  # untimed: writes the .pyc files a started or installed Descent has
        fn()
    for _ in range(RUNS):  # interleaved, so a load change hits every case alike
        for name, fn in cases.items():
            samples[name].append(fn())
    out = {
        "runs": RUNS,
        **{f"{k}_s": round(statistics.median(v), 3) for k, v in samples.items()},
        "targets_s": {"help": 0.5, "info": 0.5, "window_first_paint": 2.0},
        "samples": {k: [round(x, 3) for x in v] for k, v in samples.items()},
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
