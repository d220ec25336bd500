"""The learning-rate diagnosis counts steps and tells oscillation from slow progress; findings
are ranked by cause, and the status line (Notices) shows the highest-ranked one."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from engine.config import DiagnosticsConfig, ExperimentConfig
from engine.diagnostics import DiagnosticsHook, lr_verdict, near_chance, top_finding
from engine.diagnostics.checks import Diagnostic
from engine.events import EventChannel, Notice
from engine.experiment import build_trainer


def _run(**updates):
    base = {
        "data.name": "spiral",
        "device": "cpu",
        "train.threads": 1,
        "metrics.enabled": False,
        "landscape.snapshots": False,
        "landscape.sharpness_every": 0,
    }
    ch = EventChannel(100_000)
    t = build_trainer(ExperimentConfig().with_updates({**base, **updates}), emit=ch.put)
    t.run()
    hook = next(h for h in t.hooks if isinstance(h, DiagnosticsHook))
    notices = [e.message for e in ch.drain() if isinstance(e, Notice)]
    return t, hook, notices


def _kinds(hook) -> set[str]:
    return {d.kind for d in hook.found if d.level != "info"}


def test_two_step_epochs_do_not_call_a_run_that_then_fits_too_slow():
    # 800 training points, batch 400: 2 steps an epoch; the old rule fired after 3 epochs (6 steps)
    t, hook, _ = _run(**{"train.batch_size": 400, "train.epochs": 40})
    assert t.steps_per_epoch == 2 and t.step == 80
    assert "lr_too_low" not in _kinds(hook)
    assert t.read_series("epoch/train_acc_eval")[-1] > 0.9  # it fits


def test_sgd_lr_5_is_too_high_not_too_low_and_leads_the_status_line():
    t, hook, notices = _run(**{"optim.name": "sgd", "optim.lr": 5.0, "train.epochs": 6})
    kinds = _kinds(hook)
    assert "lr_too_high" in kinds and "lr_too_low" not in kinds and "underfitting" not in kinds
    assert hook.top().kind == "lr_too_high"
    assert "too high" in notices[-1]  # a dead-units finding after it does not take the status line


def test_oscillating_loss_is_too_high_and_a_creeping_one_too_low():
    # the epoch losses of SGD lr 5 on spiral, with an initial loss of ln 3
    assert lr_verdict(math.log(3), np.array([1.15, 1.67, 1.17]), 0.34, 0.05) == "too_high"
    assert lr_verdict(math.log(3), np.array([1.25, 1.22, 1.24]), 0.34, 0.05) == "too_high"  # above init
    assert lr_verdict(math.log(3), np.array([1.09, 1.08, 1.07]), 0.40, 0.05) == "too_low"
    assert lr_verdict(math.log(3), np.array([1.0, 0.8, 0.6]), 0.70, 0.05) == ""  # progress


def _ctx(n_classes: int = 3):
    series: dict[str, list[float]] = {}
    events: list = []
    ctx = SimpleNamespace(
        run_id="r",
        step=0,
        epoch=0,
        data=SimpleNamespace(n_classes=n_classes),
        emit=events.append,
        read_series=lambda k: np.asarray(series.get(k, []), dtype=float),
        shared={},
    )
    return ctx, series, events


def _epochs(hook, ctx, series, rows, steps_per_epoch=10):
    for train, val, acc in rows:
        ctx.epoch += 1
        ctx.step += steps_per_epoch
        m = {"train_loss": train, "train_loss_eval": train, "val_loss": val, "train_acc": acc, "train_acc_eval": acc}
        for k, v in m.items():
            series.setdefault(f"epoch/{k}", []).append(v)
        hook.on_epoch_end(ctx, m)


def test_the_hook_calls_the_oscillation_too_high_after_enough_steps():
    hook = DiagnosticsHook(DiagnosticsConfig(slow_loss_epochs=3, slow_loss_steps=30))
    ctx, series, events = _ctx()
    hook.initial_loss = math.log(3)
    _epochs(hook, ctx, series, [(1.15, 1.16, 0.34), (1.45, 1.4, 0.33)])  # below 1.5× init
    assert not hook.found  # 20 steps: too early
    _epochs(hook, ctx, series, [(1.17, 1.18, 0.34)])
    assert [d.kind for d in hook.found] == ["lr_too_high"] and "oscillates" in hook.found[0].message


def test_no_overfitting_verdict_at_chance_accuracy():
    rows = [(1.2 - 0.02 * i, 1.10 + 0.03 * i, 0.34) for i in range(8)]  # train falls, val rises
    hook = DiagnosticsHook(DiagnosticsConfig(slow_loss_steps=10_000))
    ctx, series, _ = _ctx()
    hook.initial_loss = math.log(3)
    _epochs(hook, ctx, series, rows)
    assert "overfitting" not in _kinds(hook) and near_chance(0.34, 3)
    # the same curves with a model that fits the training set: overfitting
    hook = DiagnosticsHook(DiagnosticsConfig(slow_loss_steps=10_000))
    ctx, series, _ = _ctx()
    hook.initial_loss = math.log(3)
    _epochs(hook, ctx, series, [(t, v, 0.9) for t, v, _ in rows])
    assert "overfitting" in _kinds(hook) and not near_chance(0.9, 3)


def test_dead_relus_lead_and_no_underfitting_or_lr_advice_follows():
    t, hook, notices = _run(**{"model.bias_init": -3.0, "train.epochs": 10})
    kinds = _kinds(hook)
    assert "dead_units" in kinds and not kinds & {"underfitting", "lr_too_low"}, kinds
    assert hook.top().kind == "dead_units" and "dead" in notices[-1]


def test_zero_init_shows_symmetry_not_underfitting():
    for activation, cause in (("tanh", "symmetry"), ("relu", "dead_units")):
        t, hook, notices = _run(**{"model.init": "zeros", "model.activation": activation, "train.epochs": 8})
        kinds = _kinds(hook)
        assert cause in kinds and not kinds & {"underfitting", "lr_too_low"}, (activation, kinds)
        assert hook.top().kind == cause


def test_ranking_puts_causes_before_verdicts():
    found = [
        Diagnostic("underfitting", "warning", 50, "u"),
        Diagnostic("symmetry", "warning", 0, "s", layer="tanh 1"),
        Diagnostic("initial_loss", "info", 0, "i"),
        Diagnostic("dead_units", "warning", 10, "d"),
    ]
    assert top_finding(found).kind == "dead_units"
    assert top_finding([*found, Diagnostic("divergence", "error", 70, "x")]).kind == "divergence"
    assert top_finding(found[2:3]).kind == "initial_loss"
