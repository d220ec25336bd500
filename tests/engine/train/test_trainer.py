"""The trainer and the engine thread: learning, determinism, live edits, divergence."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from engine.config import ExperimentConfig
from engine.events import EpochEnd, EventChannel, RunFinished, StateChanged, StepBatch
from engine.experiment import build_trainer
from engine.model.init import init_linear
from engine.optim import preview_schedule
from engine.session import record_of
from engine.train import EngineWorker, Trainer


def test_loss_falls_on_spiral(small_config):
    cfg = small_config.with_updates({"train.epochs": 15})
    t = build_trainer(cfg)
    assert t.run() == "finished"
    tl = t.series["epoch/train_loss"].array()
    assert tl[-1] < 0.6 * tl[0]
    assert len(t.series["step/loss"]) == t.step == 15 * t.steps_per_epoch
    assert len(t.series["step/lr"]) == len(t.series["step/grad_norm"]) == t.step
    assert np.all(t.series["step/grad_norm"].array() > 0)


def test_same_seed_same_loss_series(small_config):
    a, b = build_trainer(small_config), build_trainer(small_config)
    a.run(), b.run()
    assert np.array_equal(a.series["step/loss"].array(), b.series["step/loss"].array())
    c = build_trainer(small_config.with_updates({"seed": 1}))
    c.run()
    assert not np.array_equal(a.series["step/loss"].array(), c.series["step/loss"].array())


def test_grad_norm_matches_direct_computation(small_config):
    t = build_trainer(small_config.with_updates({"train.report_every": 1}))
    t.start()
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    t.train_step()
    ref = build_trainer(small_config)
    ref.model.load_state_dict(before)
    idx = t.last_batch_indices
    loss = ref.loss_fn(ref.model(ref.data.x_train[idx]), ref.data.y_train[idx])
    loss.backward()
    g = math.sqrt(sum(float((p.grad**2).sum()) for p in ref.model.parameters()))
    assert t.series["step/grad_norm"].array()[0] == pytest.approx(g, rel=1e-5)
    assert t.series["step/loss"].array()[0] == pytest.approx(float(loss.detach()), rel=1e-6)


def test_xavier_uniform_bound():
    cfg = ExperimentConfig().model.model_copy(update={"init": "xavier_uniform"})
    w = torch.empty(300, 200)
    init_linear(w, cfg, torch.Generator().manual_seed(0))
    bound = math.sqrt(6 / (200 + 300))
    assert w.abs().max() <= bound
    assert w.abs().max() > 0.99 * bound
    assert float(w.std()) == pytest.approx(bound / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize("opt", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_every_optimizer_trains(small_config, opt):
    lr = {"sgd": 0.3, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.1}.get(opt, 0.01)
    t = build_trainer(small_config.with_updates({"optim.name": opt, "optim.lr": lr, "train.epochs": 6}))
    t.run()
    tl = t.series["epoch/train_loss"].array()
    assert tl[-1] < tl[0], f"{opt}: {tl}"


def test_optimizer_hyperparameters_reach_torch(small_config):
    t = build_trainer(
        small_config.with_updates(
            {
                "optim.name": "rmsprop",
                "optim.alpha": 0.9,
                "optim.centered": True,
                "optim.eps": 1e-6,
                "optim.rmsprop_momentum": 0.5,
            }
        )
    )
    g = t.optimizer.param_groups[0]
    assert isinstance(t.optimizer, torch.optim.RMSprop)
    assert (g["alpha"], g["centered"], g["eps"], g["momentum"]) == (0.9, True, 1e-6, 0.5)
    t = build_trainer(small_config.with_updates({"optim.name": "nesterov", "optim.momentum": 0.8}))
    assert t.optimizer.param_groups[0]["nesterov"] and t.optimizer.param_groups[0]["momentum"] == 0.8


@pytest.mark.parametrize(
    "name,check",
    [
        ("step", lambda lr: lr[0] == 0.1 and lr[-1] == pytest.approx(0.1 * 0.5**2)),
        ("exponential", lambda lr: lr[-1] == pytest.approx(0.1 * 0.5**29)),
        ("cosine", lambda lr: lr[-1] < 0.01 and lr[0] == 0.1),
        ("cyclic", lambda lr: lr.max() == pytest.approx(0.1, rel=1e-3) and lr.min() == pytest.approx(0.001)),
        ("one_cycle", lambda lr: lr.argmax() == pytest.approx(0.3 * len(lr), abs=2)),
        ("warmup", lambda lr: lr[0] == pytest.approx(0.001) and lr[-1] == pytest.approx(0.1)),
        ("cosine_restarts", lambda lr: (np.diff(lr) > 0).sum() >= 1),
        ("multistep", lambda lr: lr[-1] == pytest.approx(0.1 * 0.25)),
    ],
)
def test_schedule_previews(name, check):
    cfg = ExperimentConfig().with_updates(
        {
            "optim.lr": 0.1,
            "schedule.name": name,
            "schedule.milestones": [10, 20],
            "schedule.t_max": 30,
            "schedule.cyclic_step_size": 20,
        }
    )
    lr = preview_schedule(cfg, steps_per_epoch=10, epochs=30)
    assert len(lr) == 300
    assert check(lr), lr[::10]


@pytest.mark.parametrize("report_every", [1, 25])
def test_diverging_run_stops_with_message_and_keeps_data(report_every):
    # A linear network (leaky slope 1) with lr 10 and momentum: the loss overflows to NaN within steps.
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "model.hidden": [64, 64],
            "optim.name": "momentum",
            "optim.lr": 10.0,
            "model.activation": "leaky_relu",
            "model.leaky_slope": 1.0,
            "train.epochs": 5,
            "device": "cpu",
            "train.report_every": report_every,
        }
    )
    t = build_trainer(cfg)
    assert t.run() == "diverged"
    assert "learning rate" in t.message and "too high" in t.message
    loss = t.series["step/loss"].array()
    assert len(loss) > 0 and not np.isfinite(loss[-1])
    assert all(torch.isfinite(p).all() for p in t.model.parameters())  # last good weights restored
    rec = record_of(t)
    assert rec.state == "diverged" and len(rec.series["step/loss"]) == len(loss)


def _drain_until(ch: EventChannel, pred, timeout: float = 20.0) -> list:
    seen = []
    end = time.time() + timeout
    while time.time() < end:
        for e in ch.drain():
            seen.append(e)
            if pred(e):
                return seen
        time.sleep(0.01)
    raise AssertionError(f"condition not met; last events: {seen[-5:]}")


def test_worker_pause_step_resume_and_live_lr(small_config):
    ch = EventChannel()
    w = EngineWorker(small_config.with_updates({"train.epochs": 200}), ch)
    w.start()
    _drain_until(ch, lambda e: isinstance(e, StepBatch))
    w.pause()
    _drain_until(ch, lambda e: isinstance(e, StateChanged) and e.state == "paused")
    s0 = w.trainer.step
    w.single_step()
    _drain_until(ch, lambda e: isinstance(e, StepBatch) and int(e.steps[-1]) == s0 + 1)
    time.sleep(0.2)
    assert w.trainer.step == s0 + 1
    w.set_value("optim.lr", 0.0123)
    w.resume()
    _drain_until(ch, lambda e: isinstance(e, StepBatch) and e.lr[-1] == 0.0123)
    assert w.trainer.optimizer.param_groups[0]["lr"] == 0.0123
    assert w.shutdown(2.0)


def test_worker_turns_exceptions_into_error_events(small_config):
    ch = EventChannel()
    w = EngineWorker(small_config, ch)

    def boom(trainer):
        raise ValueError("synthetic failure")

    w.start(paused=True)
    _drain_until(ch, lambda e: isinstance(e, StateChanged) and e.state == "paused")
    w.call(boom)
    events = _drain_until(ch, lambda e: isinstance(e, StateChanged) and e.state == "error")
    assert any("synthetic failure" in getattr(e, "message", "") for e in events)
    w.restart()  # the thread survived and takes the next command
    _drain_until(ch, lambda e: isinstance(e, RunFinished))
    assert w.shutdown(2.0)


def test_epoch_events_carry_all_metrics(small_config):
    got = []
    t = build_trainer(small_config, emit=got.append)
    t.run()
    epochs = [e for e in got if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    for e in epochs:
        assert {"train_loss", "val_loss", "train_acc", "val_acc", "lr"} <= set(e.metrics)
        assert 0 <= e.metrics["val_acc"] <= 1


def test_diverged_run_resumes_from_last_good_weights_after_lowering_lr():
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "model.hidden": [64, 64],
            "optim.name": "momentum",
            "optim.lr": 10.0,
            "model.activation": "leaky_relu",
            "model.leaky_slope": 1.0,
            "train.epochs": 2,
            "device": "cpu",
            "train.report_every": 1,
        }
    )
    ch = EventChannel()
    w = EngineWorker(cfg, ch)
    w.start()
    _drain_until(ch, lambda e: isinstance(e, StateChanged) and e.state == "diverged")
    t = w.trainer
    diverged_at = t.step
    good = [p.detach().clone() for p in t.model.parameters()]
    assert all(torch.isfinite(g).all() for g in good)
    w.set_value("optim.lr", 0.001)
    w.resume()
    _drain_until(ch, lambda e: isinstance(e, RunFinished) and e.state == "finished", timeout=60)
    loss = t.series["step/loss"].array()
    assert t.step > diverged_at and np.isfinite(loss[diverged_at:]).all()
    assert t.optimizer.param_groups[0]["lr"] == 0.001
    assert w.shutdown(2.0)


def test_auto_threads_one_for_small_models_default_for_large(small_config):
    from engine.train.device import _DEFAULT_THREADS

    t = build_trainer(small_config)
    assert t.threads == 1 and torch.get_num_threads() == 1
    big = small_config.with_updates(
        {"data.name": "digits", "model.hidden": [2048, 2048], "train.batch_size": 256, "train.epochs": 1}
    )
    t = build_trainer(big)
    assert t.threads == _DEFAULT_THREADS and torch.get_num_threads() == _DEFAULT_THREADS
    t = build_trainer(small_config.with_updates({"train.threads": 2}))
    assert t.threads == 2 and torch.get_num_threads() == 2


@pytest.mark.usefixtures("trainer_kernel_path")
def test_correct_count_is_numpy_argmax():
    """The per-window accuracy count: ties go to the first maximum and a NaN wins, as in
    numpy's argmax, on the compiled path and on its numpy fallback."""
    from engine.train import kernels

    rng = np.random.default_rng(0)
    for trial in range(60):
        n, c = int(rng.integers(1, 40)), int(rng.integers(1, 12))
        x = rng.integers(-2, 3, (n, c)).astype(np.float32 if trial % 2 else np.float64)  # many ties
        x[rng.random((n, c)) < (0.1 if trial % 3 == 0 else 0.0)] = np.nan
        x[rng.random((n, c)) < (0.1 if trial % 5 == 0 else 0.0)] = np.inf
        y = rng.integers(0, c, n)
        assert kernels.correct_count(x, y) == np.count_nonzero(x.argmax(1) == y)


