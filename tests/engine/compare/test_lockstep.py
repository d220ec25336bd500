"""Comparisons: same init and batches for every variant, lockstep == alone, add/remove live."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from engine.compare import (
    ComparisonSpec,
    ComparisonWorker,
    LockstepRunner,
    Variant,
    config_differences,
    grid_variants,
    optimizer_variants,
    parse_vary,
)
from engine.config import ConfigError, ExperimentConfig
from engine.events import EventChannel, RunFinished, StateChanged, StepBatch
from engine.experiment import build_trainer


@pytest.fixture
def base() -> ExperimentConfig:
    return ExperimentConfig().with_updates(
        {
            "data.n_samples": 200,
            "model.hidden": [8, 8],
            "train.epochs": 2,
            "train.batch_size": 32,
            "device": "cpu",
            "probes.enabled": False,
            "diagnostics.enabled": False,
            "metrics.enabled": False,
        }
    )


def test_variants_share_init_and_batch_order(base):
    spec = ComparisonSpec(base, optimizer_variants(["sgd", "momentum", "adam"]))
    runner = LockstepRunner()
    for name, cfg in spec.configs():
        runner.add(name, cfg)
    ts = list(runner.trainers.values())
    init = ts[0].initial_state
    for t in ts[1:]:
        assert init.keys() == t.initial_state.keys()
        for k in init:
            assert torch.equal(init[k], t.initial_state[k]), k  # bitwise-identical initial weights
    seen: list[list[np.ndarray]] = [[] for _ in ts]
    for _ in range(9):  # crosses an epoch boundary (5 steps per epoch): the new permutation matches too
        runner.step()
        for i, t in enumerate(ts):
            seen[i].append(t.last_batch_indices.numpy().copy())
    for i in range(1, len(ts)):
        for a, b in zip(seen[0], seen[i]):
            assert np.array_equal(a, b)
    # ... and the optimizers really differ: after 9 steps the weights are no longer equal
    w = [t.model.state_dict() for t in ts]
    assert not torch.equal(w[0]["1.weight"], w[2]["1.weight"])


def test_lockstep_run_equals_run_alone_even_with_dropout(base):
    cfg = base.with_updates({"model.dropout": 0.3})
    runner = LockstepRunner()
    runner.add("a", cfg)
    runner.add("b", cfg.with_updates({"optim.name": "adam"}))
    runner.run()
    alone = build_trainer(cfg)
    torch.set_rng_state(torch.Generator().manual_seed(cfg.seed + 3).get_state())
    alone.run()
    got = runner.trainers["a"].series["step/loss"].array()
    assert len(got) == alone.step == 10
    assert np.array_equal(got, alone.series["step/loss"].array())
    assert runner.trainers["a"].state == runner.trainers["b"].state == "finished"


def test_add_and_remove_while_others_continue(base):
    events = []
    runner = LockstepRunner(emit=events.append)
    runner.add("sgd", base)
    runner.add("adam", base.with_updates({"optim.name": "adam"}))
    for _ in range(3):
        runner.step()
    rec = runner.remove("sgd")
    assert rec.state == "stopped" and rec.final["steps"] == 3
    runner.add("rmsprop", base.with_updates({"optim.name": "rmsprop"}))
    runner.run()
    assert runner.trainers["adam"].step == 10 and runner.trainers["rmsprop"].step == 10
    finished = {e.run_id for e in events if isinstance(e, RunFinished)}
    assert finished == {"adam", "rmsprop"}
    names = [r.name for r in runner.records(checkpoints=False)]
    assert names == ["adam", "rmsprop", "sgd"]
    with pytest.raises(ValueError, match="already"):
        runner.add("adam", base)


def test_parse_vary_grid_and_bad_input(base):
    vary = parse_vary(["optim.name=sgd,adam", "optim.lr=0.1,0.01"])
    variants = grid_variants(vary)
    assert [v.name for v in variants] == [
        "name=sgd lr=0.1",
        "name=sgd lr=0.01",
        "name=adam lr=0.1",
        "name=adam lr=0.01",
    ]
    assert variants[3].overrides == {"optim.name": "adam", "optim.lr": 0.01}
    assert [v.name for v in grid_variants(parse_vary(["optim.name=sgd,adam"]))] == ["sgd", "adam"]
    assert grid_variants(parse_vary(["model.hidden=16;8,8"]))[1].overrides == {"model.hidden": [8, 8]}
    with pytest.raises(ConfigError, match="optim.nme"):
        parse_vary(["optim.nme=sgd"])
    with pytest.raises(ConfigError, match="optim.lr"):
        parse_vary(["optim.lr=0.1,fast"])
    spec = ComparisonSpec(base, [Variant("hot", {"optim.lr": 50.0})])
    with pytest.raises(ConfigError, match="variant 'hot': .*optim.lr"):
        spec.configs()
    with pytest.raises(ConfigError, match="unique"):
        ComparisonSpec(base, [Variant("a"), Variant("a")]).configs()


def test_config_differences_and_spec_json(base):
    spec = ComparisonSpec(base, grid_variants(parse_vary(["optim.name=sgd,adam", "model.init=kaiming,xavier_normal"])))
    diffs = config_differences([c for _, c in spec.configs()])
    assert set(diffs) == {"optim.name", "model.init"}
    assert diffs["optim.name"] == ["sgd", "sgd", "adam", "adam"]
    again = ComparisonSpec.from_json(spec.to_json())
    assert again.base == base and [v.overrides for v in again.variants] == [v.overrides for v in spec.variants]


def test_worker_runs_comparison_and_takes_new_runs(base):
    ch = EventChannel(capacity=4096)
    w = ComparisonWorker(ch)
    cfg = base.with_updates({"train.epochs": 30})
    w.start([("sgd", cfg), ("adam", cfg.with_updates({"optim.name": "adam"}))])
    events = []
    deadline = time.time() + 60

    def steps(run: str) -> int:
        return sum(len(e.steps) for e in events if isinstance(e, StepBatch) and e.run_id == run)

    while time.time() < deadline and steps("adam") < 20:
        events += ch.drain()
        time.sleep(0.02)
    w.add("momentum", cfg.with_updates({"optim.name": "momentum"}))
    w.remove("sgd")
    while time.time() < deadline and w.state != "finished":
        events += ch.drain()
        time.sleep(0.02)
    events += ch.drain()
    assert w.shutdown(2.0)
    assert w.state == "finished"
    assert steps("adam") == 150 and steps("momentum") == 150 and 20 <= steps("sgd") < 150
    states = [(e.run_id, e.state) for e in events if isinstance(e, StateChanged)]
    assert ("sgd", "removed") in states and ("comparison", "finished") in states
