"""The comparison's runs on one shared loss surface (engine side, no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.compare import LockstepRunner
from engine.compare.surface import SharedSurface, shared_surface
from engine.config import ExperimentConfig
from engine.landscape.params import LandscapeError
from engine.session import Session, load_session, save_session


@pytest.fixture(scope="module")
def records():
    base = ExperimentConfig().with_updates(
        {
            "data.n_samples": 200,
            "model.hidden": [8],
            "train.epochs": 4,
            "train.batch_size": 32,
            "device": "cpu",
            "probes.enabled": False,
            "diagnostics.enabled": False,
            "metrics.enabled": False,
            "landscape.snapshot_every": 2,
            "landscape.sharpness_every": 0,
        }
    )
    r = LockstepRunner()
    for name in ("sgd", "adam"):
        r.add(name, base.with_updates({"optim.name": name}))
    r.run()
    return r.records(checkpoints=False)


def test_paths_share_start_and_surface_is_finite(records, tmp_path):
    s = shared_surface(records, n=9)
    assert s.loss.shape == (9, 9) and np.isfinite(s.loss).all()
    assert list(s.paths) == ["sgd", "adam"]
    sgd, adam = s.paths["sgd"], s.paths["adam"]
    assert len(sgd) == len(records[0].arrays["landscape/trajectory"])
    np.testing.assert_allclose(sgd[0], adam[0], atol=1e-6)  # same init: both paths start at one point
    assert np.linalg.norm(sgd[-1] - adam[-1]) > 1e-3  # different optimizers end apart
    # every path lies inside the grid
    for xy in s.paths.values():
        assert s.alphas[0] <= xy[:, 0].min() and xy[:, 0].max() <= s.alphas[-1]
    session = Session(runs=list(records))
    s.save_into(session)
    save_session(session, tmp_path / "s.descent")
    back = SharedSurface.from_session(load_session(tmp_path / "s.descent"))
    assert back is not None and np.array_equal(back.loss, s.loss)
    assert np.array_equal(back.paths["adam"], s.paths["adam"])


def test_runs_with_different_models_are_refused(records):
    other = records[1]
    other = type(other)(name="wide", config=other.config.with_updates({"model.hidden": [16]}), arrays=other.arrays)
    with pytest.raises(LandscapeError, match="'sgd' and 'wide' differ"):
        shared_surface([records[0], other], n=5)
    with pytest.raises(LandscapeError, match="landscape.snapshots"):
        shared_surface([type(other)(name="x", config=other.config)], n=5)
