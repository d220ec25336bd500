"""Load a data set from the config, split it (seeded, stratified) and preprocess it.

Tensors are always (N, n_features) — flat — whatever the data; `input_shape` is the shape
of one sample ((2,) for the 2D sets, (C, H, W) for images) so the CNN and the augmenter
can view a batch as images without copying. The test split, when asked for, is cut
first and never used for training, early stopping or tuning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from engine.config import SYNTHETIC_2D, DataConfig, ExperimentConfig
from engine.data.features import PlaneMap, affine_of, expand
from engine.data.files import DataFileError, LoadedData, load_csv, load_image_folder, load_npz
from engine.data.kinds import preprocess_kind
from engine.data.preprocess import Preprocessor, fit_preprocessor
from engine.data.synthetic import make_2d

USER_FILES = ("csv", "npz", "image_folder")


@dataclass
class DataBundle:
    """Train/validation/test tensors on one device, plus what views need to know about them."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    n_classes: int
    input_shape: tuple[int, ...]
    name: str
    feature_names: list[str] = field(default_factory=list)
    x_test: torch.Tensor | None = None  # (0, F) when there is no test split
    y_test: torch.Tensor | None = None
    class_names: list[str] = field(default_factory=list)
    preprocess: str = "none"
    value_range: tuple[float, float] = (0.0, 1.0)  # training inputs' min/max after preprocessing
    plane: PlaneMap | None = None  # 2D data: the (x1, x2) points and the map plane → inputs

    def __post_init__(self) -> None:
        if self.x_test is None:
            self.x_test = self.x_train[:0]
            self.y_test = self.y_train[:0]
        if not self.class_names:
            self.class_names = [str(k) for k in range(self.n_classes)]

    @property
    def n_features(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def is_image(self) -> bool:
        return len(self.input_shape) == 3

    def to(self, device: torch.device) -> DataBundle:
        assert self.x_test is not None and self.y_test is not None  # an empty split since __post_init__
        return DataBundle(
            self.x_train.to(device),
            self.y_train.to(device),
            self.x_val.to(device),
            self.y_val.to(device),
            self.n_classes,
            self.input_shape,
            self.name,
            self.feature_names,
            self.x_test.to(device),
            self.y_test.to(device),
            self.class_names,
            self.preprocess,
            self.value_range,
            self.plane,
        )


@dataclass
class Splits:
    """The numpy splits before and after preprocessing (the data view shows both)."""

    raw_train: np.ndarray
    raw_val: np.ndarray
    raw_test: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray
    preprocessor: Preprocessor
    data: LoadedData
    plane_train: np.ndarray | None = None  # 2D data: each split's (x1, x2) points, before the features
    plane_val: np.ndarray | None = None

    @property
    def x_train(self) -> np.ndarray:
        return self.preprocessor.transform(self.raw_train)


def load_raw(cfg: DataConfig, seed: int) -> LoadedData:
    """The whole data set, unsplit: features (N, F), labels 0..C-1, sample shape."""
    from sklearn import datasets as skd  # scikit-learn loads on first use, not with the window

    if cfg.name in SYNTHETIC_2D:
        X, y = make_2d(cfg.name, cfg.n_samples, cfg.n_classes, cfg.noise, seed)
        return LoadedData(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64), (2,), [], ["x1", "x2"])
    if cfg.name == "digits":
        d = skd.load_digits()
        return LoadedData(d.data / 16.0, d.target.astype(np.int64), (1, 8, 8), [str(k) for k in range(10)])
    loaders = {"breast_cancer": skd.load_breast_cancer, "wine": skd.load_wine, "iris": skd.load_iris}
    if cfg.name in loaders:
        d = loaders[cfg.name]()
        return LoadedData(
            d.data.astype(np.float64),
            d.target.astype(np.int64),
            (d.data.shape[1],),
            [str(n) for n in d.target_names],
            [str(n) for n in d.feature_names],
        )
    if cfg.name == "csv":
        return load_csv(cfg.path, cfg.label_column)
    if cfg.name == "npz":
        return load_npz(cfg.path)
    if cfg.name == "image_folder":
        return load_image_folder(cfg.path, cfg.image_size, cfg.grayscale)
    raise ValueError(f"data.name: unknown data set '{cfg.name}'")


