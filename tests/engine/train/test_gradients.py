"""The per-step gradient bookkeeping (gradients set to None, the compiled norm read where the
gradients lie) against torch's per-tensor norms."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from engine.train import kernels
from engine.train.gradients import StepGradients, reference_grad_norm

CPU = torch.device("cpu")


def backward(model: nn.Module, grads: StepGradients, seed: int, params: list | None = None) -> None:
    """One backward pass; `params`: the run's list of parameters (the same list object from
    step to step, as the Trainer's), else a new list (a new model)."""
    grads.clear(params if params is not None else list(model.parameters()))
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(seed), dtype=next(model.parameters()).dtype)
    model(x).pow(2).mean().backward()


def float64_norm(params) -> float:
    return float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params if p.grad is not None)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_norm_is_the_float64_norm_of_this_steps_gradients(dtype):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)
    grads = StepGradients(CPU)
    params = list(model.parameters())
    previous = []
    for seed in range(3):  # cleared between steps: each norm is its own step's, not a sum
        backward(model, grads, seed, params)
        assert all(p.grad is not None and all(p.grad is not q for q in previous) for p in params)
        previous = [p.grad for p in params]
        assert grads.norm() == pytest.approx(float64_norm(params), rel=1e-6)
        assert float(grads.norm_tensor()) == pytest.approx(float(reference_grad_norm(params, CPU)), rel=1e-6)


def test_the_compiled_norm_reads_every_gradient_where_it_lies(monkeypatch):
    if not kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    model = nn.Sequential(nn.Linear(4, 300), nn.ReLU(), nn.Linear(300, 5))  # 1500 values: past one 1024-block
    params = list(model.parameters())
    grads = StepGradients(CPU)
    backward(model, grads, 0, params)
    calls = []
    real = kernels._sum_squares_at  # noqa: SLF001 - the compiled kernel, to see it called
    addresses_seen = []

    def spy(addresses, sizes, blocked):
        calls.append(blocked)
        addresses_seen.append(addresses.tolist())
        return real(addresses, sizes, blocked)

    monkeypatch.setattr(kernels, "_sum_squares_at", spy)
    assert grads.norm() == pytest.approx(float64_norm(params), rel=1e-6)
    assert calls == [True] and addresses_seen[0] == [p.grad.data_ptr() for p in params]
    for p in params:  # squares past float32's range: summed again in float64
        p.grad.mul_(1e21)
    calls.clear()
    assert grads.norm() == pytest.approx(float64_norm(params), rel=1e-6)
    assert calls == [True, False]
    params[2].grad[0, 7] = math.nan
    assert math.isnan(grads.norm())
    params[2].grad[0, 7] = math.inf
    assert math.isinf(grads.norm())


def test_gradients_that_are_missing_or_not_one_dense_run_take_torchs_norm():
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    params = list(model.parameters())
    grads = StepGradients(CPU)
    backward(model, grads, 0, params)
    params[0].grad = params[0].grad.t().contiguous().t()  # same values, transposed strides
    assert not params[0].grad.is_contiguous()
    assert grads.norm() == pytest.approx(float64_norm(params), rel=1e-6)
    params[1].grad = None  # a parameter the loss did not reach
    assert grads.norm() == pytest.approx(float64_norm(params), rel=1e-6)
    for p in params:
        p.grad = None
    assert grads.norm() == 0.0


def test_a_new_list_of_parameters_gets_new_tables():
    first = nn.Linear(4, 2)
    grads = StepGradients(CPU)
    backward(first, grads, 0, list(first.parameters()))
    other = nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 2))
    backward(other, grads, 1)
    assert grads.norm() == pytest.approx(float64_norm(list(other.parameters())), rel=1e-6)


def test_mixed_dtypes_take_torchs_norm():
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    model[1].double()
    model.forward = lambda x: model[1](model[0](x).double())  # type: ignore[method-assign]  # a mixed-precision toy
    grads = StepGradients(CPU)
    backward(model, grads, 0)
    assert grads.norm() == pytest.approx(float64_norm(list(model.parameters())), rel=1e-6)
    backward(model, grads, 1)  # cleared (set to None) in between: not accumulated
    assert grads.norm() == pytest.approx(float64_norm(list(model.parameters())), rel=1e-6)


def test_a_failing_compiled_norm_hands_over_to_torch_with_a_warning(monkeypatch, failing_kernel):
    if not kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(kernels, "AVAILABLE", True)  # restored after the test
    monkeypatch.setattr(kernels, "_sum_squares_at", failing_kernel)
    model = nn.Linear(4, 2)
    params = list(model.parameters())
    grads = StepGradients(CPU)
    backward(model, grads, 0, params)
    with pytest.warns(RuntimeWarning, match="LLVM cannot compile here"):
        assert grads.norm() == pytest.approx(float64_norm(params), rel=1e-6)
    assert not kernels.AVAILABLE
    assert grads.norm() == pytest.approx(float64_norm(params), rel=1e-6)  # torch from now on, no warning
