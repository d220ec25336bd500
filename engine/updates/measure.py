"""What one optimizer step did to each weight layer, and what the optimizer carries for it.

The update is measured, not derived: ‖Δw‖ is the norm of the weights after the step minus
the weights before it, so it includes everything the optimizer did (momentum, Adam's
scaling, weight decay, the schedule's learning rate). The optimizer's state is read from
torch.optim's own per-parameter state, by the names torch gives it (nothing re-implemented):

  velocity        ‖momentum_buffer‖          SGD momentum / Nesterov, RMSprop with momentum
  exp_avg         ‖exp_avg‖ = ‖m‖            Adam, AdamW, NAdam: the first moment
  exp_avg_sq_rms  √mean(exp_avg_sq) = RMS √v  Adam, AdamW, NAdam: the second moment
  adam_step       mean |lr·m̂/(√v̂+ε)|         Adam, AdamW (AMSGrad: v̂ from max_exp_avg_sq):
                                             the adaptive step per weight, before weight decay
  square_avg_rms  √mean(square_avg)          RMSprop's running mean of g²
  sum_rms         √mean(sum)                 Adagrad's accumulated g²
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from engine.updates import kernels
from engine.updates.snapshot import STATE_STATS


def _param_group(optimizer: torch.optim.Optimizer, p: torch.Tensor) -> dict | None:
    for group in optimizer.param_groups:
        if any(q is p for q in group["params"]):
            return group
    return None


def state_names(optimizer: torch.optim.Optimizer, params: Sequence[torch.Tensor]) -> tuple[str, ...]:
    """The STATE_STATS this optimizer has state for (in STATE_STATS order); none for plain SGD
    (or before the first step, when torch has not made the state yet)."""
    have: set[str] = set()
    for p in params:
        st = optimizer.state.get(p) or {}
        if isinstance(st.get("momentum_buffer"), torch.Tensor):
            have.add("velocity")
        if isinstance(st.get("exp_avg"), torch.Tensor):
            have.add("exp_avg")
        if isinstance(st.get("exp_avg_sq"), torch.Tensor):
            have.add("exp_avg_sq_rms")
            group = _param_group(optimizer, p)
            if isinstance(st.get("exp_avg"), torch.Tensor) and group is not None and "betas" in group:
                if "mu_product" not in st:  # NAdam's step is not Adam's form
                    have.add("adam_step")
        if isinstance(st.get("square_avg"), torch.Tensor):
            have.add("square_avg_rms")
        if isinstance(st.get("sum"), torch.Tensor):
            have.add("sum_rms")
    return tuple(k for k in STATE_STATS if k in have)


def _norms(tensors: list[torch.Tensor], ord: float) -> list[torch.Tensor]:
    """Each tensor's L2 (ord 2) or L1 (ord 1) norm in one fused call, as float32."""
    return [n.float() for n in torch._foreach_norm(tensors, ord)]  # noqa: SLF001 - torch's fused per-tensor norm, no public form


def _adam_step(optimizer: torch.optim.Optimizer, p: torch.Tensor, st: dict) -> torch.Tensor | None:
    """mean |lr·m̂/(√v̂+ε)| of one parameter, from its Adam state (None where it has none)."""
    group = _param_group(optimizer, p)
    m, v = st.get("exp_avg"), st.get("max_exp_avg_sq") if st.get("max_exp_avg_sq") is not None else st.get("exp_avg_sq")
    if group is None or not isinstance(m, torch.Tensor) or not isinstance(v, torch.Tensor) or "betas" not in group:
        return None
    step = float(st.get("step", 0))
    if step <= 0:
        return None
    b1, b2 = (float(b) for b in group["betas"])
    lr, eps = float(group["lr"]), float(group["eps"])
    bc1, bc2 = 1 - b1**step, 1 - b2**step
    denom = (v.float() / bc2).sqrt_().add_(eps)
    return (m.float() / bc1).div_(denom).abs_().mean() * lr


# Statistic → (the torch state it reads, the norm taken: 2 = ‖t‖, 1 = √(Σt/n), t ≥ 0).
_FROM_STATE = {
    "velocity": ("momentum_buffer", 2),
    "exp_avg": ("exp_avg", 2),
    "exp_avg_sq_rms": ("exp_avg_sq", 1),
    "square_avg_rms": ("square_avg", 1),
    "sum_rms": ("sum", 1),
}


