"""The gradient buffer's fast path (one flat buffer) against the plain per-tensor path."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.train.gradients import GradientBuffer, reference_grad_norm


def backward(model: nn.Module, grads: GradientBuffer, seed: int, params: list | None = None) -> None:
    """One backward pass; `params`: the run's list of parameters (the same list object from
    step to step, as the Trainer's), else a new list (a new model)."""
    grads.zero(params if params is not None else list(model.parameters()))
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(seed), dtype=next(model.parameters()).dtype)
    model(x).pow(2).mean().backward()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_flat_buffer_norm_equals_the_per_tensor_norm(dtype):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)
    grads = GradientBuffer(torch.device("cpu"))
    params = list(model.parameters())
    for seed in range(3):  # zeroed between steps: each norm is its own step's
        backward(model, grads, seed, params)
        assert grads.flat is not None and all(p.grad.data_ptr() >= grads.flat.data_ptr() for p in model.parameters())
        ref = float(reference_grad_norm(list(model.parameters()), torch.device("cpu")))
        assert grads.norm() == pytest.approx(ref, rel=1e-6)
        assert float(grads.norm_tensor()) == pytest.approx(ref, rel=1e-6)


def test_gradients_set_to_none_are_attached_again_and_a_new_model_gets_a_new_buffer():
    model = nn.Linear(4, 2)
    params = list(model.parameters())
    grads = GradientBuffer(torch.device("cpu"))
    backward(model, grads, 0, params)
    first = grads.flat
    model.weight.grad = None
    backward(model, grads, 1, params)
    assert grads.flat is first and model.weight.grad is not None
    ref = float(reference_grad_norm(list(model.parameters()), torch.device("cpu")))
    assert grads.norm() == pytest.approx(ref, rel=1e-6)
    other = nn.Linear(4, 2)
    backward(other, grads, 2)
    assert grads.flat is not first


def test_mixed_dtypes_take_the_plain_path():
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    model[1].double()
    model.forward = lambda x: model[1](model[0](x).double())  # type: ignore[method-assign]  # a mixed-precision toy
    grads = GradientBuffer(torch.device("cpu"))
    backward(model, grads, 0)
    assert grads.flat is None
    g = [p.grad.double() for p in model.parameters()]
    want = float(torch.sqrt(sum((t**2).sum() for t in g)))
    assert grads.norm() == pytest.approx(want, rel=1e-6)
    backward(model, grads, 1)  # zeroed (set to None) in between: not accumulated
    g = [p.grad.double() for p in model.parameters()]
    assert grads.norm() == pytest.approx(float(torch.sqrt(sum((t**2).sum() for t in g))), rel=1e-6)
