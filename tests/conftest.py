"""Shared test set-up: isolated settings, deterministic torch, small configs. Imports no Qt:
the desktop tests' own set-up is in tests/desktop/conftest.py."""

from __future__ import annotations

import os
import tempfile

# Qt settings (recent files, window layout) go to a throw-away folder, never the user's.
_cfg_home = tempfile.mkdtemp(prefix="descent-test-config-")
os.environ["XDG_CONFIG_HOME"] = _cfg_home
os.environ.setdefault("XDG_DATA_HOME", tempfile.mkdtemp(prefix="descent-test-data-"))
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pytest  # noqa: E402 - after the environment above, which imports read
import torch  # noqa: E402 - after the environment above, which imports read

torch.set_num_threads(2)


@pytest.fixture
def one_torch_thread():
    """Tiny matmuls: one torch thread avoids OpenMP barriers that stall on a loaded shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(params=["compiled", "torch"])
def probe_path(request, monkeypatch):
    """Run a probe-statistics test on both paths: the compiled CPU kernels (engine/probes/
    kernels.py) and the torch path a GPU run takes (forced here on the CPU)."""
    from engine.probes import kernels

    if request.param == "torch":
        monkeypatch.setattr(kernels, "AVAILABLE", False)
    elif not kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    return request.param


@pytest.fixture(params=["compiled", "plain"])
def trainer_kernel_path(request, monkeypatch):
    """Run a test of the trainer's compiled helpers (engine/train/kernels.py) on both paths:
    the numba kernels and the torch/numpy code used without them."""
    from engine.train import kernels

    if request.param == "plain":
        monkeypatch.setattr(kernels, "AVAILABLE", False)
    elif not kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    return request.param


@pytest.fixture
def small_config():
    """A fast experiment: small spiral, tiny MLP, few epochs."""
    from engine.config import ExperimentConfig

    return ExperimentConfig().with_updates(
        {"data.n_samples": 300, "model.hidden": [16, 16], "train.epochs": 3, "train.batch_size": 32, "device": "cpu"}
    )


@pytest.fixture
def failing_kernel():
    """A stand-in for a compiled kernel that fails on this machine (raises, as a numba
    function whose compilation fails does): the kernels' fall-back tests swap it in."""

    def broken(*_a, **_k):
        raise RuntimeError("LLVM cannot compile here")

    return broken
