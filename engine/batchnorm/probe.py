"""Batch norm made visible (lecture §3): per layer, the current batch's statistics beside
the running estimates used at inference, and what inference with batch statistics would
cost on the validation set.

Every `every` steps, forward hooks (registered for that one step only, so other steps pay
nothing) record each BN layer's input mean/variance per unit; after the optimizer step
the running estimates are read. Values stay on the device and are copied to the host in
one go when a BatchNormSnapshot is emitted. The normalized gap |μ_B − μ̂|/σ̂ shrinks
like √(2/π)/√B with the batch size B — why small batches give unstable estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from engine.batchnorm.snapshot import BatchNormSnapshot, to_record
from engine.model.mlp import batchnorm_labels
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from torch.nn.modules.batchnorm import _BatchNorm

    from engine.session.record import RunRecord
    from engine.train.context import RunContext

BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)
MAX_UNITS = 8


def running_stats(m: _BatchNorm) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch-norm layer's running mean, variance and count of batches seen."""
    rm, rv, nb = m.running_mean, m.running_var, m.num_batches_tracked
    assert rm is not None and rv is not None and nb is not None, "the models here track running statistics"
    return rm, rv, nb


@torch.no_grad()
def evaluate_with_batch_stats(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int
) -> tuple[float, float]:
    """Loss/accuracy when BN normalizes each chunk of `batch_size` with its own statistics
    (train-mode BN, running estimates untouched, dropout off): inference without running stats."""
    bns = [m for m in model.modules() if isinstance(m, BN_TYPES)]
    was = model.training
    saved = [tuple(t.clone() for t in running_stats(m)) for m in bns]
    model.eval()
    for m in bns:
        m.train()
    loss = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    n, done = x.shape[0], 0
    try:
        for s in range(0, n, batch_size):
            xb, yb = x[s : s + batch_size], y[s : s + batch_size]
            if xb.shape[0] < 2:  # BN cannot normalize a batch of one
                break
            out = model(xb)
            loss += nn.functional.cross_entropy(out, yb, reduction="sum").double()
            correct += (out.argmax(1) == yb).sum()
            done += xb.shape[0]
    finally:  # the running estimates are put back exactly: this evaluation must not train them
        for m, values in zip(bns, saved):
            for live, value in zip(running_stats(m), values):
                live.copy_(value)
        model.train(was)
    return float(loss) / max(1, done), float(correct) / max(1, done)


