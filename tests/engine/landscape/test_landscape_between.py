"""The 1D line between two runs' final weights: exact at both ends and in the middle, train
and validation, refusals with clear messages, and the session round trip."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.config import ExperimentConfig
from engine.data import load_data
from engine.experiment import build_trainer
from engine.landscape.analysis import eval_subset, model_from_record
from engine.landscape.between import (
    RunLine,
    line_between_records,
    line_to_record,
    record_weights,
    store_lines,
    stored_lines,
)
from engine.landscape.params import LandscapeError, ParamLayout
from engine.session import Session, load_session, record_of, save_session

BASE = {
    "data.name": "iris",
    "train.epochs": 5,
    "train.batch_size": 16,
    "device": "cpu",
    "landscape.sharpness_every": 0,
    "landscape.eval_samples": 40,
    "probes.enabled": False,
    "diagnostics.enabled": False,
    "metrics.enabled": False,
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _run(name: str, **updates):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    t = build_trainer(ExperimentConfig().with_updates({**BASE, **updates}), run_id=name)
    t.run()
    torch.set_num_threads(n)
    return t, record_of(t, name)


@pytest.fixture(scope="module")
def runs():
    return {
        "sgd": _run("sgd", **{"optim.name": "sgd", "optim.lr": 0.05}),
        "adam": _run("adam", **{"optim.name": "adam", "optim.lr": 0.01}),
        "drop": _run("drop", **{"optim.name": "adam", "optim.lr": 0.01, "model.dropout": 0.3}),
        "wide": _run("wide", **{"model.hidden": [48]}),
    }


def _loss_acc(model, x, y) -> tuple[float, float]:
    m = copy.deepcopy(model).eval()
    with torch.no_grad():
        out = m(x)
    return float(F.cross_entropy(out, y)), float((out.argmax(-1) == y).float().mean())


def test_line_is_exact_at_both_runs_and_halfway(runs):
    (ta, ra), (tb, rb) = runs["sgd"], runs["adam"]
    line = line_between_records(ra, rb, n=41, extend=0.25)
    a = line.alpha
    assert a[0] == pytest.approx(-0.25, abs=0.02) and a[-1] == pytest.approx(1.25, abs=0.02)
    assert np.any(a == 0.0) and np.any(a == 1.0) and np.all(np.diff(a) > 0) and 38 <= len(a) <= 44
    i0, i1 = int(np.flatnonzero(a == 0.0)[0]), int(np.flatnonzero(a == 1.0)[0])
    data = ta.data
    for split, (x, y) in (
        ("train", eval_subset(data.x_train, data.y_train, 40)),
        ("val", eval_subset(data.x_val, data.y_val, 40)),
    ):
        la, aa = _loss_acc(ta.model, x, y)
        lb, ab = _loss_acc(tb.model, x, y)
        assert getattr(line, f"{split}_loss")[i0] == pytest.approx(la, rel=1e-5)
        assert getattr(line, f"{split}_loss")[i1] == pytest.approx(lb, rel=1e-5)
        assert getattr(line, f"{split}_acc")[i0] == pytest.approx(aa, abs=1e-6)
        assert getattr(line, f"{split}_acc")[i1] == pytest.approx(ab, abs=1e-6)
    # near halfway and beyond B: (1−α)·θ_A + α·θ_B, evaluated directly
    x, y = eval_subset(data.x_val, data.y_val, 40)
    for k in (int(np.argmin(np.abs(a - 0.5))), len(a) - 1):
        mid = copy.deepcopy(ta.model)
        with torch.no_grad():
            for pm, pa, pb in zip(mid.parameters(), ta.model.parameters(), tb.model.parameters()):
                pm.copy_((1 - a[k]) * pa + a[k] * pb)
        assert line.val_loss[k] == pytest.approx(_loss_acc(mid, x, y)[0], rel=1e-4)
    assert line.eval_samples == len(x) and line.a == "sgd" and line.b == "adam"
    # the barrier: 0 at both ends by construction, so never negative; the height of a bump
    assert line.barrier("val") >= 0.0 and line.barrier("train") >= 0.0
    bump = RunLine(
        "a",
        "b",
        np.array([-0.5, 0.0, 0.5, 1.0, 1.5]),
        np.array([9.0, 1.0, 3.0, 2.0, 9.0]),
        np.zeros(5),
        np.array([9.0, 1.0, 1.2, 2.0, 9.0]),
        np.zeros(5),
    )
    assert bump.barrier("train") == pytest.approx(3.0 - 1.5) and bump.barrier("val") == pytest.approx(0.0)


def test_dropout_may_differ_and_the_far_end_is_run_b(runs):
    (ta, ra), (tb, rb) = runs["adam"], runs["drop"]
    line = line_between_records(ra, rb, n=21)
    i1 = int(np.flatnonzero(line.alpha == 1.0)[0])
    x, y = eval_subset(ta.data.x_val, ta.data.y_val, 40)
    assert line.val_loss[i1] == pytest.approx(_loss_acc(tb.model, x, y)[0], rel=1e-5)


def test_refusals_name_the_problem(runs):
    ra, rb, rw = runs["sgd"][1], runs["adam"][1], runs["wide"][1]
    with pytest.raises(LandscapeError, match=r"different architectures — model.hidden \(\[32, 32\] vs \[48\]\)"):
        line_between_records(ra, rw)
    with pytest.raises(LandscapeError, match="two different runs"):
        line_between_records(ra, ra)
    diverged = copy.copy(rb)
    diverged.state = "diverged"
    with pytest.raises(LandscapeError, match="run 'adam' diverged"):
        line_between_records(ra, diverged)
    bare = copy.copy(rb)
    bare.arrays = {k: v for k, v in rb.arrays.items() if not k.startswith("weights/")}
    bare.checkpoint = None
    with pytest.raises(LandscapeError, match="run 'adam' has no saved weights"):
        line_between_records(ra, bare)
    nan = copy.copy(rb)
    nan.arrays = {k: (np.full_like(v, np.nan) if k.startswith("weights/") else v) for k, v in rb.arrays.items()}
    with pytest.raises(LandscapeError, match="NaN or inf"):
        line_between_records(ra, nan)


def test_weights_come_from_the_checkpoint_when_the_hook_saved_none(runs):
    from engine.session import capture_checkpoint

    t, rec = runs["adam"]
    bare = copy.copy(rec)
    bare.arrays = {k: v for k, v in rec.arrays.items() if not k.startswith("weights/")}
    bare.checkpoint = capture_checkpoint(t)
    d = t.data
    _m, flat = record_weights(bare, d.n_features, d.n_classes, d.input_shape)
    _m2, flat2 = record_weights(rec, d.n_features, d.n_classes, d.input_shape)
    assert torch.equal(flat, flat2) and flat.numel() == ParamLayout.of(t.model).size
    assert torch.equal(model_from_record(bare, d)[1], flat)  # surfaces of such runs work too


def test_line_from_a_live_model_to_a_record_of_another_session(runs, tmp_path):
    (ta, _ra), (_tb, rb) = runs["sgd"], runs["adam"]
    path = tmp_path / "other.descent"
    save_session(Session(runs=[rb]), path)
    other = load_session(path).runs[0]
    data = load_data(ta.config)
    line = line_to_record("current", ta.config, "running", ta.model, other, data, n=21)
    ref = line_between_records(runs["sgd"][1], rb, n=21)
    assert line.a == "current" and line.b == "adam"
    assert np.allclose(line.val_loss, ref.val_loss, rtol=1e-6) and np.allclose(line.train_acc, ref.train_acc)


def test_session_round_trip_is_byte_identical(runs, tmp_path):
    line = line_between_records(runs["sgd"][1], runs["adam"][1], n=21)
    line2 = line_between_records(runs["adam"][1], runs["drop"][1], n=11)
    s = Session(runs=[runs["sgd"][1], runs["adam"][1]])
    store_lines(s, [line, line2], "comparison/line", ("comparison_lines",))
    p1, p2 = tmp_path / "a.descent", tmp_path / "b.descent"
    save_session(s, p1)
    loaded = load_session(p1)
    back, problems = stored_lines(loaded, "comparison/line", ("comparison_lines",))
    assert problems == [] and [(b.a, b.b) for b in back] == [("sgd", "adam"), ("adam", "drop")]
    assert np.array_equal(back[0].val_loss, line.val_loss) and np.array_equal(back[1].alpha, line2.alpha)
    store_lines(loaded, back, "comparison/line", ("comparison_lines",))
    save_session(loaded, p2)
    assert p1.read_bytes() == p2.read_bytes()
    # nested meta path (the Landscape tab's) and a damaged file: reported, not raised
    s2 = Session()
    store_lines(s2, [line], "landscape/line_to", ("landscape", "line_to"))
    del s2.arrays["landscape/line_to/0/val_acc"]
    lines, problems = stored_lines(s2, "landscape/line_to", ("landscape", "line_to"))
    assert lines == [] and "lacks landscape/line_to/0/val_acc" in problems[0]
    assert stored_lines(Session(), "landscape/line_to", ("landscape", "line_to")) == ([], [])


def test_run_line_from_arrays_refuses_ragged_arrays():
    arrays = {
        "p/alpha": np.linspace(0, 1, 5),
        **{f"p/{k}": np.zeros(4) for k in ("train_loss", "train_acc", "val_loss", "val_acc")},
    }
    with pytest.raises(LandscapeError, match="different lengths"):
        RunLine.from_arrays(arrays, "p", {})


def test_equal_networks_written_two_ways_are_one_architecture():
    from engine.landscape.between import architecture_differences

    base = ExperimentConfig().with_updates({"model.hidden": [8, 8]})
    a = base.with_updates({"model.batch_norm": "before"})
    b = base.with_updates({"model.batch_norm_layers": ["before", "before"]})
    assert architecture_differences(a, b) == []
    c = base.with_updates({"model.batch_norm_layers": ["before", "off"]})
    assert architecture_differences(a, c) == ["model.batch_norm_layers (['before', 'before'] vs ['before', 'off'])"]
    # settings an MLP does not read are not differences
    assert architecture_differences(base, base.with_updates({"model.conv_channels": [4]})) == []
