"""The Trainer's lifecycle: hook order (every feature on), stop, state_dict/load_state_dict."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

import pytest
import torch

from engine.config import ExperimentConfig
from engine.experiment import FEATURES, build_hooks
from engine.states import RunState
from engine.train import Trainer
from engine.train.hooks import TrainerHook

PHASES = ("setup", "on_start", "on_resume", "before_step", "after_backward", "after_step", "on_epoch_end", "on_finish")
STEP = ["before_step", "after_backward", "after_step"]


def every_feature(**updates) -> ExperimentConfig:
    """A small 2D run with every feature switched on."""
    return ExperimentConfig().with_updates(
        {
            "device": "cpu",
            "train.threads": 1,
            "data.n_samples": 120,
            "model.hidden": [8, 8],
            "model.batch_norm": "after",
            "train.batch_size": 40,
            "train.epochs": 2,
            "probes.every": 2,
            "reg.l2": 1e-3,
            "reg.early_stopping": True,
            "landscape.snapshots": True,
            "landscape.sharpness_every": 1,
            "probes.gradient_noise": True,
            "probes.gradient_noise_every": 2,
            "probes.gradient_noise_batch_sizes": [4, 16],
            "probes.gradient_noise_draws": 2,
            **updates,
        }
    )


class Recorder(TrainerHook):
    """Records every call it gets, in order."""

    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def setup(self, ctx) -> None:
        self.calls.append("setup")

    def on_start(self, ctx) -> None:
        self.calls.append("on_start")

    def on_resume(self, ctx) -> None:
        self.calls.append("on_resume")

    def before_step(self, ctx, xb, yb) -> None:
        self.calls.append("before_step")

    def after_backward(self, ctx) -> None:
        self.calls.append("after_backward")

    def after_step(self, ctx) -> None:
        self.calls.append("after_step")

    def on_epoch_end(self, ctx, metrics: Mapping[str, float]) -> None:
        self.calls.append("on_epoch_end")

    def on_finish(self, ctx) -> None:
        self.calls.append("on_finish")


def _watch(hooks: list[TrainerHook], log: list[tuple[str, str]]) -> None:
    """Wrap every phase method of each hook instance so calls land in `log` as (hook, phase)."""
    for h in hooks:
        for phase in PHASES:
            fn = getattr(h, phase)

            def wrapped(*a, _fn=fn, _name=h.name, _phase=phase):
                log.append((_name, _phase))
                return _fn(*a)

            setattr(h, phase, wrapped)


def test_hooks_are_called_in_the_exact_order_with_every_feature_on():
    cfg = every_feature()
    rec = Recorder()
    log: list[tuple[str, str]] = []

    def hooks(config, data):
        hs = build_hooks(config, data)
        _watch(hs, log)
        return [*hs, rec]

    t = Trainer(cfg, hooks=hooks)
    names = [h.name for h in t.hooks]
    assert names == [
        "probes",
        "updates",
        "diagnostics",
        "metrics",
        "penalty",
        "early_stopping",
        "batchnorm",
        "decision_boundary",
        "gradient_noise",
        "landscape",
        "network",
        "recorder",
    ]
    assert t.run() == RunState.FINISHED
    assert t.steps_per_epoch == 3 and t.step == 6  # 96 training samples: batches of 40, 40 and 16
    per_epoch = STEP * 3 + ["on_epoch_end"]
    assert rec.calls == ["setup", "on_start", *per_epoch, *per_epoch, "on_finish"]

    # Each phase reaches the features in their declared order; a feature that does not
    # override a per-step phase is never called for it.
    declared = [f.name for f in sorted(FEATURES, key=lambda f: f.order)]
    overrides = {
        phase: [h.name for h in t.hooks[:-1] if getattr(type(h), phase) is not getattr(TrainerHook, phase)]
        for phase in PHASES
    }
    for phase in PHASES:
        seen = [name for name, p in log if p == phase]
        if phase in STEP:
            assert set(seen) == set(overrides[phase]), phase
            assert len(seen) == t.step * len(overrides[phase]), phase
        first_round = seen[: len(set(seen))]
        assert first_round == [n for n in declared if n in set(seen)], phase
    assert overrides["after_backward"] == ["penalty"]
    assert [n for n, p in log if p == "on_resume"] == []
    assert [n for n, p in log if p == "on_start"] == names[:-1]


def test_metrics_are_read_only_to_hooks_and_record_epoch_adds_to_them():
    class Writes(TrainerHook):
        name = "writes"

        def on_epoch_end(self, ctx, metrics) -> None:
            with pytest.raises(TypeError):
                metrics["x"] = 1.0  # type: ignore[index] - the write a read-only Mapping refuses
            ctx.record_epoch("twice_loss", 2 * metrics["train_loss"])
            ctx.record_epoch("quiet", 1.0, series=False)

    events: list = []
    cfg = every_feature(**{"model.batch_norm": "off", "reg.early_stopping": False})
    t = Trainer(cfg, emit=events.append, hooks=[Writes()])
    t.run()
    ends = [e for e in events if type(e).__name__ == "EpochEnd"]
    assert [e.metrics["twice_loss"] for e in ends] == pytest.approx(2 * t.read_series("epoch/train_loss"))
    assert all(e.metrics["quiet"] == 1.0 for e in ends) and "epoch/quiet" not in t.series
    with pytest.raises(RuntimeError, match="outside on_epoch_end"):
        t.record_epoch("late", 0.0)


def test_stop_is_one_sequence_flush_state_and_on_finish():
    rec = Recorder()
    events: list = []
    t = Trainer(every_feature(), emit=events.append, hooks=[rec])
    t.state = RunState.RUNNING
    for _ in range(3):
        t.train_step()
    assert t.stop() is True
    assert t.state == RunState.STOPPED and rec.calls[-1] == "on_finish"
    assert len(t.read_series("step/loss")) == 3  # the buffered steps were reported
    assert t.stop() is False and rec.calls.count("on_finish") == 1  # over already: nothing twice


def test_train_package_imports_no_feature_package():
    code = (
        "import sys, engine.train, engine.train.worker, engine.train.context\n"
        "bad = [m for m in sys.modules if m.split('.')[:2] in (['engine', p] for p in "
        "('probes', 'diagnostics', 'metrics', 'regularization', 'landscape', 'batchnorm', 'boundary', "
        "'gradnoise', 'updates', 'experiment', 'session'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_state_dict_refuses_another_model():
    cfg = every_feature(**{"model.batch_norm": "off"})
    state = Trainer(cfg).state_dict()
    other = Trainer(cfg.with_updates({"model.hidden": [8, 4]}))
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict(state)


def test_state_dict_is_a_snapshot():
    t = Trainer(every_feature(**{"model.batch_norm": "off"}))
    t.run(max_steps=1)
    state = t.state_dict()
    before = {k: v.clone() for k, v in state["model"].items()}
    t.run(max_steps=2)
    for k, v in before.items():
        assert torch.equal(v, state["model"][k]), k
