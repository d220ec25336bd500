"""The learning-rate range test (engine/tuning/lr_range.py): its suggestion trains well on
digits, the run it starts from goes on bit for bit as without it, the stop rule, bad
settings, and the result's session round trip."""

from __future__ import annotations

import math
import random
import zipfile

import numpy as np
import pytest
import torch

from engine.config import ExperimentConfig
from engine.data import load_data
from engine.experiment import build_trainer
from engine.jobs import JobCancelled, run_job
from engine.session import FORMAT_VERSION, Session, load_session, save_session
from engine.train.trainer import Trainer
from engine.tuning.lr_range import LrRangeError, LrRangeSettings, lr_range_job
from engine.tuning.lr_range_snapshot import (
    STEEPEST,
    STOP_DIVERGED,
    LrRangeResult,
    smooth,
    stored_result,
    suggestions,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits():
    cfg = ExperimentConfig().with_updates({"data.name": "digits", "device": "cpu", "train.threads": 1})
    return cfg, load_data(cfg)


@pytest.fixture(scope="module")
def digits_result(digits) -> LrRangeResult:
    cfg, data = digits
    return run_job(lr_range_job(cfg, data=data))


def _final_train_loss(cfg: ExperimentConfig, data, lr: float) -> float:
    t = Trainer(cfg.with_updates({"optim.lr": lr, "train.epochs": 3}), data=data, hooks=[])
    t.run()
    loss = float(t.read_series("epoch/train_loss")[-1]) if t.epoch == 3 else math.nan
    return loss if math.isfinite(loss) else math.inf  # a diverged run is the worst


def test_suggested_lr_trains_lower_in_3_epochs_than_a_100x_smaller_or_larger_one(digits, digits_result):
    cfg, data = digits
    r = digits_result
    assert r.done == 100 and r.lrs[0] == pytest.approx(1e-6) and r.lrs[-1] == pytest.approx(10.0)
    assert r.suggestion == STEEPEST and r.suggested_lr == r.steepest_lr
    assert r.min_over_10_lr == pytest.approx(r.min_loss_lr / 10)
    # The smoothed curve is the bias-corrected moving average of the raw losses.
    np.testing.assert_allclose(r.smoothed, smooth(r.losses, r.beta), rtol=1e-12)
    assert 1e-3 < r.suggested_lr < r.min_loss_lr  # where the loss falls fastest, before its minimum
    lr = r.suggested_lr
    best, low, high = (_final_train_loss(cfg, data, x) for x in (lr, lr / 100, lr * 100))
    assert best < 0.5 * low, (best, low)
    assert best < 0.5 * high, (best, high)


def test_a_run_continued_after_the_test_equals_the_run_without_it_bit_for_bit():
    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "device": "cpu",
            "train.threads": 1,
            "model.dropout": 0.2,  # its own random generators: they must not move either
            "optim.name": "momentum",
            "schedule.name": "cosine",
            "schedule.t_max": 4,
            "train.epochs": 4,
            "probes.enabled": False,
            "metrics.enabled": False,
        }
    )
    with_test, without = build_trainer(cfg), build_trainer(cfg)
    for t in (with_test, without):
        t.run(max_steps=30)  # mid-epoch: a batch order half used
    before = with_test.state_dict()
    rng = torch.get_rng_state()
    result = run_job(lr_range_job(cfg, LrRangeSettings(1e-4, 1.0, 25), start_state=before))
    assert torch.equal(torch.get_rng_state(), rng)
    without.run(max_steps=1)
    # The sweep started from the run's state: its first loss (taken before its first update)
    # is the loss of the run's next minibatch with the run's weights.
    assert result.losses[0] == without.read_series("step/loss")[-1]
    with_test.run(max_steps=1 + 40)
    without.run(max_steps=40)
    a, b = with_test.state_dict(), without.state_dict()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for i, st in a["optimizer"]["state"].items():
        for k, v in st.items():
            assert torch.equal(v, b["optimizer"]["state"][i][k]) if isinstance(v, torch.Tensor) else v == b[k]
    assert a["schedule"] == b["schedule"] and a["pos"] == b["pos"] and torch.equal(a["perm"], b["perm"])
    assert np.array_equal(a["series"]["step/loss"], b["series"]["step/loss"])
    assert np.array_equal(a["series"]["step/lr"], b["series"]["step/lr"])


