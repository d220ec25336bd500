"""The epoch evaluation's compiled loss (engine/train/kernels.py `loss_and_correct`) is torch's
cross-entropy and the argmax count, up to rounding, NaN and ±Inf included (the trainer's
epoch records against the textbook evaluation: test_trainer_bookkeeping.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from engine.train import kernels


def _torch(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, int]:
    loss = float(nn.functional.cross_entropy(logits, labels, reduction="sum"))
    return loss, int((logits.argmax(1) == labels).sum())


@pytest.mark.usefixtures("trainer_kernel_path")
def test_loss_and_count_equal_torchs_cross_entropy_and_argmax():
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        for n, c, scale in ((512, 10, 3.0), (7, 1, 1.0), (64, 100, 30.0), (5, 3, 0.0)):  # 0.0: all tied
            logits = torch.randn(n, c, generator=g, dtype=dtype) * scale + 40  # far from 0: needs the shift
            labels = torch.randint(0, c, (n,), generator=g)
            loss, hits = kernels.loss_and_correct(logits, labels)
            want_loss, want_hits = _torch(logits, labels)
            assert loss == pytest.approx(want_loss, rel=1e-6, abs=1e-5) and hits == want_hits
            # float64 logits: as exact as torch's float64 kernel
            if dtype == torch.float64:
                assert loss == pytest.approx(want_loss, rel=1e-12, abs=1e-9)


def test_nan_and_infinite_logits_give_what_torch_gives():
    if not kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    rows = ([-math.inf, 1.0, 2.0], [math.inf, 1.0, 2.0], [1.0, math.nan, 2.0], [-math.inf] * 3, [1.0, 2.0, -math.inf])
    for row in rows:
        for label in range(3):
            logits, labels = torch.tensor([row, [0.5, 0.2, 0.1]]), torch.tensor([label, 0])
            loss, hits = kernels.loss_and_correct(logits, labels)
            want_loss, _ = _torch(logits, labels)
            assert (math.isnan(loss) and math.isnan(want_loss)) or loss == pytest.approx(want_loss, rel=1e-6), row
            assert hits == kernels.correct_count(logits.numpy(), labels.numpy())


def test_a_label_outside_the_classes_is_reported_as_torch_reports_it():
    logits, labels = torch.zeros(3, 4), torch.tensor([0, 4, 1])
    with pytest.raises(IndexError, match="out of bounds"):
        nn.functional.cross_entropy(logits, labels)
    with pytest.raises(IndexError, match="out of bounds"):
        kernels.loss_and_correct(logits, labels)