def _split(X, y, fraction: float, seed: int, what: str, source: str):
    try:
        from sklearn.model_selection import train_test_split  # scikit-learn loads on first use, not with the window

        return train_test_split(X, y, test_size=fraction, random_state=seed, stratify=y)
    except ValueError:
        counts = np.bincount(y)
        raise DataFileError(
            f"{source}: too few samples to cut a stratified {what} split of {fraction:g} "
            f"({len(y)} samples, smallest class has {counts[counts > 0].min()})"
        ) from None


def with_features(data: LoadedData, cfg: DataConfig) -> tuple[LoadedData, int]:
    """2D data with data.features computed from (x1, x2); the plane's two columns are
    appended after the features (the splits cut them with the rows). Returns the data and
    its number of features (0: not 2D data, nothing appended)."""
    if tuple(data.input_shape) != (2,):
        return data, 0
    feats = expand(data.X, cfg.features)
    f = feats.shape[1]
    return LoadedData(np.c_[feats, data.X], data.y, (f,), data.class_names, list(cfg.features)), f


def split_data(config: ExperimentConfig) -> Splits:
    """Seeded, stratified test (optional) then validation split, and the preprocessing fitted
    on train. The data's own seed (data.seed, else the run's) draws the sample and the splits."""
    cfg = config.data
    seed = cfg.sample_seed(config.seed)
    data, n_feat = with_features(load_raw(cfg, seed), cfg)
    X, y = data.X, data.y
    source = cfg.path if cfg.name in USER_FILES else cfg.name
    n_test = 0.0 if cfg.test_fraction <= 0 else cfg.test_fraction
    if n_test:
        X, X_te, y, y_te = _split(X, y, n_test, seed, "test", source)
    else:
        X_te, y_te = X[:0], y[:0]
    # val_fraction is a fraction of the whole set, so cut that share of what is left.
    val = min(0.95, config.train.val_fraction / (1.0 - n_test))
    X_tr, X_va, y_tr, y_va = _split(X, y, val, seed, "validation", source)
    if not n_feat:
        pre = fit_preprocessor(preprocess_kind(cfg), X_tr, cfg.whiten_eps)
        return Splits(X_tr, X_va, X_te, y_tr, y_va, y_te, pre, data)
    planes = X_tr[:, n_feat:], X_va[:, n_feat:]
    X_tr, X_va, X_te = X_tr[:, :n_feat], X_va[:, :n_feat], X_te[:, :n_feat]
    data = LoadedData(data.X[:, :n_feat], data.y, data.input_shape, data.class_names, data.feature_names)
    pre = fit_preprocessor(preprocess_kind(cfg), X_tr, cfg.whiten_eps)
    return Splits(X_tr, X_va, X_te, y_tr, y_va, y_te, pre, data, *planes)


def load_data(config: ExperimentConfig, device: torch.device | str = "cpu") -> DataBundle:
    """Build the experiment's data: split train/validation(/test) with the run's seed, preprocess."""
    s = split_data(config)
    pre = s.preprocessor
    X_tr, X_va, X_te = pre.transform(s.raw_train), pre.transform(s.raw_val), pre.transform(s.raw_test)

    def t(a: np.ndarray, dt: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=device)

    d = s.data
    n_classes = int(d.y.max()) + 1
    names = d.class_names if len(d.class_names) == n_classes else []
    return DataBundle(
        t(X_tr, torch.float32),
        t(s.y_train, torch.int64),
        t(X_va, torch.float32),
        t(s.y_val, torch.int64),
        n_classes,
        tuple(d.input_shape),
        config.data.name,
        list(d.feature_names),
        t(X_te, torch.float32),
        t(s.y_test, torch.int64),
        names,
        pre.kind,
        (float(X_tr.min()), float(X_tr.max())),
        _plane_map(config, s),
    )


def _plane_map(config: ExperimentConfig, s: Splits) -> PlaneMap | None:
    if s.plane_train is None or s.plane_val is None:
        return None
    mean, matrix = affine_of(s.preprocessor, s.raw_train.shape[1])
    return PlaneMap(tuple(config.data.features), s.plane_train, s.plane_val, mean, matrix)
