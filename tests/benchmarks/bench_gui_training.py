"""Does the GUI slow training? Steps/s of the default experiment headless vs with the
main window open on one view (drawing live), in one process. Needs a display (run under
`xvfb-run -a`). Prints JSON, with the views that spent most time handling events.

usage: [BENCH_TAB=Curves] xvfb-run -a python tests/benchmarks/bench_gui_training.py [SECONDS]"""

from __future__ import annotations

import json
import os
import sys
import time

from engine.config import ExperimentConfig
from engine.experiment import build_trainer

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0


def headless(cfg: ExperimentConfig) -> float:
    t = build_trainer(cfg)
    t.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < SECONDS:
        t.train_step()
    return t.step / (time.perf_counter() - t0)


def with_gui(cfg: ExperimentConfig) -> tuple[float, dict]:
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
    w.show()
    w.show_tab(os.environ.get("BENCH_TAB", "Training"))
    c.start()
    marks: dict = {}

    def begin() -> None:  # measure after the run is built and drawing has started
        t = c.worker.trainer if c.worker is not None else None
        if t is None or t.step == 0:
            QTimer.singleShot(200, begin)
            return
        marks["t0"], marks["s0"] = time.perf_counter(), t.step
        QTimer.singleShot(int(SECONDS * 1000), end)

    def end() -> None:
        marks["t1"], marks["s1"] = time.perf_counter(), c.worker.trainer.step
        app.quit()

    QTimer.singleShot(1500, begin)
    app.exec()
    c.shutdown()
    rate = (marks["s1"] - marks["s0"]) / (marks["t1"] - marks["t0"])
    busiest = sorted(w.bridge.view_ms.items(), key=lambda kv: -kv[1])[:5]
    return rate, {
        "bridge_ticks": w.bridge.ticks,
        "max_bridge_tick_ms": round(w.bridge.max_tick_ms, 1),
        "busiest_views_ms": {k: round(v, 1) for k, v in busiest},
    }


def main() -> None:
    cfg = ExperimentConfig().with_updates({"train.epochs": 100_000, "device": "cpu"})
    h1 = headless(cfg)
    g, extra = with_gui(cfg)
    h2 = headless(cfg)
    h = (h1 + h2) / 2
    print(
        json.dumps(
            {
                "benchmark": "gui_vs_headless_training",
                "experiment": "default (spiral MLP 32-32)",
                "headless_steps_per_s": round(h, 1),
                "gui_steps_per_s": round(g, 1),
                "ratio": round(g / h, 3),
                **extra,
                "load_avg_1min": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