def test_cancelling_the_test_puts_the_process_random_states_back(digits, monkeypatch):
    import engine.tuning.lr_range as lr_range

    class Drawing(Trainer):  # a model or hook that draws from the process-wide generators
        def train_step(self) -> bool:
            torch.rand(3), np.random.rand(), random.random()
            return super().train_step()

    monkeypatch.setattr(lr_range, "Trainer", Drawing)
    cfg, data = digits
    torch_state, np_state, py_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    steps = []
    with pytest.raises(JobCancelled):
        run_job(lr_range_job(cfg, LrRangeSettings(1e-5, 1.0, 50), data=data), steps.append, lambda: len(steps) >= 5)
    assert len(steps) == 5
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1]) and random.getstate() == py_state
    # Without the restore the draws would show.
    run_job(lr_range_job(cfg, LrRangeSettings(1e-5, 1.0, 3), data=data))
    assert torch.equal(torch.get_rng_state(), torch_state)
    torch.rand(3)
    assert not torch.equal(torch.get_rng_state(), torch_state)


def test_the_test_stops_once_the_smoothed_loss_passes_4x_its_minimum(digits):
    cfg, data = digits
    cfg = cfg.with_updates({"optim.name": "momentum"})
    r = run_job(lr_range_job(cfg, LrRangeSettings(1e-3, 10.0, 100), data=data))
    assert r.stop == STOP_DIVERGED and 10 < r.done < 100
    s = r.smoothed
    assert s[-1] > 4 * s[:-1].min()
    assert all(s[i] <= 4 * s[: i + 1].min() for i in range(len(s) - 1))  # not one step earlier
    assert "4× its minimum" in r.stop_text
    # A laxer rule runs further on the same curve.
    lax = run_job(lr_range_job(cfg, LrRangeSettings(1e-3, 10.0, 100, diverge_factor=50.0), data=data))
    assert lax.done > r.done and np.array_equal(lax.losses[: r.done], r.losses)


def test_a_loss_not_finite_from_the_start_is_one_clear_error(digits):
    cfg, data = digits
    t = Trainer(cfg, data=data, hooks=[])
    state = t.state_dict()
    state["model"] = {k: torch.full_like(v, float("nan")) for k, v in state["model"].items()}
    with pytest.raises(LrRangeError, match="not finite from the first iterations"):
        run_job(lr_range_job(cfg, LrRangeSettings(1e-4, 1.0, 10), start_state=state, data=data))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": 1.0, "end": 0.1}, "must be below end lr"),
        ({"start": 0.1, "end": 0.1}, "must be below end lr"),
        ({"start": 0.0}, "start lr must be a positive number"),
        ({"start": -1e-3}, "start lr must be a positive number"),
        ({"end": math.inf}, "end lr must be a positive number"),
        ({"end": 100.0}, "above 10, the largest optim.lr"),
        ({"iterations": 1}, r"iterations must be in \[2, "),
        ({"beta": 1.0}, "beta"),
        ({"diverge_factor": 1.0}, "diverge factor"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(kwargs, message):
    with pytest.raises(LrRangeError, match=message):
        LrRangeSettings(**kwargs)


def test_suggestions_of_a_known_curve():
    lrs = np.logspace(-4, 0, 41)
    # Falls fastest at lr 1e-2 (a tanh step in log lr), lowest at 1e-1, then rises.
    x = np.log10(lrs)
    curve = 2.0 - np.tanh(3 * (x + 2)) + np.where(x > -1, 8 * (x + 1) ** 2, 0.0)
    steepest, min_lr = suggestions(lrs, curve)
    assert steepest == pytest.approx(1e-2) and min_lr == pytest.approx(10 ** x[np.argmin(curve)])
    assert suggestions(lrs, np.linspace(1, 3, 41)) == (None, pytest.approx(1e-4))  # never falls: min/10 only


def test_the_result_round_trips_through_a_session_file_and_old_files_still_open(tmp_path, digits_result):
    session = Session()
    digits_result.store_in(session)
    path = save_session(session, tmp_path / "lr.descent")
    back = stored_result(load_session(path))
    assert back == digits_result and back.suggested_lr == digits_result.suggested_lr
    assert back.config == digits_result.config
    # A format-3 file (what this version wrote before the range test existed) opens without one.
    plain = save_session(Session(), tmp_path / "plain.descent")
    old = tmp_path / "v3.descent"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(old, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "manifest.json":
                data = data.replace(f'"format_version": {FORMAT_VERSION}'.encode(), b'"format_version": 3')
                assert b'"format_version": 3' in data
            dst.writestr(info, data)
    assert load_session(old).format_version == 3 and stored_result(load_session(old)) is None


def test_a_malformed_stored_result_names_the_problem(digits_result):
    session = Session()
    digits_result.store_in(session)
    session.arrays["lr_find/loss"] = session.arrays["lr_find/loss"][:-1]
    with pytest.raises(ValueError, match="'lr_find/loss' has shape"):
        stored_result(session)
    digits_result.store_in(session)
    session.meta["lr_find"]["steepest_lr"] = 5.0
    with pytest.raises(ValueError, match="suggestions do not match its curve"):
        stored_result(session)
    session.meta["lr_find"] = [1, 2]
    with pytest.raises(ValueError, match="expected a JSON object"):
        stored_result(session)
