"""The metrics view: confusion matrix, ROC/PR with the threshold slider, loss vs accuracy."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtGui import QImage
from sklearn import metrics as skm

from desktop.controller import AppController
from desktop.views.metrics_view import MetricsView
from engine.config import ExperimentConfig
from engine.events import EventChannel
from engine.experiment import build_trainer
from engine.session import Session, record_of

pytestmark = pytest.mark.gui


def not_blank(img: QImage) -> bool:
    rgb = img.convertToFormat(QImage.Format_RGB32)
    return np.frombuffer(bytes(rgb.constBits()), dtype=np.uint8).std() > 10


def run_events(cfg: ExperimentConfig, run_id: str = "r1"):
    ch = EventChannel(100_000)
    t = build_trainer(cfg, emit=ch.put, run_id=run_id)
    t.run()
    return t, ch.drain()


def test_binary_metrics_threshold_slider_moves_the_point(qtbot, screenshot_dir):
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "moons",
            "data.n_samples": 400,
            "train.epochs": 3,
            "device": "cpu",
            "train.threads": 1,
            "probes.enabled": False,
        }
    )
    t, events = run_events(cfg)
    v = MetricsView(AppController(cfg))
    qtbot.addWidget(v)
    v.resize(1100, 650)
    v.show()
    v.on_run_started("r1", cfg)
    v.handle_events(events)
    assert v.latest.epoch == 3 and v.threshold.isEnabled()
    x, y = v.c_val_acc.getData()
    assert list(x) == [1.0, 2.0, 3.0] and np.allclose(y, t.series["epoch/val_acc"].array())
    v.threshold.setValue(50)  # already there: handle_events drew the point at threshold 0.50
    labels, scores = v.latest.labels, v.latest.probs[:, 1]
    px, py = v.roc_point.getData()
    tp = int(((scores >= 0.5) & (labels == 1)).sum())
    assert py[0] == pytest.approx(tp / (labels == 1).sum())
    v.threshold.setValue(10)
    px2, py2 = v.roc_point.getData()
    assert py2[0] >= py[0] and px2[0] >= px[0]  # a lower threshold: more positives
    assert "TPR" in v.threshold_label.text()
    auc = skm.roc_auc_score(labels, scores)
    assert f"{auc:.3f}" in v.table.item(1, 4).text()
    img = v.grab().toImage()
    assert not_blank(img)
    img.save(str(screenshot_dir / "metrics_binary.png"))


def test_multiclass_confusion_matrix_and_replay(qtbot, screenshot_dir):
    cfg = ExperimentConfig().with_updates(
        {"data.name": "digits", "train.epochs": 2, "device": "cpu", "train.threads": 1, "probes.enabled": False}
    )
    t, events = run_events(cfg)
    v = MetricsView(AppController(cfg))
    qtbot.addWidget(v)
    v.resize(1100, 650)
    v.show()
    v.on_run_started("r1", cfg)
    v.handle_events(events)
    assert not v.threshold.isEnabled() and len(v.roc_curves) == 10 and v.table.rowCount() == 10
    assert v.threshold.isHidden() and v.threshold_title.isHidden()  # the slider is for 2 classes only
    # the ten classes' key sits beside the plots, not over the ROC curves
    assert len(v.class_key.items) == 10 and v.class_key.parentItem() is not v.p_roc.vb
    qtbot.wait(100)  # laid out
    assert not v.class_key.sceneBoundingRect().intersects(v.p_roc.vb.sceneBoundingRect())
    assert len({c.opts["pen"].color().name() for c in v.roc_curves}) == 10
    cm = v.latest.confusion
    assert len(v.cm_text) == 100 and v.cm_text[0].toPlainText() == str(int(cm[0, 0]))
    img = v.grab().toImage()
    assert not_blank(img)
    img.save(str(screenshot_dir / "metrics_multiclass.png"))
    # A saved session shows the same numbers.
    v2 = MetricsView(AppController(cfg))
    qtbot.addWidget(v2)
    v2.load_session(Session(runs=[record_of(t)]))
    assert np.array_equal(v2.latest.confusion, cm) and v2.table.item(3, 3).text() == v.table.item(3, 3).text()
    assert len(v2.c_val_loss.getData()[0]) == 2
