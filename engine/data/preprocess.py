"""Input preprocessing (lecture §3), fitted on the training split only.

none, standardize (per feature), PCA whitening (rotate onto the covariance's eigenvectors,
divide by the roots of the eigenvalues) and ZCA whitening (PCA whitening rotated back:
the whitening closest to the original data). Directions with (numerically) zero variance
are mapped to zero instead of being blown up; `eps` regularizes the small ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("none", "standardize", "pca_whiten", "zca_whiten")
_NULL_TOL = 1e-10  # eigenvalues below tol·λmax count as zero variance
MAX_WHITEN_FEATURES = 4096


@dataclass
class Preprocessor:
    """A fitted affine map x ↦ (x − mean) · matrixᵀ (or ·scale for standardize)."""

    kind: str
    mean: np.ndarray  # (F,)
    scale: np.ndarray | None = None  # (F,) standardize
    matrix: np.ndarray | None = None  # (F, F) whitening

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the fitted map to any split (N, F)."""
        if self.kind == "none":
            return X
        Xc = X - self.mean
        if self.kind == "standardize":
            return Xc * self.scale
        assert self.matrix is not None, "a whitening map is fitted with its matrix"
        return Xc @ self.matrix.T

    def to_meta(self) -> dict:
        return {"kind": self.kind}


def covariance(X: np.ndarray) -> np.ndarray:
    """Sample covariance (N−1 in the denominator) of the rows of X (N, F)."""
    Xc = X - X.mean(0)
    return (Xc.T @ Xc) / max(1, len(X) - 1)


def fit_preprocessor(kind: str, X_train: np.ndarray, eps: float = 1e-8) -> Preprocessor:
    """Fit the preprocessing on the training split (N, F)."""
    if kind not in KINDS:
        raise ValueError(f"data.preprocess: unknown preprocessing '{kind}' (allowed: {'|'.join(KINDS)})")
    X = np.asarray(X_train, dtype=np.float64)
    mean = X.mean(0)
    if kind == "none":
        return Preprocessor(kind, np.zeros_like(mean))
    if kind == "standardize":
        sd = X.std(0, ddof=1) if len(X) > 1 else np.ones_like(mean)
        return Preprocessor(kind, mean, scale=np.where(sd > 0, 1.0 / np.where(sd > 0, sd, 1.0), 0.0))
    if X.shape[1] > MAX_WHITEN_FEATURES:
        raise ValueError(
            f"data.preprocess: {kind} of {X.shape[1]} features needs a {X.shape[1]}×{X.shape[1]} "
            f"covariance (at most {MAX_WHITEN_FEATURES}); use standardize or a smaller data.image_size"
        )
    lam, U = np.linalg.eigh(covariance(X))  # ascending eigenvalues
    lam, U = lam[::-1], U[:, ::-1]  # largest variance first (PCA order)
    keep = lam > _NULL_TOL * max(float(lam[0]), 1e-300)
    inv_root = np.where(keep, 1.0 / np.sqrt(np.where(keep, lam, 1.0) + eps), 0.0)
    pca = inv_root[:, None] * U.T  # rows: principal axes scaled to unit variance
    matrix = pca if kind == "pca_whiten" else U @ pca
    return Preprocessor(kind, mean, matrix=matrix)


def condition_number(cov: np.ndarray) -> tuple[float, int]:
    """λmax/λmin of a covariance over its non-null directions, and how many null ones were ignored."""
    lam = np.linalg.eigvalsh(np.asarray(cov, dtype=np.float64))
    if lam.size == 0 or lam[-1] <= 0:
        return float("nan"), int(lam.size)
    keep = lam > _NULL_TOL * lam[-1]
    return float(lam[-1] / lam[keep][0]), int((~keep).sum())


def correlation(cov: np.ndarray) -> np.ndarray:
    """Correlation matrix from a covariance; zero-variance features get 0 off the diagonal."""
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    inv = np.where(sd > 0, 1.0 / np.where(sd > 0, sd, 1.0), 0.0)
    r = cov * inv[:, None] * inv[None, :]
    np.fill_diagonal(r, 1.0)
    return r
