"""A malformed checkpoint (a member missing or of the wrong shape or dtype, wrong JSON types
in its meta) makes `continue_run` raise CheckpointError naming the run and the member —
never a bare TypeError/ValueError/KeyError from inside the trainer or a hook."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest

from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import Checkpoint, CheckpointError, RunRecord, capture_checkpoint, continue_run, record_of


@pytest.fixture(scope="module")
def saved_run() -> RunRecord:
    config = ExperimentConfig().with_updates(
        {
            "device": "cpu",
            "train.threads": 1,
            "data.n_samples": 120,
            "model.hidden": [8],
            "model.batch_norm": "after",
            "train.batch_size": 40,
            "train.epochs": 1,
            "probes.every": 2,
            "landscape.snapshots": True,
        }
    )
    trainer = build_trainer(config, run_id="spiral-1")
    trainer.run()
    record = record_of(trainer)
    record.checkpoint = capture_checkpoint(trainer)
    return record


def _set(path: tuple, value: object) -> Callable[[Checkpoint], None]:
    def change(ck: Checkpoint) -> None:
        node = ck.meta
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return change


def _array(name: str, change: Callable[[np.ndarray], np.ndarray | None]) -> Callable[[Checkpoint], None]:
    def apply(ck: Checkpoint) -> None:
        new = change(ck.arrays[name])
        if new is None:
            del ck.arrays[name]
        else:
            ck.arrays[name] = new

    return apply


CASES = {
    "weight missing": (_array("model/1.weight", lambda a: None), "'1.weight' is missing"),
    "weight reshaped": (_array("model/1.bias", lambda a: a[..., None]), "1.bias"),
    "weight as text": (_array("model/1.weight", lambda a: np.array(["w"])), "model/1.weight"),
    "random state missing": (_array("rng/batch", lambda a: None), "rng/batch"),
    "random state as floats": (_array("rng/global", lambda a: a.astype(np.float32)), "rng/global"),
    "last good weights as text": (_array("good/0", lambda a: np.array(["x"])), "good/0"),
    "landscape hook state missing": (_array("hooks/landscape/trajectory_steps", lambda a: None), "landscape"),
    "a moment missing": (_array("optim/0/exp_avg", lambda a: None), "optim/ member is missing or malformed"),
    "a moment of another shape": (_array("optim/1/exp_avg_sq", lambda a: a[:1]), "optim/1/exp_avg_sq"),
    "step is text": (_set(("step",), "x"), "step"),
    "epoch is null": (_set(("epoch",), None), "epoch"),
    "optimizer is null": (_set(("optimizer",), None), "optimizer"),
    "schedule is text": (_set(("schedule",), "x"), "schedule"),
    "schedule step_count is null": (_set(("schedule", "step_count"), None), "schedule"),
    "epoch sums loss is null": (_set(("epoch_sums", "loss"), None), "epoch_sums.loss"),
    "loss_ref is a list": (_set(("loss_ref",), [1]), "loss_ref"),
    "hooks is text": (_set(("hooks",), "x"), "hooks"),
    "probe hook interval is null": (_set(("hooks", "probes", "every"), None), "probes"),
    "a diagnostics finding without its kind": (_set(("hooks", "diagnostics", "found"), [{"a": 1}]), "diagnostics"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_checkpoint_is_a_checkpoint_error_naming_run_and_member(saved_run: RunRecord, case: str) -> None:
    change, member = CASES[case]
    record = copy.deepcopy(saved_run)
    assert record.checkpoint is not None
    change(record.checkpoint)
    with pytest.raises(CheckpointError) as raised:
        continue_run(record, epochs=2)
    message = str(raised.value)
    assert message.startswith("run 'spiral-1': ") and member in message, message
    assert "\n" not in message and len(message) < 300, message


def test_the_unchanged_checkpoint_continues(saved_run: RunRecord) -> None:
    trainer, _ = continue_run(copy.deepcopy(saved_run), epochs=2)
    assert trainer.step == saved_run.checkpoint.meta["step"] > 0  # type: ignore[union-attr]
