"""The optimizer-state statistics computed in one compiled call (engine/updates/kernels.py)
equal torch's own computation (`state_stats`), for every optimizer with state, and a state
tensor the kernel cannot read in place sends the whole table through torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.updates import kernels
from engine.updates.measure import state_names, state_stats, state_table

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")

OPTIMIZERS = {
    "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    "nesterov": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda p: torch.optim.Adam(p, lr=0.003),
    "amsgrad": lambda p: torch.optim.Adam(p, lr=0.003, amsgrad=True),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1),
}


def _stepped(make, steps=3):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(7, 33), torch.nn.Tanh(), torch.nn.Linear(33, 5))
    params = [model[0].weight, model[2].weight]
    opt = make(model.parameters())
    x, y = torch.randn(40, 7), torch.randint(0, 5, (40,))
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return opt, params


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_compiled_state_statistics_equal_torchs(name):
    opt, params = _stepped(OPTIMIZERS[name])
    names = state_names(opt, params)
    assert names  # every one of these keeps state
    want = state_stats(opt, params, names).numpy().astype(np.float64)
    got = state_table(opt, params, names)
    assert got.shape == (len(names), 2) and np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=2e-5)


def test_missing_state_is_nan_and_an_unreadable_tensor_goes_through_torch(monkeypatch):
    opt, params = _stepped(OPTIMIZERS["momentum"])
    del opt.state[params[1]]["momentum_buffer"]  # as before a parameter's first step
    got = state_table(opt, params, ("velocity",))
    assert got[0, 0] == pytest.approx(float(opt.state[params[0]]["momentum_buffer"].norm()), rel=1e-6)
    assert math.isnan(got[0, 1])
    # A transposed (non-contiguous) buffer: the kernel does not read it; torch gives the table.
    buf = opt.state[params[0]]["momentum_buffer"]
    opt.state[params[0]]["momentum_buffer"] = buf.t().contiguous().t()
    called = []
    monkeypatch.setattr(kernels, "state_values", lambda *a: called.append(a))
    got = state_table(opt, params, ("velocity",))
    assert not called and got[0, 0] == pytest.approx(float(buf.norm()), rel=1e-6) and math.isnan(got[0, 1])
