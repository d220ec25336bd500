"""Loss-surface speed on the digits MLP (64-128-128-10 ReLU), 41×41 grid over 360
validation samples, random filter-normalized directions (the same for every method):
Descent's evaluator (each strategy) vs the per-point loop (load the weights, forward)
vs loss-landscapes' random_plane, alternating in one process. Also the time to the first
coarse preview. Prints one JSON line. CPU target: ≥ 1.3× the per-point loop; GPU target
(on a machine with CUDA): ≥ 20×; first preview ≤ 0.3 s.

usage: python tests/benchmarks/bench_landscape.py [threads] [trials] [device]"""

from __future__ import annotations

import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils import vector_to_parameters

from engine.config import ExperimentConfig
from engine.data import load_data
from engine.landscape.directions import pca_plane, random_plane
from engine.landscape.params import ParamLayout, flat_params
from engine.landscape.surface import SurfaceEvaluator, compute_surface
from engine.train import Trainer

GRID, N_EVAL = 41, 360


def per_point_loop(model, plane, axis, x, y, device) -> np.ndarray:
    """The reference: for each grid point set the weights, run the model, keep the loss on
    the device (no host sync per point). device_check.py uses it too."""
    out = torch.empty(len(axis) ** 2, device=device)
    c, d1, d2 = plane.center.to(device), plane.d1.to(device), plane.d2.to(device)
    k = 0
    with torch.no_grad():
        for a in axis:
            for b in axis:
                vector_to_parameters(c + float(a) * d1 + float(b) * d2, model.parameters())
                out[k] = F.cross_entropy(model(x), y)
                k += 1
    return out.cpu().numpy().reshape(len(axis), len(axis))


def loss_landscapes_plane(model, x, y) -> tuple[float | None, str]:
    """loss-landscapes' random_plane (filter normalization) on the same model, data and grid."""
    try:
        import loss_landscapes
        import loss_landscapes.metrics
    except Exception as e:  # noqa: BLE001 - report, never fake
        return None, f"not importable: {type(e).__name__}: {e}"
    torch.manual_seed(0)
    metric = loss_landscapes.metrics.Loss(torch.nn.CrossEntropyLoss(), x.cpu(), y.cpu())
    t0 = time.perf_counter()
    try:
        loss_landscapes.random_plane(
            model.cpu(), metric, distance=1, steps=GRID, normalization="filter", deepcopy_model=True
        )
    except Exception as e:  # noqa: BLE001 - the other library's failure is reported as a result
        return None, f"failed: {type(e).__name__}: {e}"
    return time.perf_counter() - t0, "ok"


def hook_overhead(threads: int, trials: int = 3) -> dict:
    """Training steps/s with the snapshot hook (every 5 steps, sharpness off) vs without,
    alternating on the trainer benchmark's set-up (digits MLP, batch 64, SGD momentum)."""
    from engine.landscape.hook import LandscapeHook

    cfg = ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "model.hidden": [128, 128],
            "optim.name": "momentum",
            "optim.lr": 0.1,
            "train.batch_size": 64,
            "train.epochs": 4,
            "train.threads": threads,
            "device": "cpu",
            "landscape.sharpness_every": 0,
            "landscape.snapshot_every": 5,
        }
    )
    rates: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(trials):
        for key in ("without", "with"):
            t = Trainer(cfg, hooks=[])
            if key == "with":
                t.hooks = [LandscapeHook(t.config.landscape)]
            t0 = time.perf_counter()
            t.run()
            rates[key].append(t.step / (time.perf_counter() - t0))
    w, wo = float(np.median(rates["with"])), float(np.median(rates["without"]))
    return {"steps_per_s_with_snapshots": round(w, 1), "steps_per_s_without": round(wo, 1), "ratio": round(w / wo, 3)}