@pytest.mark.usefixtures("trainer_kernel_path")
def test_l2_norm_is_the_float64_norm_of_the_gradients():
    from engine.train import kernels

    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        flat = torch.randn(26122, generator=g, dtype=dtype) * 3
        want = float(torch.linalg.vector_norm(flat.double()))
        assert kernels.l2_norm(flat, flat.numpy()) == pytest.approx(want, rel=1e-6)
        assert kernels.l2_norm(flat, None) == pytest.approx(want, rel=1e-6)  # no numpy view: torch
        big = flat * 1e30 if dtype == torch.float64 else flat * 1e17  # squares past float32's range
        assert kernels.l2_norm(big, big.numpy()) == pytest.approx(
            want * (1e30 if dtype == torch.float64 else 1e17), rel=1e-5
        )
        if dtype == torch.float32:  # one value past float32's squares, in a later block
            lone = flat.clone()
            lone[20000] = 3e19
            assert kernels.l2_norm(lone, lone.numpy()) == pytest.approx(3e19, rel=1e-6)
        for bad, check in ((float("nan"), math.isnan), (float("inf"), math.isinf)):
            odd = flat.clone()
            odd[5] = bad
            assert check(kernels.l2_norm(odd, odd.numpy()))


def test_a_failing_trainer_kernel_hands_over_with_a_warning(monkeypatch, failing_kernel):
    from engine.train import kernels

    if not kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(kernels, "AVAILABLE", True)  # restored after the test
    monkeypatch.setattr(kernels, "_sum_squares", failing_kernel)
    monkeypatch.setattr(kernels, "_sum_squares_f32", failing_kernel)
    flat = torch.ones(16)
    with pytest.warns(RuntimeWarning, match="LLVM cannot compile here"):
        assert kernels.l2_norm(flat, flat.numpy()) == 4.0
    assert not kernels.AVAILABLE
    assert kernels.correct_count(np.eye(3), np.array([0, 1, 1])) == 2  # numpy from now on


