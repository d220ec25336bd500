"""The "overfit a tiny subset" sanity check (lecture §7): before a real run, make sure the
model and the code can learn at all by driving a handful of samples to ~100% accuracy."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.config import ExperimentConfig
from engine.data import DataBundle, load_data
from engine.model import build_model
from engine.optim import build_optimizer


@dataclass(frozen=True)
class SanityResult:
    passed: bool
    steps: int  # steps taken (the step at which it passed, or the budget)
    accuracy: float  # best accuracy reached on the subset
    loss: float  # loss at the end
    n_samples: int
    message: str

    def to_json(self) -> dict:
        return {
            "passed": self.passed,
            "steps": self.steps,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "n_samples": self.n_samples,
            "message": self.message,
        }


def overfit_tiny_subset(
    config: ExperimentConfig,
    n_samples: int = 20,
    max_steps: int = 300,
    target_accuracy: float = 1.0,
    shuffle_labels: bool = False,
    data: DataBundle | None = None,
    cancel=None,
) -> SanityResult:
    """Train a fresh model of the config (same init, optimizer and lr) full-batch on
    `n_samples` training samples; pass when it reaches `target_accuracy` within `max_steps`.
    `shuffle_labels` re-draws the labels every step (a model that cannot fit: must fail)."""
    if n_samples < 1 or max_steps < 1:
        raise ValueError("n_samples and max_steps must be at least 1")
    torch.manual_seed(config.seed)
    data = data if data is not None else load_data(config)
    g = torch.Generator().manual_seed(config.seed + 3)
    n = int(data.x_train.shape[0])
    idx = torch.randperm(n, generator=g)[: min(n_samples, n)]
    x, y = data.x_train.cpu()[idx], data.y_train.cpu()[idx]
    model = build_model(config.model, data.n_features, data.n_classes, config.seed)
    opt = build_optimizer(model.parameters(), config.optim)
    loss_fn = nn.CrossEntropyLoss()
    best, loss_v, step = 0.0, float("nan"), 0
    for step in range(1, max_steps + 1):
        if cancel is not None and cancel():
            break
        yb = y[torch.randperm(len(y), generator=g)] if shuffle_labels else y
        model.train()
        out = model(x)
        loss = loss_fn(out, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_v = float(loss.detach())
        if not torch.isfinite(loss.detach()):
            break
        if step % 5 == 0 or step == max_steps:
            model.eval()
            with torch.no_grad():
                acc = float((model(x).argmax(1) == yb).float().mean())
            best = max(best, acc)
            if acc >= target_accuracy:
                return SanityResult(
                    True,
                    step,
                    acc,
                    loss_v,
                    len(y),
                    f"passed: {len(y)} samples fit to {acc:.0%} "
                    f"training accuracy in {step} steps — the model and the code can learn",
                )
    return SanityResult(
        False,
        step,
        best,
        loss_v,
        len(y),
        f"failed: best accuracy {best:.0%} on {len(y)} samples "
        f"after {step} steps (target {target_accuracy:.0%}) — check the learning rate, the model "
        "and the labels",
    )
