"""Does the GUI slow training? Steps/s of the default experiment headless vs with the
main window open at full speed on one view (drawing live), in one process: headless,
window on Curves, headless, window on Network, headless (each window run compared with the
mean of the headless runs either side of it). Needs a display (run under `xvfb-run -a`).

Prints one JSON line: the ratio per view in front (`ratio_curves`, `ratio_network`; `ratio`
is the lower), and per view in front the GUI thread's milliseconds per second of training:
`gui_thread_cpu_ms_per_s` (CPU time of the GUI thread, the figure least moved by other load
on the machine) and `cpu_ms_per_s`, its busiest parts: each view handling events and painting,
the controller, and the rest; `redraw_interval_s`: the view in front's least time between two
redraws at the end (its drawing budget at full speed, desktop/views/base.py).

usage: [BENCH_TABS=Curves,Network] xvfb-run -a python tests/benchmarks/bench_gui_training.py [SECONDS]"""

from __future__ import annotations

import json
import os
import sys
import time

from engine.config import ExperimentConfig
from engine.experiment import build_trainer

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0
TABS = [t for t in os.environ.get("BENCH_TABS", "Curves,Network").split(",") if t]


def headless(cfg: ExperimentConfig) -> float:
    t = build_trainer(cfg)
    t.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < SECONDS:
        t.train_step()
    return t.step / (time.perf_counter() - t0)


class GuiClock:
    """CPU time of the GUI thread (time.thread_time: what other load on the machine moves
    least) per main-window view, handling events and painting its pyqtgraph widgets, and
    the controller's share of the bridge ticks."""

    def __init__(self) -> None:
        import pyqtgraph as pg

        from desktop.views.base import View

        self.ms: dict[str, float] = {}
        self.on = False
        owners: dict[int, str] = {}
        original = pg.GraphicsView.paintEvent
        clock = self

        def owner(widget) -> str:
            key = id(widget)
            if key not in owners:
                w = widget
                while w is not None and not isinstance(w, View):
                    w = w.parentWidget()
                owners[key] = type(w).__name__ if w is not None else "other plots"
            return owners[key]

        def paintEvent(view, ev):
            t = time.thread_time()
            result = original(view, ev)
            clock.add(owner(view), t)
            return result

        pg.GraphicsView.paintEvent = paintEvent

    def add(self, name: str, since: float) -> None:
        if self.on:
            self.ms[name] = self.ms.get(name, 0.0) + (time.thread_time() - since) * 1000

    def watch(self, window) -> None:
        """Time each view's handle_events and the controller's processing of a window."""
        for v in window.views:
            v.handle_events = self._timed(type(v).__name__, v.handle_events)
        c = window.bridge.controller
        c.process = self._timed("controller", c.process)

    def _timed(self, name: str, fn):
        def timed(*args, **kwargs):
            t = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, t)

        return timed


def with_gui(cfg: ExperimentConfig, tab: str, clock: GuiClock) -> tuple[float, dict]:
    import tempfile

    from PySide6.QtCore import QSettings, QTimer

    from desktop.app import _make_app
    from desktop.controller import AppController
    from desktop.main_window import MainWindow

    app = _make_app()
    c = AppController(cfg)
    # throw-away settings at full speed ("as fast as possible"), not the user's saved pace
    settings = QSettings(str(os.path.join(tempfile.mkdtemp(prefix="descent-bench-"), "s.ini")), QSettings.IniFormat)
    settings.setValue("run/max_steps_per_s", 0.0)
    w = MainWindow(c, settings=settings)
    w.resize(1600, 1000)
    clock.watch(w)
    w.show()
    w.show_tab(tab)
    c.start()
    marks: dict = {}

    def begin() -> None:  # measure after the run is built and drawing has started
        t = c.worker.trainer if c.worker is not None else None
        if t is None or t.step == 0:
            QTimer.singleShot(200, begin)
            return
        clock.ms.clear()
        clock.on = True
        marks["max_tick_before"], w.bridge.max_tick_ms = w.bridge.max_tick_ms, 0.0  # the window's build apart
        marks["t0"], marks["s0"], marks["cpu0"] = time.perf_counter(), t.step, time.thread_time()
        QTimer.singleShot(int(SECONDS * 1000), end)

    def end() -> None:
        marks["t1"], marks["s1"], marks["cpu1"] = time.perf_counter(), c.worker.trainer.step, time.thread_time()
        clock.on = False
        app.quit()

    QTimer.singleShot(1500, begin)
    app.exec()
    c.shutdown()
    elapsed = marks["t1"] - marks["t0"]
    rate = (marks["s1"] - marks["s0"]) / elapsed
    cpu_ms = (marks["cpu1"] - marks["cpu0"]) * 1000
    per_view = {name: ms / elapsed for name, ms in clock.ms.items()}
    per_view["rest (event loop, widgets, status bar)"] = (cpu_ms - sum(clock.ms.values())) / elapsed
    busiest = sorted(per_view.items(), key=lambda kv: -kv[1])[:7]
    front = w.tabs.currentWidget()
    w.close()
    w.deleteLater()
    return rate, {
        "gui_thread_cpu_ms_per_s": round(cpu_ms / elapsed, 1),
        "cpu_ms_per_s": {k: round(v, 1) for k, v in busiest},
        "max_bridge_tick_ms": round(w.bridge.max_tick_ms, 1),  # within the measured seconds
        "max_bridge_tick_ms_before": round(marks["max_tick_before"], 1),  # the first draws (views built)
        "redraw_interval_s": round(front.redraw_interval(), 3),  # the view in front's, at the end
    }


def main() -> None:
    cfg = ExperimentConfig().with_updates({"train.epochs": 100_000, "device": "cpu"})
    clock = GuiClock()
    out: dict = {"benchmark": "gui_vs_headless_training", "experiment": "default (spiral MLP 32-32), 1600x1000"}
    before = headless(cfg)
    headless_rates = [before]
    ratios = {}
    for tab in TABS:
        g, extra = with_gui(cfg, tab, clock)
        after = headless(cfg)
        headless_rates.append(after)
        key = tab.lower()
        ratios[key] = g / ((before + after) / 2)
        out[f"ratio_{key}"] = round(ratios[key], 3)
        out[f"gui_steps_per_s_{key}"] = round(g, 1)
        out[key] = extra
        before = after
    out["ratio"] = round(min(ratios.values()), 3)
    out["headless_steps_per_s"] = [round(h, 1) for h in headless_rates]
    out["load_avg_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
