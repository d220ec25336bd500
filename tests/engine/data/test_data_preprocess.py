"""Preprocessing fitted on the training split: whitening gives identity covariance; ZCA stays closest."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import ConfigError, ExperimentConfig
from engine.data import load_data
from engine.data.datasets import split_data
from engine.data.preprocess import condition_number, covariance, fit_preprocessor


def _correlated(n: int = 2000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    A = np.array([[3.0, 0.0, 0.0], [2.0, 0.5, 0.0], [-1.0, 0.3, 0.2]])
    return rng.normal(size=(n, 3)) @ A.T + np.array([5.0, -2.0, 1.0])


@pytest.mark.parametrize("kind", ["pca_whiten", "zca_whiten"])
def test_whitening_gives_identity_training_covariance(kind):
    X = _correlated()
    assert condition_number(covariance(X))[0] > 100  # strongly ill-conditioned before
    pre = fit_preprocessor(kind, X, eps=0.0)
    Z = pre.transform(X)
    assert np.abs(covariance(Z) - np.eye(3)).max() < 1e-4
    assert np.abs(Z.mean(0)).max() < 1e-10
    assert condition_number(covariance(Z))[0] == pytest.approx(1.0, abs=1e-4)


def test_whitening_on_real_data_via_config():
    cfg = ExperimentConfig().with_updates({"data.name": "wine", "data.preprocess": "zca_whiten"})
    s = split_data(cfg)
    Z = s.x_train
    assert np.abs(covariance(Z) - np.eye(Z.shape[1])).max() < 1e-4
    b = load_data(cfg)
    assert b.preprocess == "zca_whiten"
    # Validation data uses the training fit: its covariance is close to, but not exactly, I.
    cv = covariance(b.x_val.double().numpy())
    assert 1e-4 < np.abs(cv - np.eye(13)).max() < 2.0


def test_zca_is_the_whitening_closest_to_the_original_data():
    X = _correlated()
    Xc = X - X.mean(0)
    d = {k: np.mean((fit_preprocessor(k, X, 0.0).transform(X) - Xc) ** 2) for k in ("pca_whiten", "zca_whiten")}
    assert d["zca_whiten"] < d["pca_whiten"]
    # ZCA's map is symmetric (no rotation), PCA's is not.
    M = fit_preprocessor("zca_whiten", X, 0.0).matrix
    assert np.allclose(M, M.T, atol=1e-10)


def test_standardize_and_constant_features_do_not_blow_up():
    X = _correlated()
    X = np.c_[X, np.full(len(X), 7.0)]  # a constant feature (like digits' corner pixels)
    Z = fit_preprocessor("standardize", X).transform(X)
    assert np.allclose(Z[:, :3].std(0, ddof=1), 1.0)
    assert np.all(Z[:, 3] == 0.0)
    W = fit_preprocessor("zca_whiten", X, 0.0).transform(X)
    assert np.isfinite(W).all()
    cond, nulls = condition_number(covariance(X))
    assert nulls == 1 and np.isfinite(cond)


def test_preprocessing_is_fitted_on_training_split_only():
    cfg = ExperimentConfig().with_updates(
        {"data.name": "breast_cancer", "data.preprocess": "standardize", "data.test_fraction": 0.2}
    )
    b = load_data(cfg)
    assert torch.allclose(b.x_train.double().mean(0), torch.zeros(30, dtype=torch.float64), atol=1e-5)
    assert b.x_val.double().mean(0).abs().max() > 1e-3  # val is transformed with train's statistics
    s = split_data(cfg)
    assert np.allclose(s.preprocessor.mean, s.raw_train.mean(0))


def test_test_split_is_disjoint_seeded_and_sized():
    cfg = ExperimentConfig().with_updates({"data.name": "moons", "data.n_samples": 500, "data.test_fraction": 0.2})
    b1, b2 = load_data(cfg), load_data(cfg)
    assert (len(b1.x_train), len(b1.x_val), len(b1.x_test)) == (300, 100, 100)
    assert torch.equal(b1.x_test, b2.x_test)
    train = {tuple(r) for r in b1.x_train.tolist()}
    assert not train & {tuple(r) for r in b1.x_test.tolist()}
    assert len(load_data(cfg.with_updates({"data.test_fraction": 0.0})).x_test) == 0


def test_auto_preprocess_keeps_images_raw_and_standardizes_tables():
    b = load_data(ExperimentConfig().with_updates({"data.name": "digits"}))
    assert b.preprocess == "none" and b.input_shape == (1, 8, 8) and b.x_train.shape[1] == 64
    assert b.value_range == (0.0, 1.0)
    assert load_data(ExperimentConfig().with_updates({"data.name": "iris"})).preprocess == "standardize"


def test_val_plus_test_fraction_too_large_is_a_config_error():
    with pytest.raises(ConfigError, match="test_fraction"):
        ExperimentConfig().with_updates({"train.val_fraction": 0.5, "data.test_fraction": 0.5})
