"""Load a data set from the config, split it (seeded, stratified) and preprocess it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

from engine.config import DataConfig, ExperimentConfig
from engine.data.synthetic import make_2d

SYNTHETIC_2D = ("spiral", "moons", "circles", "xor", "blobs")
TABULAR = ("breast_cancer", "wine", "iris")


@dataclass
class DataBundle:
    """Train/validation tensors on one device, plus what views need to know about them."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    n_classes: int
    input_shape: tuple[int, ...]
    name: str
    feature_names: list[str] = field(default_factory=list)

    @property
    def n_features(self) -> int:
        return int(np.prod(self.input_shape))

    def to(self, device: torch.device) -> "DataBundle":
        return DataBundle(self.x_train.to(device), self.y_train.to(device), self.x_val.to(device),
                          self.y_val.to(device), self.n_classes, self.input_shape, self.name, self.feature_names)


def _raw(cfg: DataConfig, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    if cfg.name in SYNTHETIC_2D:
        X, y = make_2d(cfg.name, cfg.n_samples, cfg.n_classes, cfg.noise, seed)
        return X, y, (2,)
    if cfg.name == "digits":
        d = skd.load_digits()
        return d.data / 16.0, d.target, (64,)
    loaders = {"breast_cancer": skd.load_breast_cancer, "wine": skd.load_wine, "iris": skd.load_iris}
    if cfg.name in loaders:
        d = loaders[cfg.name]()
        return d.data, d.target, (d.data.shape[1],)
    raise ValueError(f"unknown data set '{cfg.name}'")


def load_data(config: ExperimentConfig, device: torch.device | str = "cpu") -> DataBundle:
    """Build the experiment's data, split train/validation with the run's seed."""
    X, y, shape = _raw(config.data, config.seed)
    y = np.asarray(y, dtype=np.int64)
    classes = np.unique(y)
    n_classes = int(classes.max()) + 1
    X_tr, X_va, y_tr, y_va = train_test_split(
        X, y, test_size=config.train.val_fraction, random_state=config.seed, stratify=y
    )
    if config.data.name in TABULAR:
        # Features on very different scales (breast cancer: 1e-3 to 1e3): standardize with
        # the training split's statistics only.
        mu, sd = X_tr.mean(0), X_tr.std(0) + 1e-12
        X_tr, X_va = (X_tr - mu) / sd, (X_va - mu) / sd
    t = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=device)  # noqa: E731
    return DataBundle(t(X_tr, torch.float32), t(y_tr, torch.int64), t(X_va, torch.float32), t(y_va, torch.int64),
                      n_classes, shape, config.data.name)
