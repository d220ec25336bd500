"""Diagnostics: initial loss vs ln C, divergence, slow loss, over/underfitting, layer warnings,
and the tiny-subset sanity check (issue 5)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import ExperimentConfig
from engine.diagnostics import (
    check_initial_loss,
    is_overfitting,
    is_underfitting,
    layer_findings,
    loss_too_slow,
    overfit_tiny_subset,
)
from engine.diagnostics.snapshot import DiagnosticSnapshot
from engine.events import EventChannel, Notice
from engine.experiment import build_trainer
from engine.session import record_of


def cfg(**updates) -> ExperimentConfig:
    base = {"data.name": "digits", "device": "cpu", "train.threads": 1, "metrics.enabled": False, "probes.every": 10}
    base.update(updates)
    return ExperimentConfig().with_updates(base)


@pytest.fixture(scope="module")
def digits():
    from engine.data import load_data

    return load_data(cfg())


def test_initial_loss_check_against_ln_c():
    assert check_initial_loss(2.35, 10, 0.5).level == "info"
    far = check_initial_loss(9.0, 10, 0.5)
    assert far.level == "warning" and "ln 10 = 2.303" in far.message and "too large" in far.message
    assert check_initial_loss(0.01, 10, 0.5).level == "warning"
    assert check_initial_loss(float("nan"), 3, 0.5).level == "error"


def test_sgd_lr_10_on_digits_is_flagged_as_lr_too_high():
    ch = EventChannel(100_000)
    t = build_trainer(cfg(**{"optim.name": "sgd", "optim.lr": 10.0, "train.epochs": 3}), emit=ch.put)
    t.run()
    diags = record_of(t).meta["diagnostics"]
    high = [d for d in diags if d["kind"] in ("lr_too_high", "divergence")]
    assert high and "too high" in high[0]["message"] and high[0]["step"] <= 23
    assert not any(d["kind"] == "lr_too_low" for d in diags)
    events = ch.drain()
    assert any(isinstance(e, DiagnosticSnapshot) and e.finding.kind == high[0]["kind"] for e in events)
    assert any(isinstance(e, Notice) and "too high" in e.message for e in events)


def test_nan_loss_gives_a_divergence_diagnostic_with_its_step():
    # A huge lr with plain SGD on a sigmoid net sends the loss to NaN/Inf.
    t = build_trainer(
        cfg(
            **{
                "optim.name": "sgd",
                "optim.lr": 10.0,
                "model.init": "normal",
                "model.init_std": 10.0,
                "model.activation": "relu",
                "train.epochs": 5,
                "train.report_every": 1,
            }
        )
    )
    # Force the NaN deterministically: corrupt the weights after a few steps.
    t.run(max_steps=3)
    import torch

    with torch.no_grad():
        next(t.model.parameters()).fill_(float("nan"))
    t.run(max_steps=2)
    assert t.state == "diverged"
    d = [d for d in record_of(t).meta["diagnostics"] if d["kind"] == "divergence"]
    assert len(d) == 1 and d[0]["level"] == "error" and d[0]["step"] == 4 and "too high" in d[0]["message"]


def test_too_low_lr_is_flagged():
    t = build_trainer(cfg(**{"optim.name": "sgd", "optim.lr": 1e-5, "train.epochs": 3}))
    t.run()
    kinds = [d["kind"] for d in record_of(t).meta["diagnostics"]]
    assert "lr_too_low" in kinds and "lr_too_high" not in kinds


def test_healthy_run_raises_no_warning():
    t = build_trainer(cfg(**{"train.epochs": 3}))
    t.run()
    levels = [d["level"] for d in record_of(t).meta["diagnostics"]]
    assert levels == ["info"]


def test_overfitting_and_underfitting_rules():
    train = np.linspace(1.0, 0.1, 12)
    val = np.r_[np.linspace(1.0, 0.5, 6), np.linspace(0.55, 0.9, 6)]
    assert is_overfitting(train, val, 5)
    assert not is_overfitting(train, np.linspace(1.0, 0.5, 12), 5)
    assert not is_overfitting(train[:4], val[:4], 5)  # not sustained long enough
    flat = np.full(10, 2.0)
    assert is_underfitting(flat, flat + 0.05, 5, n_classes=10)
    assert not is_underfitting(flat * 0.1, flat * 0.1, 5, n_classes=10)  # low loss: fine
    assert not is_underfitting(flat, flat + 1.0, 5, n_classes=10)  # far apart: not underfitting
    assert loss_too_slow(2.3, 2.25, 0.2, 0.05) and not loss_too_slow(2.3, 1.0, 0.7, 0.05)


def test_layer_findings_name_the_layer_and_step():
    stats = {
        "nonfinite": np.array([0, 3, 0]),
        "saturated": np.array([0.8, np.nan, np.nan]),
        "dead": np.array([np.nan, 0.0, 0.75]),
        "unit_spread": np.array([0.3, 0.2, 0.4]),
    }
    out = layer_findings(40, ["tanh 1", "relu 2", "relu 3"], ["tanh", "relu", "relu"], stats, 0.5, 0.5)
    kinds = {(d.kind, d.layer) for d in out}
    assert kinds == {("saturation", "tanh 1"), ("nonfinite_activations", "relu 2"), ("dead_units", "relu 3")}
    assert all(d.step == 40 for d in out)


def test_saturation_warning_fires_on_a_saturating_init():
    # output_init=same: the output layer gets the big init too, so the initial loss shows it
    # (the default small output layer keeps the initial loss near ln C)
    t = build_trainer(
        cfg(
            **{
                "model.activation": "sigmoid",
                "model.init": "normal",
                "model.init_std": 5.0,
                "model.output_init": "same",
                "train.epochs": 1,
            }
        )
    )
    t.run(max_steps=1)
    diags = record_of(t).meta["diagnostics"]
    sat = [d for d in diags if d["kind"] == "saturation"]
    assert sat and sat[0]["step"] == 0 and sat[0]["value"] > 0.5
    assert any(d["kind"] == "initial_loss" and d["level"] == "warning" for d in diags)


def test_tiny_subset_overfit_passes_on_healthy_model_and_fails_with_shuffled_labels(digits):
    c = cfg()
    ok = overfit_tiny_subset(c, n_samples=20, max_steps=300, data=digits)
    assert ok.passed and ok.accuracy == 1.0 and ok.steps < 300 and "passed" in ok.message
    bad = overfit_tiny_subset(c, n_samples=20, max_steps=300, shuffle_labels=True, data=digits)
    assert not bad.passed and bad.accuracy < 0.9 and bad.steps == 300 and "failed" in bad.message
    with pytest.raises(ValueError):
        overfit_tiny_subset(c, n_samples=0, data=digits)
