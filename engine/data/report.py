"""What the data view shows: the training split before and after preprocessing, its
covariance (or correlation) and the covariance's condition number — computed without Qt
so the view only draws, and tests can check the numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.config import ExperimentConfig
from engine.data.datasets import split_data
from engine.data.preprocess import condition_number, correlation, covariance

MAX_POINTS = 3000  # scatter points drawn per panel
MAX_MATRIX = 1024  # largest covariance drawn as a heat map


@dataclass
class PreprocessReport:
    name: str
    kind: str  # the preprocessing applied (auto resolved)
    input_shape: tuple[int, ...]
    n_train: int
    n_val: int
    n_test: int
    n_classes: int
    class_names: list[str]
    feature_names: list[str]
    before: np.ndarray  # (≤ MAX_POINTS, F) training inputs, raw
    after: np.ndarray  # the same samples after preprocessing
    labels: np.ndarray  # their classes
    cov_before: np.ndarray | None  # (F, F) or None when F > MAX_MATRIX
    cov_after: np.ndarray | None
    corr_before: np.ndarray | None
    corr_after: np.ndarray | None
    cond_before: tuple[float, int]  # (λmax/λmin over non-null directions, null directions)
    cond_after: tuple[float, int]


def preprocessing_report(config: ExperimentConfig) -> PreprocessReport:
    """Split and preprocess as a run would, and summarize the training split."""
    s = split_data(config)
    raw = s.raw_train
    after = s.preprocessor.transform(raw)
    rng = np.random.default_rng(config.seed)
    pick = np.sort(rng.choice(len(raw), size=min(MAX_POINTS, len(raw)), replace=False))
    F = raw.shape[1]
    cb = covariance(raw) if F <= MAX_MATRIX else None
    ca = covariance(after) if F <= MAX_MATRIX else None
    d = s.data
    return PreprocessReport(
        config.data.name,
        s.preprocessor.kind,
        tuple(d.input_shape),
        len(raw),
        len(s.raw_val),
        len(s.raw_test),
        int(d.y.max()) + 1,
        list(d.class_names),
        list(d.feature_names),
        raw[pick],
        after[pick],
        s.y_train[pick],
        cb,
        ca,
        None if cb is None else correlation(cb),
        None if ca is None else correlation(ca),
        condition_number(cb) if cb is not None else (float("nan"), 0),
        condition_number(ca) if ca is not None else (float("nan"), 0),
    )


def format_condition(cond: tuple[float, int]) -> str:
    """'1.2e+03' plus how many zero-variance directions were left out."""
    value, nulls = cond
    if not np.isfinite(value):
        return "n/a"
    text = f"{value:.3g}"
    if nulls:
        text += f" ({nulls} zero-variance direction{'s' if nulls > 1 else ''} left out)"
    return text
