"""The search space: parsing and checking `--space`, define-by-run sampling, log sampling, the grid."""

from __future__ import annotations

import itertools
import math

import numpy as np
import optuna
import pytest
from scipy import stats

from engine.config import ExperimentConfig
from engine.tuning.search import _suggest, make_sampler
from engine.tuning.space import (
    DEFAULT_RANGES,
    SpaceError,
    narrowed_space,
    parse_param,
    parse_space,
    sample,
    trial_config,
)


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("optim.lrr=log:1e-5:1", ["optim.lrr", "unknown"]),
        ("optim.name=log:1e-5:1", ["optim.name", "numeric", "choice"]),
        ("model.hidden=linear:1:5", ["model.hidden", "numeric"]),
        ("optim.lr=log:0.1:0.1", ["optim.lr", "empty"]),
        ("optim.lr=linear:1:0.1", ["optim.lr", "inverted"]),
        ("optim.weight_decay=log:0:0.1", ["optim.weight_decay", "above 0"]),
        ("optim.lr=log:-1:0.1", ["optim.lr", "above 0"]),
        ("optim.lr=log:1e-5:100", ["optim.lr", "range"]),
        ("train.batch_size=log:1:100", ["train.batch_size", "integer"]),
        ("optim.lr=cubic:1:2", ["optim.lr", "unknown scale"]),
        ("optim.lr=log:a:1", ["optim.lr", "not a number"]),
        ("optim.name=choice:sgd,lbfgs", ["optim.name", "lbfgs"]),
        ("train.batch_size=choice:", ["train.batch_size", "empty"]),
        ("model.dropout_layers", ["no default range"]),
    ],
)
def test_bad_space_items_are_one_line_errors_naming_the_key(item: str, words: list[str]) -> None:
    with pytest.raises(SpaceError) as e:
        parse_param(item)
    text = str(e.value)
    assert "\n" not in text
    for w in words:
        assert w in text, text


def test_list_choices_defaults_and_round_trip() -> None:
    p = parse_param("model.hidden=choice:64;32,32;128,128")
    assert p.choices == ([64], [32, 32], [128, 128])
    assert parse_param(p.text()) == p
    lr = parse_param("optim.lr")
    assert (lr.scale, lr.low, lr.high) == ("log", 1e-5, 1.0)
    for key in DEFAULT_RANGES:  # every default range is valid for its field
        parse_param(key)
    with pytest.raises(SpaceError, match="given twice"):
        parse_space(["optim.lr", "optim.lr=log:1e-3:1e-1"])


def _sampled(space_items: list[str], n: int, base: ExperimentConfig | None = None) -> list[dict]:
    space = parse_space(space_items)
    base = base or ExperimentConfig()
    study = optuna.create_study(sampler=make_sampler("random", space, 5, seed=1))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(sample(space, base, lambda p, t=trial: _suggest(t, p)))
        study.tell(trial, 0.0)
    return out


def test_conditional_parameters_are_sampled_only_when_they_apply() -> None:
    draws = _sampled(
        ["optim.name=choice:sgd,momentum,adam", "optim.momentum", "optim.betas=choice:0.9,0.999;0.5,0.99"], 60
    )
    names = {d["optim.name"] for d in draws}
    assert names == {"sgd", "momentum", "adam"}
    for d in draws:
        assert ("optim.betas" in d) == (d["optim.name"] == "adam")
        assert ("optim.momentum" in d) == (d["optim.name"] == "momentum")
    # the base's value decides when the choice is not searched
    only = _sampled(["optim.momentum"], 3, ExperimentConfig().with_updates({"optim.name": "sgd"}))
    assert only == [{}, {}, {}]


def test_log_sampling_is_log_uniform_ks_on_2000_samples() -> None:
    draws = [d["optim.lr"] for d in _sampled(["optim.lr=log:1e-5:1"], 2000)]
    u = (np.log10(draws) + 5) / 5  # log-uniform on [1e-5, 1] ⇔ u uniform on [0, 1]
    assert stats.kstest(u, "uniform").pvalue > 0.01
    # and clearly not uniform in the value itself
    assert stats.kstest(np.array(draws), "uniform").pvalue < 1e-6
    # two of the five decades lie below 1e-3: 40% of the draws (a uniform sampler puts 0.1% there)
    assert abs(np.mean(np.array(draws) < 1e-3) - 0.4) < 0.05


def test_grid_covers_every_point_once() -> None:
    space = parse_space(["optim.lr=log:1e-3:1", "optim.name=choice:sgd,adam"])
    grid = space.grid(4)
    assert grid["optim.lr"] == pytest.approx([1e-3, 1e-2, 1e-1, 1.0])
    study = optuna.create_study(sampler=make_sampler("grid", space, 4, seed=0))
    seen = []
    for _ in range(space.grid_size(4)):
        trial = study.ask()
        d = sample(space, ExperimentConfig(), lambda p, t=trial: _suggest(t, p), all_params=True)
        seen.append((round(math.log10(d["optim.lr"])), d["optim.name"]))
        study.tell(trial, 0.0)
    assert sorted(seen) == sorted(itertools.product([-3, -2, -1, 0], ["adam", "sgd"]))


def test_per_layer_lists_fall_back_when_the_depth_changes() -> None:
    base = ExperimentConfig().with_updates({"model.hidden": [16, 16], "model.dropout_layers": [0.5, 0.0]})
    cfg, notes = trial_config(base, {"model.hidden": [32]})
    assert cfg.model.hidden == [32] and cfg.model.dropout_layers == [] and cfg.model.dropout_per_layer() == [0.0]
    assert any("dropout_layers" in n for n in notes)
    same, notes = trial_config(base, {"model.hidden": [8, 8]})
    assert same.model.dropout_layers == [0.5, 0.0] and not notes


def test_refine_narrows_to_the_best_region() -> None:
    space = parse_space(["optim.lr=log:1e-5:1", "optim.name=choice:sgd,momentum,adam"])
    best = [{"optim.lr": 1e-2, "optim.name": "adam"}, {"optim.lr": 3e-2, "optim.name": "momentum"}]
    narrow = narrowed_space(space, best)
    lr = narrow.param("optim.lr")
    assert 1e-3 < lr.low < 1e-2 and 3e-2 < lr.high < 0.3
    assert set(narrow.param("optim.name").choices) == {"adam", "momentum"}
