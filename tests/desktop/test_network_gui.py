"""The network view: every neuron's picture live in the main window (2D data, features
toggled, data regenerated), image data (first-layer filters, a CNN), wide layers."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage

from desktop.views.network_graph import COL
from engine.boundary.snapshot import BoundaryPoints
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.network import NetworkSnapshot

FAST = {
    "device": "cpu",
    "train.threads": 1,
    "probes.enabled": False,
    "metrics.enabled": False,
    "diagnostics.enabled": False,
    "landscape.snapshots": False,
    "landscape.sharpness_every": 0,
}


def _pixels(widget) -> np.ndarray:
    img = widget.grab().toImage().convertToFormat(QImage.Format_RGB32)
    a = np.frombuffer(bytes(img.constBits()), dtype=np.uint8).reshape(img.height(), img.width(), 4)
    return a[:, :, :3]


def _save(widget, screenshot_dir, name: str) -> np.ndarray:
    widget.grab().save(str(screenshot_dir / name))
    return _pixels(widget)


def _neuron_pixels(img: np.ndarray, view, layer: int, unit_slot: int) -> np.ndarray:
    """The pixels of one drawn neuron (its slot's rectangle) in a grab `img` of the diagram."""
    d = view.diagram
    rect = d.columns[layer].slots[unit_slot].frame.rect()
    tl = d.mapFromScene(d.graph.mapViewToScene(rect.topLeft()))
    br = d.mapFromScene(d.graph.mapViewToScene(rect.bottomRight()))
    y0, y1 = sorted((tl.y(), br.y()))
    x0, x1 = sorted((tl.x(), br.x()))
    return img[y0 + 2 : y1 - 1, x0 + 2 : x1 - 1]


def test_spiral_with_features_learns_live_in_the_first_view_and_toggles_and_regenerates(
    open_main_window, qtbot, screenshot_dir
):
    from desktop.views.network_view import NetworkView

    cfg = ExperimentConfig().with_updates(
        {
            **FAST,
            "data.name": "spiral",
            "data.n_samples": 400,
            "data.features": "x1,x2,x1_sq,x2_sq,x1x2,sin_x1,sin_x2",
            "model.hidden": [8, 8],
            "model.activation": "tanh",
            "train.epochs": 400,
            "optim.lr": 0.02,
        }
    )
    w = open_main_window(cfg, size=(1600, 1000))
    v = next(x for x in w.views if isinstance(x, NetworkView))
    assert w.tabs.currentWidget() is v  # the first view
    c = w.controller
    c.start()
    qtbot.waitUntil(lambda: v.diagram.frames_drawn >= 2 and v.diagram.snap.step > 40, timeout=60000)
    d = v.diagram
    snap = d.snap
    assert [layer.units for layer in snap.layers] == [7, 8, 8, 3]
    assert [s.label.toPlainText() for s in d.columns[0].slots] == ["x₁", "x₂", "x₁²", "x₂²", "x₁x₂", "sin x₁", "sin x₂"]
    assert len(d.point_items) == 6 and d.points is not None and d.points.x_train.shape == (320, 2)
    # every hidden neuron's picture on screen has structure (not blank, not one flat colour)
    img = _pixels(d)
    for layer in (1, 2):
        for j in range(8):
            px = _neuron_pixels(img, v, layer, j)
            assert px.shape[0] >= 24 and px.shape[1] >= 24, px.shape  # at a true 1600 px beside both docks
    stds = [_neuron_pixels(img, v, 1, j).reshape(-1, 3).std(0).max() for j in range(8)]
    assert np.median(stds) > 10, stds
    # hover a neuron and an edge, click a neuron to enlarge it
    x, y = 1 * COL, d.slot_y(2, 8)
    assert d.hover(x, y).startswith("hidden 1 · unit 3: output in [")
    edge = d.edge_at(*_edge_midpoint(d, 2, 0, 0))
    assert edge is not None and edge[:3] == (2, 0, 0) and np.isclose(edge[3], snap.layers[2].weights[0, 0], atol=1e-6)
    assert "weight hidden 1 · unit 1 → hidden 2 · unit 1" in d.hover(*_edge_midpoint(d, 2, 0, 0))
    scene = d.graph.mapViewToScene(QPointF(x, y))
    qtbot.mouseClick(d.viewport(), Qt.MouseButton.LeftButton, pos=d.mapFromScene(scene))
    qtbot.waitUntil(lambda: d.selected == (1, 2), timeout=5000)
    assert d.detail_image.image is not None and d.detail_image.image.shape[:2] == (64, 64)
    px = _save(w, screenshot_dir, "network_spiral_features_1600x1000.png")
    assert px.std() > 20

    # a feature toggled in the view restarts the run with the new inputs
    first_run = c.run_id
    v.feature_boxes["sin_x2"].click()
    assert c.config.data.features == ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1"]
    qtbot.waitUntil(lambda: c.run_id != first_run and v.diagram.snap.run_id == c.run_id, timeout=30000)
    assert v.diagram.snap.layers[0].units == 6
    # regenerate: a new sample, the same init
    old_points = v.diagram.points.x_train.copy()
    second = c.run_id
    v.regenerate.click()
    assert c.config.data.seed == 1 and c.config.seed == 0
    qtbot.waitUntil(
        lambda: c.run_id != second and v.diagram.points is not None and v.diagram.points.run_id == c.run_id,
        timeout=30000,
    )
    assert not np.allclose(v.diagram.points.x_train, old_points)
    c.stop()


def _edge_midpoint(d, i: int, j_to: int, j_from: int) -> tuple[float, float]:
    na, nb = len(d.columns[i - 1].slots), len(d.columns[i].slots)
    x0, y0 = (i - 1) * COL + 0.5, d.slot_y(j_from, na)
    x1, y1 = i * COL - 0.5, d.slot_y(j_to, nb)
    return (x0 + x1) / 2, (y0 + y1) / 2


def _snapshot(cfg: ExperimentConfig, trainers: list | None = None) -> tuple[NetworkSnapshot, BoundaryPoints | None]:
    got: list = []
    t = build_trainer(cfg, emit=got.append)
    t.run()
    if trainers is not None:
        trainers.append(t)
    snaps = [e for e in got if isinstance(e, NetworkSnapshot)]
    points = next((e for e in got if isinstance(e, BoundaryPoints)), None)
    return snaps[-1], points


def _view(qtbot, cfg, snap, points, w=1600, h=1000):
    from desktop.controller import AppController
    from desktop.views.network_view import NetworkView

    v = NetworkView(AppController(cfg))
    qtbot.addWidget(v)
    v.resize(w, h)
    v.show()
    qtbot.waitExposed(v)
    v.run_id = snap.run_id
    v.diagram.set_points(points)
    v.show_snapshot(snap)
    return v


def test_xor_with_x1x2_and_no_hidden_layer_draws_its_one_linear_unit(qtbot, screenshot_dir):
    cfg = ExperimentConfig().with_updates(
        {**FAST, "data.name": "xor", "data.n_samples": 400, "data.features": "x1x2", "model.hidden": []}
    )
    cfg = cfg.with_updates({"train.epochs": 20, "optim.lr": 0.1})
    trainers: list = []
    snap, points = _snapshot(cfg, trainers)
    v = _view(qtbot, cfg, snap, points)
    assert [b.isChecked() for b in v.feature_boxes.values()] == [False] * 4 + [True] + [False] * 2
    assert [c.units for c in v.diagram.columns] == [1, 2]
    edges = v.diagram.columns[1].edges
    assert edges.segments == 2  # two connections
    assert sum(path.elementCount() for path in edges.paths if path is not None) == 4  # two ends each
    px = _save(v, screenshot_dir, "network_xor_x1x2_linear.png")
    assert px.std() > 20
    # a saved run opens in the view: its last snapshot, and its points rebuilt from its config
    from engine.session import Session, record_of

    saved = _view(qtbot, cfg, snap, None)
    saved.load_session(Session(runs=[record_of(trainers[0], "saved")]))
    assert saved.diagram.snap == NetworkSnapshot(
        "saved", *[getattr(snap, f) for f in ("step", "epoch", "kind", "activation", "extent", "class_names", "layers")]
    )
    assert saved.diagram.points is not None and np.array_equal(saved.diagram.points.x_train, points.x_train)


def test_digits_show_first_layer_filters_and_a_cnn_its_conv_filters_and_wide_layers_scroll(qtbot, screenshot_dir):
    base = {**FAST, "data.name": "digits", "train.epochs": 3}
    mlp = ExperimentConfig().with_updates({**base, "model.hidden": [64, 16]})
    snap, _ = _snapshot(mlp)
    v = _view(qtbot, mlp, snap, None)
    assert not any(b.isEnabled() for b in v.feature_boxes.values()) and not v.regenerate.isEnabled()
    d = v.diagram
    assert d.columns[1].units == 64 and len(d.columns[1].slots) == 10
    assert d.columns[1].more.toPlainText().startswith("+54 more ▼")
    px = _neuron_pixels(_pixels(d), v, 1, 0)
    assert px.reshape(-1, 3).std(0).max() > 15  # an 8×8 weight image, not a flat square
    _save(v, screenshot_dir, "network_digits_mlp.png")
    assert d.scroll_layer_at(COL, 5) and d.columns[1].shown()[0] == 5
    assert d.columns[1].more.toPlainText().startswith("▲ 5 above · +49 more ▼")
    v.max_units.setValue(16)
    assert len(d.columns[1].slots) == 16 and len(d.columns[2].slots) == 16

    cnn = ExperimentConfig().with_updates(
        {**base, "model.arch": "cnn", "model.conv_channels": [8, 16], "model.hidden": [32]}
    )
    snap, _ = _snapshot(cnn)
    v = _view(qtbot, cnn, snap, None)
    v.diagram.select(1, 3)
    assert v.diagram.detail_image.image.shape[:2] == (3, 3)
    assert [c.units for c in v.diagram.columns] == [1, 8, 16, 32, 10]
    assert v.diagram.snap.layers[1].pictures.shape == (8, 3, 3)
    px = _save(v, screenshot_dir, "network_digits_cnn.png")
    assert px.std() > 20