def auto_mode(evs: dict) -> str:
    """The strategy SurfaceEvaluator picks by itself on this device."""
    ev = next(iter(evs.values()))
    return SurfaceEvaluator(ev.model, ev.x, ev.y, device=ev.device).mode


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    device = torch.device(sys.argv[3] if len(sys.argv) > 3 else ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.set_num_threads(threads)
    cfg = ExperimentConfig().with_updates(
        {"data.name": "digits", "model.hidden": [128, 128], "model.activation": "relu"}
    )
    data = load_data(cfg)
    # A briefly trained network (3 epochs): the surface users ask for, and non-zero biases
    # (loss-landscapes' filter normalization divides by their norm).
    trainer = Trainer(cfg.with_updates({"train.epochs": 3, "device": "cpu"}), hooks=[])
    trainer.run()
    # The Trainer picks its own thread count (one for a model this small) and leaves it
    # set: restore the benchmark's, or every surface below runs on one thread.
    torch.set_num_threads(threads)
    model = trainer.model.eval()
    # A 400-snapshot trajectory ending at the trained weights (for the preview's PCA plane).
    center = flat_params(model)
    g = torch.Generator().manual_seed(0)
    walk = torch.cumsum(torch.randn(400, center.numel(), generator=g) * 1e-3, 0)
    traj = (center + walk - walk[-1]).numpy()
    x, y = data.x_val[:N_EVAL].to(device), data.y_val[:N_EVAL].to(device)
    plane = random_plane(flat_params(model), ParamLayout.of(model), seed=0)
    axis = np.linspace(-1, 1, GRID)
    A, B = np.meshgrid(axis, axis, indexing="ij")
    ref_model = copy.deepcopy(model).to(device)
    modes = ["linear-loop", "loop", "linear-vmap", "vmap"]
    evs = {m: SurfaceEvaluator(model, x, y, device=device, mode=m) for m in modes}
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)

    ref = per_point_loop(ref_model, plane, axis, x, y, device)  # warm-up and reference
    errors = {}
    for m, ev in evs.items():
        lo, _ = ev.evaluate_plane(plane, A.ravel(), B.ravel())
        errors[m] = float(np.max(np.abs(lo.reshape(GRID, GRID) - ref) / np.abs(ref)))
    times: dict[str, list[float]] = {"loop_reference": [], **{m: [] for m in modes}, "loss_landscapes": []}
    ll_status = "ok"
    previews = []
    for _ in range(trials):
        sync()
        t0 = time.perf_counter()
        per_point_loop(ref_model, plane, axis, x, y, device)
        sync()
        times["loop_reference"].append(time.perf_counter() - t0)
        for m, ev in evs.items():
            sync()
            t0 = time.perf_counter()
            ev.evaluate_plane(plane, A.ravel(), B.ravel())
            sync()
            times[m].append(time.perf_counter() - t0)
        if ll_status == "ok":
            ll_time, ll_status = loss_landscapes_plane(
                copy.deepcopy(model).cpu(), data.x_val[:N_EVAL], data.y_val[:N_EVAL]
            )
            if ll_time is not None:
                times["loss_landscapes"].append(ll_time)
        # First coarse preview, as the view asks for it: the PCA plane of a 400-snapshot
        # trajectory, a fresh evaluator, and the first (6×6) level.
        t0 = time.perf_counter()
        pca = pca_plane(traj, center)
        ev = SurfaceEvaluator(model, x, y, device=device)
        for _surf, level, _f in compute_surface(ev, pca, GRID, 1.0):
            if level is not None:
                break
        sync()
        previews.append(time.perf_counter() - t0)
    cpu_gap = None
    if device.type != "cpu":
        # The GPU surface must match the CPU's within float32 tolerance.
        cpu_ev = SurfaceEvaluator(model.cpu(), x.cpu(), y.cpu(), device="cpu")
        pick = np.arange(0, GRID * GRID, 37)
        lo_cpu, _ = cpu_ev.evaluate_plane(plane, A.ravel()[pick], B.ravel()[pick])
        lo_dev, _ = evs[auto_mode(evs)].evaluate_plane(plane, A.ravel()[pick], B.ravel()[pick])
        cpu_gap = float(np.max(np.abs(lo_dev - lo_cpu) / np.abs(lo_cpu)))
    med = {k: float(np.median(v)) for k, v in times.items() if v}
    auto = SurfaceEvaluator(model, x, y, device=device).mode
    ll_time = med.get("loss_landscapes")
    speedup = med["loop_reference"] / med[auto]
    target = 20.0 if device.type == "cuda" else 1.3
    print(
        json.dumps(
            {
                "benchmark": "landscape_surface",
                "model": "digits MLP 64-128-128-10 relu",
                "grid": f"{GRID}x{GRID}",
                "eval_samples": N_EVAL,
                "device": str(device),
                "threads": threads,
                "trials": trials,
                "load_avg_1min": round(os.getloadavg()[0], 2),
                "seconds_median": {k: round(v, 4) for k, v in med.items()},
                "auto_mode": auto,
                "speedup_vs_loop": round(speedup, 3),
                "speedup_all_modes": {m: round(med["loop_reference"] / med[m], 3) for m in modes},
                "max_rel_error_vs_loop": {m: float(f"{e:.2e}") for m, e in errors.items()},
                "max_rel_gap_device_vs_cpu": cpu_gap,
                "first_preview_s_median": round(float(np.median(previews)), 4),
                "loss_landscapes_random_plane_s": None if ll_time is None else round(ll_time, 4),
                "loss_landscapes_status": ll_status,
                "speedup_vs_loss_landscapes": None if ll_time is None else round(ll_time / med[auto], 2),
                "target": target,
                "meets_target": bool(speedup >= target),
                "preview_target_s": 0.3,
                "meets_preview_target": bool(np.median(previews) <= 0.3),
                "snapshot_hook": hook_overhead(threads),
            }
        )
    )


if __name__ == "__main__":
    main()
