"""Landscape work outside the training loop: build an evaluator for a run, compute a
surface with its path and faithfulness as a cancellable job (engine/jobs.py), cache results,
and store them in a run record (arrays "landscape/..." and meta["landscape"])."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.config import ExperimentConfig
from engine.jobs import Job, Progress
from engine.landscape.directions import Plane, build_plane
from engine.landscape.params import LandscapeError, ParamLayout, check_finite, flat_from_state
from engine.landscape.projection import in_plane_fraction, project
from engine.landscape.surface import Surface, SurfaceEvaluator, compute_surface
from engine.states import RunState

FAITHFUL_POINTS = 48  # snapshots whose true loss is evaluated for the faithfulness read-out


@dataclass
class LandscapeRequest:
    """What to compute: plane kind, grid, span (× the plane's scale), seed of random directions."""

    kind: str = "pca"
    grid: int = 31
    span: float = 1.0
    seed: int = 0
    zero_bias: bool = True

    @classmethod
    def from_config(cls, cfg: ExperimentConfig, **overrides: Any) -> LandscapeRequest:
        lc = cfg.landscape
        req = cls(lc.directions, lc.grid, lc.span, cfg.seed, lc.zero_bias_directions)
        for k, v in overrides.items():
            if v is not None:
                setattr(req, k, v)
        return req


@dataclass
class LandscapeResult:
    """A surface with the path on it (`complete` is False only for a partial surface read back
    from a file: a cancelled job returns no result)."""

    surface: Surface
    request: LandscapeRequest
    path_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    path_coords: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    faith: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    mode: str = ""

    @property
    def complete(self) -> bool:
        return self.surface.complete


def eval_subset(x: torch.Tensor, y: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed evaluation subset: the first n validation samples (the split is seeded)."""
    return x[:n], y[:n]


def faithfulness(
    evaluator: SurfaceEvaluator, plane: Plane, traj: np.ndarray, steps: np.ndarray, max_points: int = FAITHFUL_POINTS
) -> dict[str, Any]:
    """How much the plane can be trusted: at up to `max_points` snapshots, the true loss vs
    the loss at the snapshot's projection onto the plane; and the fraction of the path's
    length that lies in the plane."""
    if len(traj) == 0:
        return {}
    pick = np.unique(np.linspace(0, len(traj) - 1, min(max_points, len(traj))).round().astype(int))
    coords, resid = project(plane, traj[pick])
    true_loss, _ = evaluator.evaluate_points(torch.as_tensor(traj[pick]))
    plane_loss, _ = evaluator.evaluate_plane(plane, coords[:, 0], coords[:, 1])
    gap = np.abs(true_loss - plane_loss)
    return {
        "steps": steps[pick],
        "true_loss": true_loss,
        "plane_loss": plane_loss,
        "distance": resid,
        "mean_abs_gap": float(gap.mean()),
        "max_abs_gap": float(gap.max()),
        "in_plane_fraction": in_plane_fraction(plane, traj),
    }


class SurfaceCache:
    """Finished results keyed by weights, plane request and evaluation set (LRU)."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: OrderedDict[str, LandscapeResult] = OrderedDict()

    @staticmethod
    def key(center: torch.Tensor, request: LandscapeRequest, n_eval: int, traj_len: int) -> str:
        h = hashlib.sha1(center.detach().cpu().numpy().tobytes()).hexdigest()[:16]
        return (
            f"{h}|{request.kind}|{request.grid}|{request.span}|{request.seed}|{request.zero_bias}|{n_eval}|{traj_len}"
        )

    def get(self, key: str) -> LandscapeResult | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: str, result: LandscapeResult) -> None:
        if not result.complete:
            return
        self._items[key] = result
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


def plane_for(
    request: LandscapeRequest,
    center: torch.Tensor,
    layout: ParamLayout,
    traj: np.ndarray | None,
    init: torch.Tensor | None,
) -> Plane:
    """The requested plane; a PCA plane with too short a path falls back to random (said in info)."""
    kind = request.kind
    if kind == "pca" and (traj is None or len(traj) < 3):
        plane = build_plane("random", center, layout, seed=request.seed, zero_bias=request.zero_bias)
        plane.info["fallback"] = "pca needs 3 snapshots: random plane"
        return plane
    return build_plane(kind, center, layout, trajectory=traj, init=init, seed=request.seed, zero_bias=request.zero_bias)


def landscape_job(
    evaluator: SurfaceEvaluator,
    plane: Plane,
    request: LandscapeRequest,
    traj: np.ndarray | None = None,
    steps: np.ndarray | None = None,
) -> Job[LandscapeResult]:
    """The surface coarse to fine as a job (engine/jobs.py): after each batch it yields
    Progress whose preview is (surface so far, the axis indices of a completed level or
    None); then the path's projection and the faithfulness read-out; returns the result."""
    t0 = time.perf_counter()
    n = request.grid
    for surf, level, frac in compute_surface(evaluator, plane, n, request.span):
        yield Progress(frac, f"{n}×{n} surface", (surf, level))
    result = LandscapeResult(surf, request, seconds=time.perf_counter() - t0, mode=evaluator.mode)
    if traj is not None and len(traj):
        yield Progress(1.0, "faithfulness")
        steps = np.arange(len(traj)) if steps is None else np.asarray(steps)
        result.path_steps = steps
        result.path_coords, _ = project(plane, traj)
        result.faith = faithfulness(evaluator, plane, traj, steps)
    return result


# -- run records -----------------------------------------------------------------------
def load_record_state(model: nn.Module, record, what: str = "the model") -> dict:
    """Load the record's saved final weights (and buffers) into `model`, refusing missing or
    misshapen entries with the run's name; returns the saved state."""
    state = record_state(record)
    sd = model.state_dict()
    for k in sd:
        if k not in state:
            raise LandscapeError(f"run '{record.name}': saved weights lack '{k}'")
        if tuple(np.shape(state[k])) != tuple(sd[k].shape):
            raise LandscapeError(
                f"run '{record.name}': saved '{k}' has shape {tuple(np.shape(state[k]))}, "
                f"{what} expects {tuple(sd[k].shape)}"
            )
    model.load_state_dict({k: torch.as_tensor(np.asarray(state[k])) for k in sd})
    return state


def model_from_record(record, data) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """(model with the record's final weights, final flat vector, init flat vector) for a
    saved run; the init comes from the trajectory's first snapshot or the seed."""
    from engine.model import build_model

    cfg = record.config
    if record.state == RunState.DIVERGED:
        raise LandscapeError(
            f"run '{record.name}' diverged: a surface around its weights means nothing — "
            "rerun it with a lower learning rate"
        )
    model = build_model(cfg.model, data.n_features, data.n_classes, cfg.seed, input_shape=data.input_shape)
    layout = ParamLayout.of(model)
    init = torch.cat([dict(model.named_parameters())[n].detach().reshape(-1) for n in layout.names]).float()
    state = load_record_state(model, record)
    final = flat_from_state(state, layout)
    check_finite(final, f"final weights of run '{record.name}'")
    traj = record.arrays.get("landscape/trajectory")
    if traj is not None and len(traj):
        init = torch.as_tensor(np.asarray(traj[0], dtype=np.float32))
    return model, final, init


def record_state(record) -> dict[str, np.ndarray]:
    """A run record's final state dict: the landscape hook's `weights/…` arrays, else the
    checkpoint's model tensors (format 2)."""
    state = {k[len("weights/") :]: v for k, v in record.arrays.items() if k.startswith("weights/")}
    ck = getattr(record, "checkpoint", None)
    if not state and ck is not None:
        state = {k[len("model/") :]: v for k, v in ck.arrays.items() if k.startswith("model/")}
    if not state:
        raise LandscapeError(
            f"run '{record.name}' has no saved weights (record it with landscape.snapshots on, "
            "or save it with a checkpoint)"
        )
    return state


def store_result(record, result: LandscapeResult, name: str = "surface") -> None:
    """Put a surface, its plane (directions), path and faithfulness into a run record."""
    s, p = result.surface, f"landscape/{name}"
    arrays = {
        f"{p}/loss": s.loss,
        f"{p}/acc": s.acc,
        f"{p}/alphas": s.alphas,
        f"{p}/betas": s.betas,
        f"{p}/path_coords": result.path_coords,
        f"{p}/path_steps": result.path_steps,
    }
    arrays.update(s.plane.to_arrays(f"{p}/plane"))
    for k in ("steps", "true_loss", "plane_loss", "distance"):
        if k in result.faith:
            arrays[f"{p}/faith_{k}"] = np.asarray(result.faith[k])
    record.arrays.update(arrays)
    meta = record.meta.setdefault("landscape", {})
    meta.setdefault("surfaces", {})[name] = {
        "plane": s.plane.meta(),
        "grid": int(len(s.alphas)),
        "span": result.request.span,
        "seconds": round(result.seconds, 4),
        "mode": result.mode,
        "batch_norm_eval_mode": True,
        "in_plane_fraction": result.faith.get("in_plane_fraction"),
        "mean_abs_gap": result.faith.get("mean_abs_gap"),
        "max_abs_gap": result.faith.get("max_abs_gap"),
    }


def stored_result(container, name: str = "surface") -> LandscapeResult | None:
    """A result saved by store_result in a run record or a session (None if absent)."""
    from engine.landscape.directions import plane_from_arrays

    p, arrays = f"landscape/{name}", container.arrays
    if f"{p}/loss" not in arrays:
        return None
    meta = container.meta.get("landscape", {}).get("surfaces", {}).get(name, {})
    plane = plane_from_arrays(arrays, f"{p}/plane", meta.get("plane", {}))
    loss = np.asarray(arrays[f"{p}/loss"], dtype=np.float64)
    surf = Surface(
        plane,
        np.asarray(arrays[f"{p}/alphas"]),
        np.asarray(arrays[f"{p}/betas"]),
        loss,
        np.asarray(arrays.get(f"{p}/acc", np.full_like(loss, np.nan))),
    )
    req = LandscapeRequest(plane.kind, len(surf.alphas), float(meta.get("span", 1.0)))
    faith: dict[str, Any] = {}
    if f"{p}/faith_true_loss" in arrays:
        faith = {
            k: np.asarray(arrays[f"{p}/faith_{k}"])
            for k in ("steps", "true_loss", "plane_loss", "distance")
            if f"{p}/faith_{k}" in arrays
        }
        for k in ("in_plane_fraction", "mean_abs_gap", "max_abs_gap"):
            if meta.get(k) is not None:
                faith[k] = float(meta[k])
    return LandscapeResult(
        surf,
        req,
        np.asarray(arrays.get(f"{p}/path_steps", np.zeros(0, np.int64))),
        np.asarray(arrays.get(f"{p}/path_coords", np.zeros((0, 2)))).reshape(-1, 2),
        faith,
        float(meta.get("seconds", 0.0)),
        str(meta.get("mode", "")),
    )
