"""The decision-boundary grid over the input plane (2D data)."""

from __future__ import annotations

import numpy as np
import torch

from engine.batchnorm.probe import BatchNormProbe
from engine.boundary.hook import DecisionBoundaryHook
from engine.boundary.snapshot import BoundaryPoints, BoundarySnapshot
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import record_of

FAST = {"device": "cpu", "train.threads": 1}


def test_decision_boundary_grid_matches_the_model_and_is_throttled():
    got: list = []
    cfg = ExperimentConfig().with_updates(
        {
            **FAST,
            "data.name": "moons",
            "data.n_samples": 400,
            "train.epochs": 30,
            "model.hidden": [16, 16],
            "optim.lr": 0.03,
        }
    )
    t = build_trainer(cfg, emit=got.append)
    hook = next(h for h in t.hooks if isinstance(h, DecisionBoundaryHook))
    import time

    t0 = time.perf_counter()
    t.run()
    elapsed = time.perf_counter() - t0
    pl = [e for e in got if isinstance(e, (BoundaryPoints, BoundarySnapshot))]
    assert isinstance(pl[0], BoundaryPoints) and pl[0].x_train.shape == (320, 2)
    grids = [e for e in pl if isinstance(e, BoundarySnapshot)]
    assert 2 <= len(grids) <= elapsed / hook.interval_s + 3
    assert grids[-1].step == t.step and grids[0].droppable and not pl[0].droppable
    probs = grids[-1].probs
    assert probs.shape == (90, 90, 2) and np.allclose(probs.sum(-1), 1, atol=1e-5)
    # the grid cell nearest each validation point predicts what the model predicts there
    x0, x1, y0, y1 = grids[-1].extent
    xv = t.data.plane.x_val if t.data.plane is not None else t.data.x_val.numpy()  # the plane's (x1, x2)
    j = np.clip(np.rint((xv[:, 0] - x0) / (x1 - x0) * 89).astype(int), 0, 89)
    i = np.clip(np.rint((xv[:, 1] - y0) / (y1 - y0) * 89).astype(int), 0, 89)
    with torch.no_grad():
        t.model.eval()
        pred = t.model(t.data.x_val).argmax(1).numpy()
    assert (probs[i, j].argmax(1) == pred).mean() > 0.93
    assert t.final_metrics()["val_acc"] > 0.9
    rec = record_of(t)
    assert rec.arrays["decision_boundary/probs"].shape == (90, 90, 2)


def test_no_boundary_hook_for_non_2d_data_and_no_bn_probe_without_bn():
    t = build_trainer(ExperimentConfig().with_updates({**FAST, "data.name": "iris"}))
    assert not any(isinstance(h, (DecisionBoundaryHook, BatchNormProbe)) for h in t.hooks)
