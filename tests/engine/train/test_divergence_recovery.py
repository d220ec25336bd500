"""Recovery from a divergence: the last good state (parameters and buffers, all finite), a
fresh optimizer state with the settings the user gave, the cause named, and saved
diverged runs that continue."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from engine.config import ExperimentConfig
from engine.events import EventChannel, Notice, StateChanged
from engine.session import Session, capture_checkpoint, continue_run, load_session, record_of, save_session
from engine.train.trainer import Trainer, divergence_cause
from engine.train.worker import EngineWorker

# The example: batch norm after each hidden layer, plain SGD at lr 10.
BN_DIVERGING = {
    "model.batch_norm": "after",
    "optim.name": "sgd",
    "optim.lr": 10.0,
    "train.epochs": 5,
    "data.n_samples": 400,
    "device": "cpu",
}


def _finite(tensors) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


def _bn_diverged() -> Trainer:
    t = Trainer(ExperimentConfig().with_updates(BN_DIVERGING))
    assert t.run() == "diverged"
    return t


def test_bn_divergence_restores_finite_parameters_and_buffers():
    t = _bn_diverged()
    assert _finite(t.model.state_dict().values())  # running_mean/var too
    params, buffers = t.good_state()
    assert len(buffers) == len(list(t.model.buffers())) > 0 and _finite(params + buffers)
    for live, good in zip(t.model.buffers(), buffers, strict=True):
        assert torch.equal(live, good)
    loss, _ = t.evaluate(t.data.x_val, t.data.y_val)
    assert math.isfinite(loss)


def test_resume_after_bn_divergence_with_a_lower_lr_trains_to_the_end():
    t = _bn_diverged()
    diverged_at = len(t.series["step/loss"])
    assert t.apply_live("optim.lr", 0.01)
    assert t.recover()
    assert not t.optimizer.state and t.lr == 0.01
    assert t.run() == "finished"
    assert np.isfinite(t.series["step/loss"].array()[diverged_at:]).all()
    assert math.isfinite(t.final_metrics()["val_loss"])


def test_a_snapshot_with_a_non_finite_value_is_never_promoted():
    cfg = ExperimentConfig().with_updates(
        {"model.batch_norm": "after", "optim.lr": 0.01, "train.report_every": 1, "device": "cpu"}
    )
    t = Trainer(cfg)
    t.run(max_steps=3)
    bn = next(m for m in t.model.modules() if isinstance(m, torch.nn.BatchNorm1d))
    with torch.no_grad():
        bn.running_var.fill_(math.inf)  # training losses (batch statistics) stay finite
    t.run(max_steps=5)
    assert np.isfinite(t.series["step/loss"].array()).all()
    params, buffers = t.good_state()
    assert _finite(params + buffers)
    assert _finite(t.state_dict()["good_buffers"])


def _adam_diverged(lr: float = 0.01) -> Trainer:
    """An Adam run whose weights turn NaN after some good steps: its moments hold NaN."""
    cfg = ExperimentConfig().with_updates(
        {"optim.name": "adam", "optim.lr": lr, "train.epochs": 3, "train.report_every": 1, "device": "cpu"}
    )
    t = Trainer(cfg)
    t.run(max_steps=10)
    with torch.no_grad():
        next(t.model.parameters())[0, 0] = math.nan
    assert t.run() == "diverged"
    assert not _finite([v for st in t.optimizer.state.values() for v in st.values()])
    return t


def test_recover_takes_a_changed_config_and_starts_a_fresh_optimizer_state():
    t = _adam_diverged()
    new = t.config.with_updates({"optim.lr": 0.001, "optim.eps": 1e-6})
    assert t.recover(new)
    group = t.optimizer.param_groups[0]
    assert group["lr"] == 0.001 and group["eps"] == 1e-6 and not t.optimizer.state
    assert t.run() == "finished"
    assert math.isfinite(t.final_metrics()["val_loss"])


def test_a_saved_diverged_adam_run_continues_with_the_users_lr(tmp_path):
    t = _adam_diverged()
    rec = record_of(t)
    rec.checkpoint = capture_checkpoint(t)
    path = tmp_path / "d.descent"
    save_session(Session(runs=[rec]), path)
    loaded = load_session(path).runs[0]
    assert loaded.state == "diverged"
    notices: list[Notice] = []
    t2, rng = continue_run(loaded, emit=lambda e: notices.append(e), config_updates={"optim.lr": 0.002})
    assert not t2.optimizer.state and t2.lr == 0.002
    assert _finite(t2.model.state_dict().values())
    text = " ".join(n.message for n in notices if isinstance(n, Notice))
    assert "last good" in text and "fresh optimizer state" in text and "optim.lr = 0.002" in text
    torch.set_rng_state(rng)
    done = t2.step
    assert t2.run() == "finished"
    assert np.isfinite(t2.series["step/loss"].array()[done:]).all()


def test_an_older_diverged_file_without_good_buffers_continues_with_fresh_bn_statistics(tmp_path):
    """Files written before the last good buffers were kept hold the diverged BN statistics
    and no good copy: the Inf/NaN ones start from their fresh values, and the notice says so."""
    t = _bn_diverged()
    rec = record_of(t)
    rec.checkpoint = capture_checkpoint(t)
    arrays = rec.checkpoint.arrays
    for k in [k for k in arrays if k.startswith("good_buffers/")]:
        del arrays[k]
    poisoned = [k for k in arrays if k.endswith("running_var")]
    assert poisoned
    for k in poisoned:
        arrays[k] = np.full_like(arrays[k], np.nan)
    path = tmp_path / "old.descent"
    save_session(Session(runs=[rec]), path)
    loaded = load_session(path).runs[0]
    notices: list[Notice] = []
    t2, rng = continue_run(loaded, emit=notices.append, config_updates={"optim.lr": 0.01})
    assert _finite(t2.model.state_dict().values())
    for name, b in t2.model.named_buffers():
        if name.endswith("running_var"):
            assert torch.equal(b, torch.ones_like(b))  # BatchNorm's fresh value
    text = " ".join(n.message for n in notices if isinstance(n, Notice))
    assert f"fresh values for {len(poisoned)} buffers" in text and "running_var" in text
    torch.set_rng_state(rng)
    done = t2.step
    assert t2.run() == "finished"
    assert np.isfinite(t2.series["step/loss"].array()[done:]).all()


def test_continue_keeps_the_saved_optimizer_groups_unless_the_settings_changed(tmp_path):
    cfg = ExperimentConfig().with_updates({"optim.name": "adam", "optim.lr": 0.01, "train.epochs": 2, "device": "cpu"})
    t = Trainer(cfg)
    t.run(max_steps=7)
    rec = record_of(t)
    rec.checkpoint = capture_checkpoint(t)
    same, _ = continue_run(rec)
    assert same.lr == 0.01 and same.optimizer.state  # moments kept
    changed, _ = continue_run(rec, config_updates={"optim.lr": 0.003})
    assert changed.lr == 0.003 and changed.optimizer.state  # a finite state is kept
    other, _ = continue_run(rec, config_updates={"optim.name": "momentum", "optim.lr": 0.05})
    assert type(other.optimizer).__name__ == "SGD" and other.lr == 0.05
    assert other.run() == "finished"


@pytest.mark.parametrize(
    ("updates", "batch", "expected"),
    [
        ({}, 32, "learning rate (0.5) is likely too high"),
        ({"optim.name": "adam", "optim.eps": 1e-12}, 32, "eps (1e-12) is likely too small"),
        ({"optim.name": "rmsprop", "optim.eps": 1e-11}, 32, "eps"),
        ({"optim.name": "sgd", "optim.eps": 1e-12}, 32, "learning rate"),  # SGD does not use eps
        ({"model.batch_norm": "after"}, 2, "batch norm over batches of 2"),
        ({"model.batch_norm": "after"}, 4, "learning rate"),
        ({"model.batch_norm": "off"}, 2, "learning rate"),
    ],
)
def test_divergence_cause_names_eps_batch_norm_or_lr(updates, batch, expected):
    cfg = ExperimentConfig().with_updates(updates)
    assert expected in divergence_cause(cfg, batch, 0.5)


def test_divergence_message_names_batch_norm_with_a_tiny_batch():
    cfg = ExperimentConfig().with_updates({**BN_DIVERGING, "train.batch_size": 2})
    t = Trainer(cfg)
    assert t.run() == "diverged"
    assert "batch norm over batches of 2" in t.message


def _wait_state(ch: EventChannel, state: str, timeout: float = 30.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if any(isinstance(e, StateChanged) and e.state == state for e in ch.drain()):
            return
        time.sleep(0.01)
    raise AssertionError(f"no '{state}' state within {timeout} s")


def test_worker_resumes_a_diverged_run_with_the_config_given():
    ch = EventChannel()
    w = EngineWorker(ExperimentConfig().with_updates(BN_DIVERGING), ch)
    w.start()
    _wait_state(ch, "diverged")
    assert w.trainer is not None
    w.resume(w.config.with_updates({"optim.lr": 0.01}))
    _wait_state(ch, "finished")
    assert w.trainer.lr == 0.01 and math.isfinite(w.trainer.final_metrics()["val_loss"])
    assert w.shutdown(2.0)
