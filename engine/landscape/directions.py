"""The planes a loss surface is drawn on: random filter-normalized, PCA of the
trajectory, and init → current plus an orthogonal random direction."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from engine.landscape.params import LandscapeError, ParamLayout, check_finite

KINDS = ("pca", "random", "init")
PCA_MAX_SNAPSHOTS = 160


@dataclass
class Plane:
    """θ(a, b) = center + a·d1 + b·d2. `scale` is the grid half-width that span = 1 means
    (1 for filter-normalized random directions, the path's extent for PCA/init planes)."""

    center: torch.Tensor
    d1: torch.Tensor
    d2: torch.Tensor
    kind: str
    scale: float = 1.0
    explained_variance: tuple[float, float] | None = None
    info: dict = field(default_factory=dict)

    def point(self, a: float, b: float) -> torch.Tensor:
        return self.center + a * self.d1 + b * self.d2

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The plane as session arrays (directions are saved with the surface)."""
        return {
            f"{prefix}/center": self.center.numpy(),
            f"{prefix}/d1": self.d1.numpy(),
            f"{prefix}/d2": self.d2.numpy(),
        }

    def meta(self) -> dict:
        return {
            "kind": self.kind,
            "scale": self.scale,
            "explained_variance": list(self.explained_variance) if self.explained_variance else None,
            **self.info,
        }


def filter_normalized_direction(
    direction: torch.Tensor, weights: torch.Tensor, layout: ParamLayout, zero_bias: bool = True
) -> torch.Tensor:
    """Li et al. (2018): rescale each filter (row, output channel) of a direction to the norm
    of the matching filter of the weights. 0-D/1-D parameters (biases, batch norm, PReLU)
    are zeroed when `zero_bias`, else rescaled as one filter."""
    out = direction.clone()
    dv, wv = layout.split(out), layout.split(weights)
    for name in layout.names:
        d, w = dv[name], wv[name]
        if layout.is_bias_like(name):
            if zero_bias:
                d.zero_()
            else:
                d.mul_(w.norm() / (d.norm() + 1e-10))
            continue
        rows_d = d.reshape(d.shape[0], -1)
        rows_w = w.reshape(w.shape[0], -1)
        rows_d.mul_(rows_w.norm(dim=1, keepdim=True) / (rows_d.norm(dim=1, keepdim=True) + 1e-10))
    return out


def random_plane(center: torch.Tensor, layout: ParamLayout, seed: int = 0, zero_bias: bool = True) -> Plane:
    """Two Gaussian directions, each filter-normalized to the weights at `center`."""
    check_finite(center)
    g = torch.Generator().manual_seed(int(seed))
    d1 = filter_normalized_direction(torch.randn(center.shape, generator=g), center, layout, zero_bias)
    d2 = filter_normalized_direction(torch.randn(center.shape, generator=g), center, layout, zero_bias)
    return Plane(center.clone(), d1, d2, "random", 1.0, info={"seed": int(seed), "zero_bias": zero_bias})


def pca_plane(trajectory: torch.Tensor | np.ndarray, center: torch.Tensor, seed: int = 0) -> Plane:
    """The two principal directions of the snapshots relative to `center` (sklearn PCA).
    Several runs' trajectories stacked together give one shared plane for all of them."""
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    check_finite(center)
    traj = torch.as_tensor(np.asarray(trajectory, dtype=np.float32))
    if traj.ndim != 2 or traj.shape[0] < 3:
        raise LandscapeError(
            f"a PCA plane needs at least 3 trajectory snapshots, got {0 if traj.ndim != 2 else traj.shape[0]}"
        )
    if traj.shape[1] != center.shape[0]:
        raise LandscapeError(f"trajectory has {traj.shape[1]} parameters, the model {center.shape[0]}")
    check_finite(traj, "trajectory snapshots")
    if traj.shape[0] > PCA_MAX_SNAPSHOTS:
        # Evenly spaced rows, first and last kept: the plane of a path barely changes, the
        # time to the first preview drops 2.5x (400 → 160 rows of 26k parameters).
        traj = traj[np.unique(np.linspace(0, traj.shape[0] - 1, PCA_MAX_SNAPSHOTS).round().astype(int))]
    rel = (traj - center).numpy()
    if float(np.abs(rel).max()) == 0.0:
        raise LandscapeError("the trajectory has not moved yet: train a few steps before asking for a PCA plane")
    # Randomized SVD with 3 power iterations, float32: sklearn's "auto" choice (full SVD,
    # float64) takes seconds for a few hundred snapshots of a 26k-parameter model.
    # One BLAS thread: numpy's pool fights torch's threads on a small machine (DESIGN.md),
    # and with two threads under load the fit is several times slower.
    with threadpool_limits(1):
        pca = PCA(n_components=2, svd_solver="randomized", iterated_power=3, random_state=seed).fit(rel)
    comps = torch.as_tensor(pca.components_, dtype=torch.float64)
    coords = torch.as_tensor(rel).double() @ comps.T
    extent = 1.15 * float(coords.abs().max())  # span 1: the whole path with a margin
    ratio = tuple(float(r) for r in pca.explained_variance_ratio_)
    return Plane(
        center.clone(),
        comps[0].float(),
        comps[1].float(),
        "pca",
        extent or 1.0,
        (ratio[0], ratio[1]),
        info={"snapshots": int(traj.shape[0])},
    )


def init_plane(
    init: torch.Tensor, center: torch.Tensor, layout: ParamLayout, seed: int = 0, zero_bias: bool = True
) -> Plane:
    """d1 = current − init (init sits at a = −1), d2 a filter-normalized random direction made
    orthogonal to d1 and of the same length. Span 1 reaches a little beyond the init."""
    check_finite(center)
    d1 = center - init
    n1 = float(d1.norm())
    if n1 == 0.0:
        raise LandscapeError(
            "the weights have not moved from init yet: train a few steps before asking for an init plane"
        )
    g = torch.Generator().manual_seed(int(seed))
    r = filter_normalized_direction(torch.randn(center.shape, generator=g), center, layout, zero_bias).double()
    d1d = d1.double()
    r -= (r @ d1d) / (d1d @ d1d) * d1d
    r *= n1 / float(r.norm())
    return Plane(center.clone(), d1.clone(), r.float(), "init", 1.15, info={"seed": int(seed)})


def build_plane(
    kind: str,
    center: torch.Tensor,
    layout: ParamLayout,
    *,
    trajectory=None,
    init=None,
    seed: int = 0,
    zero_bias: bool = True,
) -> Plane:
    """The plane of the given kind; raises LandscapeError when its inputs are missing."""
    if kind == "random":
        return random_plane(center, layout, seed, zero_bias)
    if kind == "pca":
        if trajectory is None:
            raise LandscapeError("a PCA plane needs the run's trajectory (turn on landscape.snapshots)")
        return pca_plane(trajectory, center, seed)
    if kind == "init":
        if init is None:
            raise LandscapeError("an init plane needs the weights at init")
        return init_plane(init, center, layout, seed, zero_bias)
    raise LandscapeError(f"unknown directions '{kind}' (expected one of {', '.join(KINDS)})")


def plane_from_arrays(arrays: dict[str, np.ndarray], prefix: str, meta: dict) -> Plane:
    """Rebuild a saved plane (see Plane.to_arrays / Plane.meta)."""
    try:
        t = {k: torch.as_tensor(np.asarray(arrays[f"{prefix}/{k}"], dtype=np.float32)) for k in ("center", "d1", "d2")}
    except KeyError as e:
        raise LandscapeError(f"saved plane '{prefix}' lacks {e.args[0]}") from None
    ev = meta.get("explained_variance")
    return Plane(
        t["center"],
        t["d1"],
        t["d2"],
        str(meta.get("kind", "random")),
        float(meta.get("scale", 1.0)),
        tuple(ev) if ev else None,
    )