def state_stats(optimizer: torch.optim.Optimizer, params: Sequence[torch.Tensor], names: Sequence[str]) -> torch.Tensor:
    """(len(names), len(params)) float32 tensor on the parameters' device: each statistic of
    `names` (STATE_STATS keys) per parameter; NaN where a parameter has no such state. One
    fused norm per statistic (no per-parameter Python work but Adam's step). The state
    tensors need no gradient, so no autograd graph is built."""
    device = params[0].device if params else torch.device("cpu")
    nan = torch.full((), math.nan, device=device)
    states = [optimizer.state.get(p) or {} for p in params]
    rows: list[torch.Tensor] = []
    for name in names:
        row = [nan] * len(params)
        if name == "adam_step":
            for j, (p, st) in enumerate(zip(params, states)):
                value = _adam_step(optimizer, p, st)
                if value is not None:
                    row[j] = value.float()
        else:
            key, order = _FROM_STATE[name]
            have = [(j, t) for j, st in enumerate(states) if isinstance(t := st.get(key), torch.Tensor) and t.numel()]
            if have:
                norms = _norms([t for _, t in have], order)
                for (j, t), n in zip(have, norms):
                    row[j] = n if order == 2 else (n / t.numel()).sqrt()
        rows.append(torch.stack(row) if row else torch.zeros(0, device=device))
    return torch.stack(rows) if rows else torch.zeros((0, len(params)), device=device)


def _readable(t: object) -> bool:
    """Whether the compiled path can read a state tensor in place."""
    return isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.is_cpu and t.is_contiguous()


def state_table(optimizer: torch.optim.Optimizer, params: Sequence[torch.Tensor], names: Sequence[str]) -> np.ndarray:
    """`state_stats` on the host, as a (len(names), len(params)) float64 array: on the CPU, where
    numba is installed, in one compiled call (engine/updates/kernels.py) that reads the state
    tensors in place; otherwise (or for any other device or dtype) through `state_stats`."""
    n = len(params)
    if not names:
        return np.zeros((0, n))
    if kernels.AVAILABLE:
        table = _compiled_table(optimizer, params, names)
        if table is not None:
            return table
    return state_stats(optimizer, params, names).cpu().numpy().astype(np.float64)


def _compiled_table(
    optimizer: torch.optim.Optimizer, params: Sequence[torch.Tensor], names: Sequence[str]
) -> np.ndarray | None:
    """The compiled path of `state_table`; None where a state tensor is not a contiguous
    float32 CPU tensor (the torch path then reads them all)."""
    n = len(params)
    size = len(names) * n
    first = np.zeros(size, np.int64)
    second = np.zeros(size, np.int64)
    sizes = np.zeros(size, np.int64)
    kinds = np.full(size, kernels.NORM, np.int64)
    consts = np.ones((size, 3))
    lr = np.ones(size)
    missing = np.zeros(size, bool)
    states = [optimizer.state.get(p) or {} for p in params]
    keep: list[torch.Tensor] = []  # (the tensors whose addresses are read)
    i = 0
    for name in names:
        for p, st in zip(params, states):
            if name == "adam_step":
                group = _param_group(optimizer, p)
                m = st.get("exp_avg")
                v = st.get("max_exp_avg_sq") if st.get("max_exp_avg_sq") is not None else st.get("exp_avg_sq")
                step = float(st.get("step", 0))
                if group is None or "betas" not in group or m is None or v is None or step <= 0:
                    missing[i] = True
                elif not (_readable(m) and _readable(v)) or m.numel() != v.numel():
                    return None
                else:
                    b1, b2 = (float(b) for b in group["betas"])
                    first[i], second[i], sizes[i], kinds[i] = m.data_ptr(), v.data_ptr(), m.numel(), kernels.ADAM
                    consts[i] = (1 - b1**step, 1 - b2**step, float(group["eps"]))
                    lr[i] = float(group["lr"])
                    keep += [m, v]
            else:
                key, order = _FROM_STATE[name]
                t = st.get(key)
                if not isinstance(t, torch.Tensor) or not t.numel():
                    missing[i] = True
                elif not _readable(t):
                    return None
                else:
                    first[i], sizes[i] = t.data_ptr(), t.numel()
                    kinds[i] = kernels.NORM if order == 2 else kernels.RMS
                    keep.append(t)
            i += 1
    values = kernels.state_values(first, second, sizes, kinds, consts) * lr
    values[missing] = math.nan
    return values.reshape(len(names), n)
