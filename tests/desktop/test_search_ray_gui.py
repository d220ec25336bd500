"""The Search tab on a Ray cluster: the address typed in the tab, the trials run there as Ray
Tune trials and stream into the same table, plots and session; a refine round runs on the
same warm connection; a dead address is refused in seconds with the window responsive."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.config import ExperimentConfig
from engine.states import RunState

pytestmark = pytest.mark.gui
ray = pytest.importorskip("ray", reason="the cluster extra (ray[tune]) is not installed")
ROOT = Path(__file__).resolve().parents[2]
CONFIG = ExperimentConfig().with_updates(
    {"data.name": "moons", "data.n_samples": 200, "model.hidden": [8], "train.epochs": 2, "optim.name": "sgd"}
)


def _search_view(window):
    assert window.show_tab("Search")
    return next(v for v in window.views if v.title == "Search")


def test_a_dead_cluster_address_is_refused_in_seconds_off_the_gui_thread(open_main_window, qtbot, monkeypatch) -> None:
    import threading

    from PySide6.QtCore import QTimer

    from engine.tuning import ray_backend

    probed_in: list[threading.Thread] = []
    real_probe = ray_backend.probe_address

    def slow_probe(address: str) -> None:  # a probe that waits, like one to a host that drops packets
        probed_in.append(threading.current_thread())
        time.sleep(0.6)
        real_probe(address)

    monkeypatch.setattr(ray_backend, "probe_address", slow_probe)
    view = _search_view(open_main_window(CONFIG, size=(1700, 950)))
    view.ray_edit.setText("127.0.0.1:9")  # the discard port: nothing listens
    assert not view.jobs_spin.isEnabled()  # a cluster runs trials on all its CPUs
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    t0 = time.perf_counter()
    view.start_button.click()
    qtbot.waitUntil(lambda: not view.searching, timeout=10_000)
    timer.stop()
    assert time.perf_counter() - t0 < 8
    assert "no Ray cluster answers" in view.status.text() and "ray start --head" in view.status.text()
    assert probed_in and probed_in[0] is not threading.main_thread()
    assert len(ticks) >= 10 and max(b - a for a, b in zip(ticks, ticks[1:])) < 0.3  # the window kept going
    assert not ray.is_initialized() and view.start_button.isEnabled()
    view.ray_edit.clear()
    assert view.jobs_spin.isEnabled()


def test_search_tab_runs_its_rounds_on_a_ray_cluster(open_main_window, qtbot, monkeypatch, screenshot_dir) -> None:
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication
    from ray.cluster_utils import Cluster

    from engine.tuning.ray_backend import disconnect, session_info

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "object_store_memory": 80 * 1024**2, "include_dashboard": False},
    )
    try:
        cluster.wait_for_nodes()
        view = _search_view(open_main_window(CONFIG, size=(1700, 950)))
        view.space_edit.setText("optim.lr=log:1e-2:1")
        view.trials.setValue(4)
        view.ray_edit.setText(cluster.address)
        view.start_button.click()
        assert view.searching and "on the Ray cluster at " in view.status.text()
        qtbot.waitUntil(lambda: not view.searching, timeout=180_000)
        snap = view.snapshot
        assert snap.state == RunState.FINISHED and len(snap.complete) == 4, view.status.text()
        assert snap.storage.startswith("ray ") and view.table.rowCount() == 4
        assert all(t.worker and "node " in t.worker for t in snap.complete)  # trained on the cluster
        assert len(view.picture.scatter.data) == 4
        last = view.table.columnCount() - 1
        assert view.table.horizontalHeaderItem(last).text() == "time (s)"
        times = [view.table.item(r, last).text() for r in range(4)]
        assert all(float(t) > 0 for t in times), times  # a few ms each on a warm host: not "0.0"
        window = view.window()
        view.redraw()
        window.grab()  # painting widens the axes to their new tick labels; the next paint shows them so
        QApplication.sendPostedEvents(None, QEvent.LayoutRequest)
        window.grab().save(str(screenshot_dir / "search_ray_cluster.png"))
        first = session_info()
        # coarse to fine on the same connection: the same shared Tune run, warm
        view.top_k.setValue(2)
        view.trials.setValue(3)
        view.refine_best.click()
        qtbot.waitUntil(lambda: not view.searching and len(view.snapshot.rounds) == 2, timeout=180_000)
        snap = view.snapshot
        assert snap.state == RunState.FINISHED and len(snap.trials) == 7 and len(snap.complete) == 7
        assert session_info()["key"] == first["key"]
    finally:
        disconnect()
        cluster.shutdown()
