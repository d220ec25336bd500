"""What a trial trains and validates on: the run's hold-out split, or k stratified folds.

Either way the test split (`data.test_fraction`) is cut off first and never reaches a trial:
every bundle made here has an empty test split. Under k-fold the training and validation
splits of the run are merged and cut into k stratified folds (scikit-learn's
StratifiedKFold, seeded); each fold's preprocessing is fitted on its own training part.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold

from engine.config import ExperimentConfig
from engine.data import DataBundle, load_data
from engine.data.datasets import preprocess_kind, split_data
from engine.data.preprocess import fit_preprocessor

MAX_FOLDS = 20


def _without_test(b: DataBundle) -> DataBundle:
    """The bundle with an empty test split (a search never sees the test data)."""
    return DataBundle(
        b.x_train,
        b.y_train,
        b.x_val,
        b.y_val,
        b.n_classes,
        b.input_shape,
        b.name,
        b.feature_names,
        b.x_train[:0],
        b.y_train[:0],
        b.class_names,
        b.preprocess,
        b.value_range,
    )


def fold_indices(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index arrays of each of `folds` stratified folds over labels `y`."""
    if not 2 <= folds <= MAX_FOLDS:
        raise ValueError(f"--folds {folds}: expected 2 to {MAX_FOLDS} folds, or 1 for the hold-out split")
    smallest = int(np.bincount(y)[np.bincount(y) > 0].min())
    if smallest < folds:
        raise ValueError(
            f"--folds {folds}: the smallest class has only {smallest} training samples; use at most {smallest} folds"
        )
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(tr, va) for tr, va in skf.split(np.zeros(len(y)), y)]


def search_bundles(config: ExperimentConfig, folds: int = 1) -> list[DataBundle]:
    """The data a trial of this config trains on: one hold-out bundle (folds=1) or one per fold."""
    if folds <= 1:
        return [_without_test(load_data(config))]
    s = split_data(config)
    X = np.concatenate([s.raw_train, s.raw_val])
    y = np.concatenate([s.y_train, s.y_val])
    n_classes = int(s.data.y.max()) + 1
    names = s.data.class_names if len(s.data.class_names) == n_classes else []
    out = []
    for tr, va in fold_indices(y, folds, config.seed):
        pre = fit_preprocessor(preprocess_kind(config.data), X[tr], config.data.whiten_eps)
        x_tr, x_va = pre.transform(X[tr]), pre.transform(X[va])

        def t(a: np.ndarray, dt: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dt)

        out.append(
            DataBundle(
                t(x_tr, torch.float32),
                t(y[tr], torch.int64),
                t(x_va, torch.float32),
                t(y[va], torch.int64),
                n_classes,
                tuple(s.data.input_shape),
                config.data.name,
                list(s.data.feature_names),
                t(x_tr[:0], torch.float32),
                t(y[:0], torch.int64),
                names,
                pre.kind,
                (float(x_tr.min()), float(x_tr.max())),
            )
        )
    return out


def data_key(config: ExperimentConfig, folds: int) -> str:
    """What the bundles depend on: the data section, the seed, the validation fraction, the folds."""
    return json.dumps(
        [config.data.model_dump(mode="json"), config.seed, config.train.val_fraction, folds], sort_keys=True
    )


class BundleCache:
    """Bundles by data_key: trials that vary no data field share one load."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._items: dict[str, list[DataBundle]] = {}

    def get(self, config: ExperimentConfig, folds: int) -> list[DataBundle]:
        key = data_key(config, folds)
        if key not in self._items:
            if len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = search_bundles(config, folds)
        return self._items[key]