@pytest.mark.parametrize("report_every", [1, 7, 1000])
def test_epoch_train_metrics_are_running_averages_of_the_steps(small_config, report_every):
    """train_loss and train_acc of an epoch: the minibatch losses weighted by batch size (the
    last batch is short here) and the share of right predictions, over the epoch's steps."""
    from engine.train.hooks import TrainerHook

    class Recorder(TrainerHook):
        """Before each step: the loss and correct count of the step's own forward pass (same
        weights, a deterministic model)."""

        rows: list = []

        def before_step(self, trainer, xb, yb) -> None:
            with torch.no_grad():
                out = trainer.model(xb)
            self.rows.append(
                (
                    trainer.epoch,
                    float(torch.nn.functional.cross_entropy(out, yb)) * len(yb),
                    int((out.argmax(1) == yb).sum()),
                    len(yb),
                )
            )

    hook = Recorder()
    hook.rows = []
    cfg = small_config.with_updates({"train.report_every": report_every, "train.batch_size": 50, "data.n_samples": 330})
    t = Trainer(cfg, hooks=[hook])
    assert t.n_train % t.batch_size  # a short last batch
    t.run()
    rows = np.array(hook.rows)
    for e in range(cfg.train.epochs):
        r = rows[rows[:, 0] == e]
        seen = r[:, 3].sum()
        assert t.series["epoch/train_loss"].array()[e] == pytest.approx(r[:, 1].sum() / seen, rel=1e-5)
        assert t.series["epoch/train_acc"].array()[e] == pytest.approx(r[:, 2].sum() / seen, abs=1e-12)


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_evaluate_is_eval_mode_loss_and_accuracy(small_config, dropout, monkeypatch):
    """evaluate = mean cross-entropy and accuracy in eval mode, in chunks or not; the model is
    left in the mode it was in, and a model that computes the same in both modes is not
    switched at all."""
    t = Trainer(small_config.with_updates({"model.dropout": dropout}), hooks=[])
    t.run(max_steps=5)
    x, y = t.data.x_val, t.data.y_val
    t.model.eval()
    with torch.no_grad():
        out = t.model(x)
    want = (float(torch.nn.functional.cross_entropy(out, y)), float((out.argmax(1) == y).double().mean()))
    t.model.train()
    switches = []
    real_train = type(t.model).train
    monkeypatch.setattr(type(t.model), "train", lambda self, mode=True: switches.append(mode) or real_train(self, mode))
    for chunk in (8192, 7):
        got = t.evaluate(x, y, chunk=chunk)
        assert got[0] == pytest.approx(want[0], rel=1e-5) and got[1] == pytest.approx(want[1], abs=1e-12)
        assert t.model.training
    assert switches == ([False, True] * 2 if dropout else [])
