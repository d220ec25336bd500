"""Searches on tiny data: random search finds the good region, pruning, failures, Stop, k-fold."""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine.tuning.trial as trial_module
from engine.config import ExperimentConfig
from engine.data.datasets import split_data
from engine.jobs import JobCancelled, run_job
from engine.states import RunState
from engine.tuning.kfold import fold_indices, search_bundles
from engine.tuning.search import SearchError, SearchRun, SearchSettings
from engine.tuning.space import parse_space
from engine.tuning.trial import TrialTask, run_trial

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {
    "data.name": "moons",
    "data.n_samples": 200,
    "model.hidden": [8],
    "train.batch_size": 32,
    "train.epochs": 3,
    "optim.name": "sgd",
}


def _base(**updates) -> ExperimentConfig:
    return ExperimentConfig().with_updates({**TINY, **{k.replace("__", "."): v for k, v in updates.items()}})


def _search(space: list[str], base: ExperimentConfig | None = None, **kw) -> SearchRun:
    settings = SearchSettings(base or _base(), parse_space(space), seed=kw.pop("seed", 0), **kw)
    run = SearchRun(settings)
    run_job(run.job())
    return run


def test_random_search_finds_the_known_good_learning_rates() -> None:
    # SGD for 15 steps: the loss falls faster the larger the step until it is unstable; tiny
    # steps leave it near its start. The good region is lr ≳ 0.1.
    snap = _search(["optim.lr=log:1e-5:5"], trials=10).snapshot
    assert snap.state == RunState.FINISHED and len(snap.complete) == 10
    best = snap.best(1)[0]
    assert best.params["optim.lr"] > 0.1
    tiny = [t.score for t in snap.complete if t.params["optim.lr"] < 1e-2]
    assert tiny and best.score < min(tiny) - 0.1
    assert np.all(np.diff(snap.best_so_far()) <= 0)  # best so far never rises


def test_pruning_stops_clearly_worse_trials_never_the_eventual_best() -> None:
    space = ["optim.lr=log:1e-5:1"]
    base = _base(train__epochs=4)
    full = _search(space, base, sampler="grid", grid_points=6, trials=6, pruner="none").snapshot
    pruned = _search(space, base, sampler="grid", grid_points=6, trials=6, pruner="median").snapshot
    final = {round(math.log10(t.params["optim.lr"])): t.score for t in full.complete}
    best_lr = min(final, key=final.__getitem__)
    stopped = [t for t in pruned.trials if t.state == RunState.PRUNED]
    assert stopped, "the median pruner stopped nothing"
    for t in stopped:  # each pruned trial ends clearly worse than the best when left to run
        assert t.epochs < 4
        assert final[round(math.log10(t.params["optim.lr"]))] > final[best_lr] + 0.05
    kept = {round(math.log10(t.params["optim.lr"])): t for t in pruned.trials}
    assert kept[best_lr].state == RunState.FINISHED
    assert kept[best_lr].score == pytest.approx(final[best_lr], rel=1e-6)


def test_a_diverging_or_crashing_trial_fails_with_its_message_and_the_search_goes_on() -> None:
    base = _base(model__activation="leaky_relu", model__leaky_slope=1.0, model__hidden=[64, 64, 64], train__epochs=2)
    snap = _search(["optim.lr=choice:0.01,10", "data.name=choice:moons,csv"], base, sampler="grid", trials=4).snapshot
    by = {(t.params["optim.lr"], t.params["data.name"]): t for t in snap.trials}
    assert len(by) == 4
    assert by[(10.0, "moons")].state == RunState.DIVERGED and "nan" in by[(10.0, "moons")].message
    for lr in (0.01, 10.0):
        assert by[(lr, "csv")].state == RunState.ERROR and "data.path" in by[(lr, "csv")].message
    assert by[(0.01, "moons")].state == RunState.FINISHED and math.isfinite(by[(0.01, "moons")].score)


def test_stop_ends_the_search_and_keeps_the_finished_trials() -> None:
    run = SearchRun(SearchSettings(_base(), parse_space(["optim.lr"]), trials=50, seed=0))
    with pytest.raises(JobCancelled):
        run_job(run.job(), cancelled=lambda: len(run.snapshot.finished) >= 2)
    snap = run.snapshot
    assert snap.state == RunState.CANCELLED
    assert len(snap.complete) >= 2 and len(snap.trials) < 50
    assert all(t.state in (RunState.FINISHED, RunState.STOPPED) for t in snap.trials)


def test_folds_are_disjoint_and_cover_the_training_set() -> None:
    y = np.repeat(np.arange(3), 20)
    folds = fold_indices(y, 4, seed=0)
    vals = np.concatenate([va for _, va in folds])
    assert sorted(vals) == list(range(60))  # every sample validates exactly once
    for tr, va in folds:
        assert not set(tr) & set(va) and len(tr) + len(va) == 60
        assert np.bincount(y[va]).tolist() == [5, 5, 5]  # stratified
    with pytest.raises(ValueError, match="smallest class"):
        fold_indices(np.array([0, 0, 0, 1]), 3, seed=0)


def test_k_fold_scores_are_fold_means_and_the_test_split_is_never_read(monkeypatch) -> None:
    base = _base(data__test_fraction=0.2, train__epochs=2)
    test_rows = {tuple(np.round(r, 6)) for r in split_data(base).raw_test}
    assert len(test_rows) == 40
    seen = []
    real = trial_module.Trainer

    def recording(config, **kw):  # the data every trial's trainer gets
        seen.append(kw["data"])
        return real(config, **kw)

    monkeypatch.setattr(trial_module, "Trainer", recording)
    snap = _search(["optim.lr=log:1e-2:1"], base, trials=2, folds=3).snapshot
    assert len(seen) == 6  # 2 trials × 3 folds
    for data in seen:
        assert data.x_test.shape[0] == 0
        rows = {tuple(np.round(r, 6)) for r in np.concatenate([data.x_train.numpy(), data.x_val.numpy()])}
        assert not rows & test_rows
        assert data.x_train.shape[0] + data.x_val.shape[0] == 160
    assert len(snap.complete) == 2
    for t in snap.complete:  # the score is the last epoch's fold mean, with its sd over the folds
        assert (t.score, t.score_sd) == (t.curve[-1], t.curve_sd[-1])
        assert 0 < t.score_sd < t.score
    t = snap.complete[0]
    alone = run_trial(TrialTask(0, base.with_updates(t.params).model_dump_json(), folds=3))
    assert len(alone.fold_scores) == 3
    assert t.score == pytest.approx(np.mean(alone.fold_scores), rel=1e-9)
    assert t.score_sd == pytest.approx(np.std(alone.fold_scores, ddof=1), rel=1e-9)
    # the hold-out bundle has no test rows either
    assert search_bundles(base, 1)[0].x_test.shape[0] == 0


def test_bad_settings_are_one_line_errors() -> None:
    space = parse_space(["optim.lr"])
    with pytest.raises(SearchError, match="--jobs 99"):
        SearchRun(SearchSettings(_base(), space, jobs=99))
    with pytest.raises(SearchError, match="unknown sampler"):
        run_job(SearchRun(SearchSettings(_base(), space, sampler="bogus")).job())
    with pytest.raises(SearchError, match="--folds 90"):
        run_job(SearchRun(SearchSettings(_base(), space, folds=90)).job())