class BatchNormProbe(TrainerHook):
    """Records batch vs running statistics of every BN layer; emits BatchNormSnapshots."""

    name = "batchnorm"

    def __init__(self, every: int = 5, emit_every: int = 8) -> None:
        self.every = max(1, int(every))
        self.emit_every = max(1, int(emit_every))
        self.layers: list[_BatchNorm] = []
        self.names: list[str] = []
        self.units = 0
        self._handles: list[Any] = []
        self._current: list[tuple[torch.Tensor, torch.Tensor] | None] = []
        self._pending: list[torch.Tensor] = []  # (L, 4U+2) per sample, on the device
        self._pending_steps: list[int] = []
        self.steps: list[int] = []
        self.samples: list[np.ndarray] = []  # host copies, (L, 4U+2) each
        self.epoch_rows: list[tuple[int, float, float, float, float]] = []  # epoch, eval loss/acc, batch-stat loss/acc
        self.batch_size = 0

    def setup(self, ctx: RunContext) -> None:
        # Found by type, so any subset of layers may have batch norm (model.batch_norm_layers).
        labelled = batchnorm_labels(ctx.model)
        self.layers = [m for m, _ in labelled]
        self.names = [label for _, label in labelled]
        self.units = min([MAX_UNITS] + [m.num_features for m in self.layers]) if self.layers else 0
        self.batch_size = ctx.batch_size

    def _capture(self, i: int):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0].detach()
            dims = [0] + list(range(2, x.dim()))
            self._current[i] = (x.mean(dims), x.var(dims, unbiased=False))

        return hook

    def before_step(self, ctx: RunContext, xb: torch.Tensor, yb: torch.Tensor) -> None:
        if not self.layers or ctx.step % self.every:
            return
        self._current = [None] * len(self.layers)
        self._handles = [m.register_forward_pre_hook(self._capture(i)) for i, m in enumerate(self.layers)]

    @torch.no_grad()
    def after_step(self, ctx: RunContext) -> None:
        if not self._handles:
            return
        for h in self._handles:
            h.remove()
        self._handles = []
        current = [c for c in self._current if c is not None]
        if len(current) < len(self.layers):
            return
        u = self.units
        rows = []
        for m, (bm, bv) in zip(self.layers, current):
            rm, rv, _ = running_stats(m)
            sd = torch.sqrt(rv + m.eps)
            gap = ((bm - rm).abs() / sd).mean()
            ratio = (bv / (rv + m.eps)).mean()
            rows.append(torch.cat([bm[:u], bv[:u], rm[:u], rv[:u], gap[None], ratio[None]]).float())
        self._pending.append(torch.stack(rows))
        self._pending_steps.append(ctx.step)
        if len(self._pending) >= self.emit_every:
            self._emit_pending(ctx)

    def _emit_pending(self, ctx: RunContext) -> None:
        if not self._pending:
            return
        block = torch.stack(self._pending).cpu().numpy()  # (T, L, 4U+2), one host copy
        steps = np.asarray(self._pending_steps, dtype=np.int64)
        self._pending, self._pending_steps = [], []
        self.samples.extend(block)
        self.steps.extend(steps.tolist())
        ctx.emit(self._snapshot(ctx.run_id, steps, block, np.zeros((0, 5))))

    def _snapshot(self, run_id: str, steps: np.ndarray, block: np.ndarray, epochs: np.ndarray) -> BatchNormSnapshot:
        """Samples (T, L, 4U+2) and epoch rows (E, 5) as a snapshot."""
        return BatchNormSnapshot(
            run_id,
            tuple(self.names),
            self.units,
            self.batch_size,
            self.every,
            steps,
            **self._split(block),
            epochs=epochs,
        )

    def _split(self, block: np.ndarray) -> dict[str, np.ndarray]:
        u = self.units
        return {
            "batch_mean": block[:, :, :u],
            "batch_var": block[:, :, u : 2 * u],
            "running_mean": block[:, :, 2 * u : 3 * u],
            "running_var": block[:, :, 3 * u : 4 * u],
            "mean_gap": block[:, :, 4 * u],
            "var_ratio": block[:, :, 4 * u + 1],
        }

    def on_epoch_end(self, ctx: RunContext, metrics: Mapping[str, float]) -> None:
        self._emit_pending(ctx)
        if not self.layers:
            return
        bl, ba = evaluate_with_batch_stats(ctx.model, ctx.data.x_val, ctx.data.y_val, ctx.batch_size)
        row = (ctx.epoch, metrics["val_loss"], metrics["val_acc"], bl, ba)
        self.epoch_rows.append(row)
        no_samples = np.zeros((0, len(self.layers), 4 * self.units + 2), np.float32)
        ctx.emit(self._snapshot(ctx.run_id, np.zeros(0, np.int64), no_samples, np.asarray([row], dtype=np.float64)))

    def on_finish(self, ctx: RunContext) -> None:
        self._emit_pending(ctx)

    def export(self, record: RunRecord) -> None:
        if not self.layers:
            return
        block = (
            np.stack(self.samples) if self.samples else np.zeros((0, len(self.layers), 4 * self.units + 2), np.float32)
        )
        steps = np.asarray(self.steps, dtype=np.int64)
        epochs = np.asarray(self.epoch_rows, dtype=np.float64).reshape(-1, 5)
        arrays, meta = to_record([self._snapshot(record.name, steps, block, epochs)])
        record.arrays.update(arrays)
        record.meta.update(meta)

    def state_dict(self) -> dict[str, Any]:
        width = 4 * self.units + 2
        pending = torch.stack(self._pending).cpu().numpy() if self._pending else np.zeros((0, len(self.layers), width))
        return {
            "steps": np.asarray(self.steps, dtype=np.int64),
            "samples": np.stack(self.samples) if self.samples else np.zeros((0, len(self.layers), width), np.float32),
            "epoch_rows": np.asarray(self.epoch_rows, dtype=np.float64).reshape(-1, 5),
            "pending": pending.astype(np.float32),
            "pending_steps": np.asarray(self._pending_steps, dtype=np.int64),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        width = 4 * self.units + 2
        for key in ("samples", "pending"):
            arr = np.asarray(state.get(key, np.zeros((0, len(self.layers), width))))
            if arr.size and (arr.ndim != 3 or arr.shape[1:] != (len(self.layers), width)):
                raise ValueError(
                    f"the batch-norm probe's '{key}' has shape {arr.shape}; this run needs "
                    f"(n, {len(self.layers)}, {width})"
                )
        self.steps = [int(s) for s in state.get("steps", [])]
        self.samples = list(np.asarray(state.get("samples", np.zeros((0, 0, 0), np.float32))))
        self.epoch_rows = [
            (int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]))
            for r in np.asarray(state.get("epoch_rows", np.zeros((0, 5)))).reshape(-1, 5)
        ]
        dev = running_stats(self.layers[0])[0].device if self.layers else None
        self._pending = [torch.from_numpy(np.array(p)).to(dev) for p in np.asarray(state.get("pending", []))]
        self._pending_steps = [int(s) for s in state.get("pending_steps", [])]
