"""The network view's drawing is bounded: nothing is drawn while its tab is hidden or the
window minimised (the newest snapshot is drawn once when it shows), a burst of snapshots
is drawn at most once per pacing interval (the newest, the others dropped), and a
snapshot that changes nothing touches no neuron image and no connection."""

from __future__ import annotations

import dataclasses
import types

import pytest
from PySide6.QtWidgets import QTabWidget, QWidget

import desktop.views.base as view_base
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.network import NetworkSnapshot

TINY = {
    "device": "cpu",
    "train.threads": 1,
    "data.n_samples": 200,
    "model.hidden": [8],
    "train.epochs": 2,
    "network.resolution": 16,
    "probes.enabled": False,
    "metrics.enabled": False,
    "diagnostics.enabled": False,
    "landscape.snapshots": False,
    "landscape.sharpness_every": 0,
}


@pytest.fixture(scope="module")
def snapshot_and_config() -> tuple[NetworkSnapshot, ExperimentConfig]:
    cfg = ExperimentConfig().with_updates(TINY)
    got: list = []
    build_trainer(cfg, emit=got.append, run_id="r").run()
    return [e for e in got if isinstance(e, NetworkSnapshot)][-1], cfg


def _burst(snap: NetworkSnapshot, n: int) -> list[NetworkSnapshot]:
    """n snapshots of the run at steps 1..n (the newest last)."""
    return [dataclasses.replace(snap, step=k) for k in range(1, n + 1)]


def _tabs(qtbot, cfg):
    from desktop.controller import AppController
    from desktop.views.network_view import NetworkView

    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    other = QWidget()
    v = NetworkView(AppController(cfg))
    tabs.addTab(other, "Curves")
    tabs.addTab(v, "Network")
    tabs.resize(1200, 800)
    tabs.show()
    qtbot.waitExposed(tabs)
    v.run_id = "r"
    return tabs, v


def test_a_hidden_or_minimised_network_view_draws_nothing_and_the_newest_snapshot_when_shown(
    qtbot, snapshot_and_config, monkeypatch
):
    snap, cfg = snapshot_and_config
    tabs, v = _tabs(qtbot, cfg)
    for s in _burst(snap, 40):  # 40 bridge ticks with the Curves tab in front
        v.handle_events([s])
    assert v.diagram.frames_drawn == 0 and v.has_pending_redraw
    tabs.setCurrentWidget(v)  # shown: the newest snapshot, once
    assert v.diagram.frames_drawn == 1 and v.diagram.snap.step == 40
    assert not v.has_pending_redraw

    tabs.showMinimized()
    qtbot.waitUntil(lambda: tabs.isMinimized(), timeout=3000)
    later = types.SimpleNamespace(perf_counter=lambda: 1e9)  # long after: only the minimised window holds it back
    monkeypatch.setattr(view_base, "time", later)
    for s in _burst(snap, 45)[40:]:
        v.handle_events([s])
    assert v.diagram.frames_drawn == 1 and v.has_pending_redraw
    tabs.showNormal()
    qtbot.waitUntil(lambda: not tabs.isMinimized(), timeout=3000)
    v.handle_events([])  # the bridge's idle tick draws what is pending
    assert v.diagram.frames_drawn == 2 and v.diagram.snap.step == 45


def test_a_burst_of_snapshots_is_drawn_at_most_once_per_pacing_interval_newest_first(
    qtbot, snapshot_and_config, monkeypatch
):
    snap, cfg = snapshot_and_config
    tabs, v = _tabs(qtbot, cfg)
    tabs.setCurrentWidget(v)
    now = [1000.0]
    monkeypatch.setattr(view_base, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    monkeypatch.setattr(v, "DRAW_BUDGET", 0.0)  # the fixed pace alone (the budget: test_curves_pacing_gui)
    pace = v.MIN_REDRAW_S
    drawn_steps = []
    for s in _burst(snap, 60):  # 60 snapshots, one every 10 ms: 0.59 s of a fast run
        before = v.diagram.frames_drawn
        v.handle_events([s])
        if v.diagram.frames_drawn > before:
            drawn_steps.append(v.diagram.snap.step)
        now[0] += 0.01
    span = 0.59
    assert 1 <= len(drawn_steps) <= int(span / pace) + 1  # ≤ 1 draw per pacing interval
    assert drawn_steps[0] == 1 and all(b - a >= round(pace / 0.01) for a, b in zip(drawn_steps, drawn_steps[1:]))
    # the last of the burst is drawn by the next idle tick after the interval, not queued ones
    now[0] += pace
    v.handle_events([])
    assert v.diagram.snap.step == 60 and not v.has_pending_redraw
    assert v.diagram.frames_drawn == len(drawn_steps) + 1


def test_a_snapshot_that_changes_nothing_touches_no_neuron_image_and_no_connection(qtbot, snapshot_and_config):
    snap, cfg = snapshot_and_config
    tabs, v = _tabs(qtbot, cfg)
    tabs.setCurrentWidget(v)
    v.show_snapshot(snap)
    d = v.diagram
    images = [slot.image.image for col in d.columns for slot in col.slots]
    assert all(img is not None for img in images) and len(images) == 2 + 8 + 3
    paths = [list(col.edges.paths) for col in d.columns[1:]]
    v.show_snapshot(dataclasses.replace(snap, step=snap.step + 1))  # same pictures, same weights
    same = [slot.image.image for col in d.columns for slot in col.slots]
    assert all(a is b for a, b in zip(same, images))  # the very same arrays: no image re-set
    assert all(a is b for col, old in zip(d.columns[1:], paths) for a, b in zip(col.edges.paths, old))  # not rebuilt
    # one hidden unit's picture changes: its image alone is replaced
    layer = snap.layers[1]
    pictures = layer.pictures.copy()
    pictures[3] = -pictures[3]
    changed = dataclasses.replace(
        snap, layers=(snap.layers[0], dataclasses.replace(layer, pictures=pictures), *snap.layers[2:])
    )
    v.show_snapshot(changed)
    now = [slot.image.image for col in d.columns for slot in col.slots]
    replaced = [i for i, (a, b) in enumerate(zip(now, images)) if a is not b]
    assert replaced == [2 + 3]
