"""The trainer's cheaper bookkeeping gives the records the plain computations give: the
joint eval pass over the training subset and the validation set, the copy of the last good
state with its one-pass NaN/Inf check, single values appended to a series, and the wall
times shared out over a report window."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from engine.config import ExperimentConfig
from engine.train import Trainer
from engine.train.series import Series
from engine.train.statecopy import StateCopy


def _cfg(**updates) -> ExperimentConfig:
    base = {"data.name": "spiral", "device": "cpu", "train.threads": 1, "train.epochs": 3, "train.batch_size": 64}
    return ExperimentConfig().with_updates({**base, **updates})


def _plain_eval(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of the model in eval mode, the textbook way."""
    was = model.training
    model.eval()
    with torch.no_grad():
        out = model(x)
        loss, acc = float(nn.functional.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())
    model.train(was)
    return loss, acc


@pytest.mark.parametrize(
    "updates",
    [
        {"model.dropout": 0.5, "model.batch_norm": "before"},  # both differ between train and eval mode
        {"data.name": "digits", "model.hidden": [32]},  # 512 of 1437 training samples, 360 for validation
    ],
)
def test_the_epoch_evaluation_records_what_plain_eval_passes_give(updates):
    t = Trainer(_cfg(**updates), hooks=[])
    rows: list[int] = []  # the batch size of every forward pass without autograd (the evaluations)
    t.model.register_forward_hook(lambda m, a, out: None if torch.is_grad_enabled() else rows.append(a[0].shape[0]))
    t.run(max_steps=2 * t.steps_per_epoch)  # two epochs: the model in the state of the second's end
    x, y = t.train_eval_batch
    assert rows == [x.shape[0], t.data.x_val.shape[0]] * 2  # per epoch: the subset, then validation
    expect = [*_plain_eval(t.model, x, y), *_plain_eval(t.model, t.data.x_val, t.data.y_val)]
    got = [t.read_series(f"epoch/{k}")[-1] for k in ("train_loss_eval", "train_acc_eval", "val_loss", "val_acc")]
    assert got == pytest.approx(expect, rel=1e-6, abs=1e-7)
    assert t.model.training  # back in training mode for the next epoch


def test_on_the_cpu_the_evaluation_runs_in_passes_of_at_most_512_samples(monkeypatch):
    from engine.train import trainer as trainer_module

    assert trainer_module.EVAL_CHUNK_CPU == 512  # (larger passes slow the next epoch's steps: see its note)
    monkeypatch.setattr(trainer_module, "EVAL_CHUNK_CPU", 150)
    t = Trainer(_cfg(), hooks=[])  # spiral: 512 training samples evaluated, 200 for validation
    assert t.eval_chunk == 150
    rows: list[int] = []
    t.model.register_forward_hook(lambda m, a, out: None if torch.is_grad_enabled() else rows.append(a[0].shape[0]))
    t.run()
    x, y = t.train_eval_batch
    assert rows == [150, 150, 150, 62, 150, 50] * 3  # three epochs
    assert t.read_series("epoch/val_loss")[-1] == pytest.approx(_plain_eval(t.model, t.data.x_val, t.data.y_val)[0])
    assert t.read_series("epoch/train_loss_eval")[-1] == pytest.approx(_plain_eval(t.model, x, y)[0])
    assert t.read_series("epoch/val_acc")[-1] == pytest.approx(_plain_eval(t.model, t.data.x_val, t.data.y_val)[1])


def test_the_state_copy_keeps_every_tensor_and_finds_any_nan_or_inf():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    odd = torch.arange(5, dtype=torch.float64)  # another float dtype: kept apart from the flat buffer
    live = [p.detach() for p in model.parameters()] + list(model.buffers()) + [odd]
    copy = StateCopy(live)
    assert [t.dtype for t in copy.tensors] == [t.dtype for t in live]
    assert all(torch.equal(a, b) for a, b in zip(copy.tensors, live))
    assert copy.all_finite() is True
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model[1].num_batches_tracked += 7  # an integer buffer: copied, never judged
    copy.copy_from(live)
    assert all(torch.equal(a, b) for a, b in zip(copy.tensors, live))
    assert all(a.data_ptr() != b.data_ptr() for a, b in zip(copy.tensors, live))  # copies, not the tensors
    # a weight, a bias, batch norm's running variance, the float64 tensor
    for i, bad in ((0, math.nan), (2, math.inf), (5, -math.inf), (len(live) - 1, math.nan)):
        keep = live[i].clone()
        live[i].view(-1)[-1] = bad
        copy.copy_from(live)
        assert copy.all_finite() is False, i
        live[i].copy_(keep)
    copy.copy_from(live)
    assert copy.all_finite() is True


def test_single_values_and_chunks_keep_their_order_in_a_series():
    s = Series()
    s.append(1.0)
    s.append(np.float32(2.5))
    s.extend(np.array([3.0, 4.0]))
    s.append(5)
    assert len(s) == 5
    assert s.array().tolist() == [1.0, 2.5, 3.0, 4.0, 5.0]
    s.append(6.0)
    assert len(s) == 6 and s.array().tolist()[-2:] == [5.0, 6.0] and s.array().dtype == np.float64


def test_wall_times_are_shared_evenly_over_each_window_and_end_at_its_read():
    t = Trainer(_cfg(**{"train.report_every": 5}), hooks=[])
    t.run()
    wall = t.read_series("step/wall")
    assert len(wall) == t.step and np.all(np.diff(wall) >= 0) and wall[0] > 0
    # within a window of 5 steps the spacing is even
    gaps = np.diff(wall[:5])
    assert gaps == pytest.approx(np.full(4, gaps[0]), rel=1e-9, abs=1e-12)


def test_the_device_path_records_what_the_cpu_path_records():
    """Off the CPU the per-step scalars stay tensors and the window is read in one copy; run
    here on the CPU by taking that path, it records the same series."""
    runs = []
    for host in (True, False):
        t = Trainer(_cfg(**{"train.report_every": 7, "model.dropout": 0.2}), hooks=[])
        t._host_scalars = host  # noqa: SLF001 - the device path, taken on the CPU
        t.run()
        runs.append(t)
    for name in ("step/loss", "step/grad_norm", "step/lr", "epoch/train_loss", "epoch/train_acc", "epoch/val_loss"):
        a, b = (r.read_series(name) for r in runs)
        assert len(a) == len(b) > 0 and a == pytest.approx(b, rel=1e-5), name
    for name in ("epoch/train_loss_eval", "epoch/val_acc"):
        assert runs[0].read_series(name) == pytest.approx(runs[1].read_series(name), rel=1e-6), name
