"""The runs of a comparison on one shared loss surface.

The plane is the PCA of every run's trajectory snapshots stacked together (engine/landscape
records them when `landscape.snapshots` is on), centred on the mean of the runs' final
weights, so every path can be drawn on the same surface. Runs must share the architecture
and the data (a comparison of optimizers, schedules or regularizers does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from engine.data import load_data
from engine.jobs import Job, Progress, run_job
from engine.landscape.directions import pca_plane
from engine.landscape.params import LandscapeError
from engine.landscape.projection import project
from engine.landscape.surface import SurfaceEvaluator, compute_surface
from engine.model import build_model
from engine.session.record import RunRecord, Session

PREFIX = "comparison/surface"


@dataclass
class SharedSurface:
    """Loss over the grid (loss[i, j] at alphas[i], betas[j]) and each run's projected path."""

    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray
    paths: dict[str, np.ndarray] = field(default_factory=dict)  # run name → (S, 2) plane coordinates
    explained_variance: tuple[float, float] = (float("nan"), float("nan"))

    def save_into(self, session: Session) -> None:
        """Session arrays `comparison/surface/*` and meta `comparison_surface` (run order of the paths)."""
        session.arrays[f"{PREFIX}/alphas"] = self.alphas
        session.arrays[f"{PREFIX}/betas"] = self.betas
        session.arrays[f"{PREFIX}/loss"] = self.loss
        names = list(self.paths)
        for i, name in enumerate(names):
            session.arrays[f"{PREFIX}/path/{i}"] = self.paths[name]
        session.meta["comparison_surface"] = {"runs": names, "explained_variance": list(self.explained_variance)}

    @classmethod
    def from_session(cls, session: Session) -> SharedSurface | None:
        meta = session.meta.get("comparison_surface")
        a = session.arrays
        if not isinstance(meta, dict) or f"{PREFIX}/loss" not in a:
            return None
        paths = {
            str(n): a[f"{PREFIX}/path/{i}"] for i, n in enumerate(meta.get("runs", [])) if f"{PREFIX}/path/{i}" in a
        }
        ev = meta.get("explained_variance") or [float("nan")] * 2
        return cls(
            a[f"{PREFIX}/alphas"],
            a[f"{PREFIX}/betas"],
            a[f"{PREFIX}/loss"],
            paths,
            (float(ev[0] if ev[0] is not None else "nan"), float(ev[1] if ev[1] is not None else "nan")),
        )


def shared_surface_job(
    records: list[RunRecord], n: int = 25, span: float = 1.0, eval_samples: int = 512
) -> Job[SharedSurface]:
    """The shared surface as a job (engine/jobs.py): progress after each batch of points;
    raises LandscapeError naming what is missing or differs."""
    recs = [r for r in records if "landscape/trajectory" in r.arrays and len(r.arrays["landscape/trajectory"])]
    if not recs:
        raise LandscapeError("no run recorded its trajectory: turn on landscape.snapshots and train a few steps")
    first = recs[0]
    for r in recs[1:]:
        if r.config.model != first.config.model or r.config.data != first.config.data:
            raise LandscapeError(
                f"runs '{first.name}' and '{r.name}' differ in model or data: their paths cannot share one surface"
            )
    trajs = [np.asarray(r.arrays["landscape/trajectory"], dtype=np.float32) for r in recs]
    sizes = {t.shape[1] for t in trajs}
    if len(sizes) != 1:
        raise LandscapeError("the runs' trajectories have different numbers of parameters")
    center = torch.as_tensor(np.mean([t[-1] for t in trajs], axis=0))
    plane = pca_plane(np.concatenate(trajs), center)
    cfg = first.config
    yield Progress(0.0, "loading the data")
    data = load_data(cfg)
    model = build_model(cfg.model, data.n_features, data.n_classes, cfg.seed, input_shape=data.input_shape)
    k = min(eval_samples, int(data.x_val.shape[0]))
    evaluator = SurfaceEvaluator(model, data.x_val[:k], data.y_val[:k], device="cpu")
    surf = None
    for partial, _idx, frac in compute_surface(evaluator, plane, n, span):
        surf = partial
        yield Progress(frac, f"{n}×{n} shared surface")
    if surf is None:
        raise LandscapeError("the shared surface has no points")
    paths = {r.name: project(plane, t)[0] for r, t in zip(recs, trajs)}
    ev = plane.explained_variance or (float("nan"), float("nan"))
    return SharedSurface(surf.alphas, surf.betas, surf.loss, paths, (float(ev[0]), float(ev[1])))


def shared_surface(records: list[RunRecord], n: int = 25, span: float = 1.0, eval_samples: int = 512) -> SharedSurface:
    """The shared surface, computed here and now (the CLI, tests)."""
    return run_job(shared_surface_job(records, n, span, eval_samples))
