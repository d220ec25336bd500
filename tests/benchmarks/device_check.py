r"""Device check: Descent on an NVIDIA GPU against the CPU, in one short run (DESIGN.md,
"Testing a desktop app here"; issue 4's GPU target). Prints one JSON line per check and a
summary; exit status 0 when every check passed, 1 when one failed, 2 when --device cuda was
asked for and there is no CUDA device.

Checks (digits MLP 64-128-128-10 ReLU, seed 0, the same on both devices):
  environment  torch, CUDA, the GPU's name (torch.cuda.get_device_name), load average
  training     a Trainer run (momentum, batch 64, 6 epochs ≈ 140 steps, probes every 10 steps,
               sharpness every 2 epochs) on the device and on the CPU: per-step loss series
               max |diff|, steps/s on each. Tolerance: float32 rounding differs between
               cuBLAS and the CPU's BLAS (other summation orders), and training amplifies such
               differences step by step; the check measures that amplification on the CPU by
               rerunning with the initial weights perturbed by 1e-6 relative (≈ 8 float32
               ulps, more than one step's rounding difference) and passes when the device's
               max |diff| ≤ max(10 × that, 1e-4). Measured here (CPU, 138 steps): the
               perturbed rerun differs by 6e-7, so the 1e-4 floor applies — 100× the drift
               that rounding-sized differences cause in this run.
  probes       the two runs' recorded probes: weight/activation/gradient means, stds and norms
               (rel. diff ≤ 1e-2 — the runs' own drift is ~1e-5) and histogram total-variation
               distance (≤ 0.05: bins can flip at their edges).
  sharpness    λ_max of the training loss at identical weights on both devices (power
               iteration to 1e-6, torch.func vjp-of-grad HVPs): rel. diff ≤ 1e-3; the H·v
               products agree (rel. ≤ 1e-4); ms per product for vjp, jvp and autograd double
               backward on the device; and the runs' own λ_max series (rel. ≤ 5e-2).
  surface      a 41×41 surface on a random filter-normalized plane over 360 validation
               samples: device vs CPU values for every strategy (max rel. err ≤ 1e-4);
               seconds for each of the evaluator's strategies and for the per-point loop (set
               the weights, forward) on the same device, and the fastest strategy.
  surface_speed  the automatic strategy's speedup over that loop (target ≥ 20× on CUDA,
               ≥ 1.3× on a CPU) and the first coarse preview (PCA plane of a 400-snapshot
               path, fresh evaluator, 6×6 level; target ≤ 0.3 s).

Here (no GPU): `python tests/benchmarks/device_check.py --device cpu` runs every check with the
CPU as the device under test (the comparisons are then CPU vs CPU) and prints that the GPU part
is skipped; 36 s on 2 shared cores (load 2-3).

On the device machine, python3 has torch, numpy, scikit-learn (+ scipy, joblib, narwhals) and
threadpoolctl, but not pydantic (engine/config.py) nor kornia (engine/augment, imported by the
Trainer): carry them as wheels (9.7 MB; versions as in this project's venv; checked: these
resolve for cp312 x86-64 and need nothing else the image lacks). Once, here, in the repo root:
    echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
        typing-extensions==4.16.0 kornia==0.9.0 kornia-rs==0.2.0
Then ONE `run` call with carry [".whl"] and timeout_s 420 (the check takes about a minute on the
GPU machine plus CUDA start-up; it writes $OUT/device_check.jsonl, which comes back):
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit; \
        PYTHONUNBUFFERED=1 python3 tests/benchmarks/device_check.py --device cuda --out $OUT/device_check.jsonl

usage: python tests/benchmarks/device_check.py [--device cuda|cpu] [--out FILE] [--trials N] [--epochs N]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# The repository root first: the script runs on machines where Descent is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench_landscape import per_point_loop  # the same reference loop as the CPU benchmark

from engine.experiment import build_trainer
from engine.session import record_of

GRID, N_EVAL = 41, 360
RESULTS: list[dict] = []


def emit(out: Path | None, record: dict) -> None:
    line = json.dumps(record, default=_jsonable)
    print(line, flush=True)
    RESULTS.append(record)
    if out is not None:
        with out.open("a") as f:
            f.write(line + "\n")


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))) if a.size else 0.0


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def base_config(epochs: int):
    from engine.config import ExperimentConfig

    return ExperimentConfig().with_updates(
        {
            "data.name": "digits",
            "model.hidden": [128, 128],
            "model.activation": "relu",
            "optim.name": "momentum",
            "optim.lr": 0.05,
            "train.batch_size": 64,
            "train.epochs": epochs,
            "seed": 0,
            "probes.enabled": True,
            "probes.every": 10,
            "landscape.sharpness_every": 2,
            "landscape.snapshot_every": 5,
            "metrics.enabled": False,
            "diagnostics.enabled": False,
        }
    )


# -- 1. training + 2. probes ----------------------------------------------------------------
def train(cfg, device: str, perturb: float = 0.0):

    t = build_trainer(cfg.with_updates({"device": device}), run_id=device)
    if perturb:
        g = torch.Generator().manual_seed(123)
        with torch.no_grad():
            for p in t.model.parameters():
                p.mul_(1 + perturb * torch.randn(p.shape, generator=g).to(p.device))
    sync(t.device)
    t0 = time.perf_counter()
    t.run()
    sync(t.device)
    seconds = time.perf_counter() - t0
    return t, record_of(t, device), t.step / seconds


def check_training(out, device: torch.device, epochs: int) -> tuple:
    cfg = base_config(epochs)
    if device.type == "cuda":
        train(cfg.with_updates({"train.epochs": 1}), "cuda")  # warm-up: CUDA context, cuBLAS handles
    t_dev, rec_dev, sps_dev = train(cfg, device.type)
    t_cpu, rec_cpu, sps_cpu = train(cfg, "cpu")
    _t, rec_ref, _ = train(cfg, "cpu", perturb=1e-6)
    loss_dev, loss_cpu = rec_dev.series["step/loss"], rec_cpu.series["step/loss"]
    diff = float(np.max(np.abs(loss_dev - loss_cpu))) if len(loss_dev) == len(loss_cpu) else float("inf")
    ref = float(np.max(np.abs(rec_ref.series["step/loss"] - loss_cpu)))
    tol = max(10 * ref, 1e-4)
    on_device = str(next(t_dev.model.parameters()).device)
    emit(
        out,
        {
            "check": "training",
            "device": on_device,
            "steps": int(t_dev.step),
            "epochs": epochs,
            "state": [t_dev.state, t_cpu.state],
            "max_abs_loss_diff": diff,
            "perturbed_init_1e-6_max_abs_loss_diff": ref,
            "tolerance": tol,
            "final_val_loss": [rec_dev.final.get("val_loss"), rec_cpu.final.get("val_loss")],
            "steps_per_s": {"device": round(sps_dev, 1), "cpu": round(sps_cpu, 1)},
            "passed": bool(
                diff <= tol and t_dev.state == t_cpu.state == "finished" and on_device.startswith(device.type)
            ),
        },
    )
    return t_cpu, rec_dev, rec_cpu


def check_probes(out, rec_dev, rec_cpu) -> None:
    worst_rel, worst_tv, compared = 0.0, 0.0, 0
    where = {}
    for group in ("weight", "act", "grad"):
        for stat in ("mean", "std", "norm"):
            k = f"probes/{group}/{stat}"
            if k not in rec_cpu.arrays:
                continue
            a, b = np.asarray(rec_dev.arrays[k]), np.asarray(rec_cpu.arrays[k])
            # relative to the layer's scale (a mean near 0 has no meaningful relative error)
            scale = np.maximum(np.abs(b), np.abs(np.asarray(rec_cpu.arrays.get(f"probes/{group}/std", b))))
            r = float(np.max(np.abs(a - b) / np.maximum(scale, 1e-8))) if a.shape == b.shape else float("inf")
            compared += 1
            if r > worst_rel:
                worst_rel, where["stat"] = r, k
        k = f"probes/{group}/hist"
        if k in rec_cpu.arrays:
            a = np.asarray(rec_dev.arrays[k], dtype=np.float64)
            b = np.asarray(rec_cpu.arrays[k], dtype=np.float64)
            if a.shape != b.shape:
                worst_tv = float("inf")
                continue
            pa = a / np.maximum(a.sum(-1, keepdims=True), 1e-12)
            pb = b / np.maximum(b.sum(-1, keepdims=True), 1e-12)
            tv = float(np.max(0.5 * np.abs(pa - pb).sum(-1)))
            if tv > worst_tv:
                worst_tv, where["hist"] = tv, k
    emit(
        out,
        {
            "check": "probes",
            "stats_compared": compared,
            "max_rel_diff": worst_rel,
            "max_hist_total_variation": worst_tv,
            "worst": where,
            "passed": bool(compared > 0 and worst_rel <= 1e-2 and worst_tv <= 0.05),
        },
    )


# -- 3. sharpness ----------------------------------------------------------------------------
def hvp_ms(hvp, v, device, reps: int = 20) -> float:
    for _ in range(3):
        hvp(v)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        hvp(v)
    sync(device)
    return (time.perf_counter() - t0) / reps * 1e3


def double_backward_hvp(model, x, y):
    """Autograd's double backward (the reference the torch.func products are timed against)."""
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.enable_grad():
        grads = torch.autograd.grad(F.cross_entropy(model(x), y), params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grads])
    return lambda v: torch.cat([h.reshape(-1) for h in torch.autograd.grad(flat, params, v, retain_graph=True)])


def check_sharpness(out, device: torch.device, trained, rec_dev, rec_cpu) -> None:
    from engine.landscape.sharpness import hvp_function, top_hessian_eigenvalue

    x, y = trained.data.x_train[:256].cpu(), trained.data.y_train[:256].cpu()
    m_cpu = copy.deepcopy(trained.model).cpu().eval()
    m_dev = copy.deepcopy(trained.model).to(device).eval()
    xd, yd = x.to(device), y.to(device)
    lam_cpu, _v, it_cpu = top_hessian_eigenvalue(m_cpu, x, y, iters=300, tol=1e-6)
    lam_dev, _v, it_dev = top_hessian_eigenvalue(m_dev, xd, yd, iters=300, tol=1e-6)
    v = torch.randn(sum(p.numel() for p in m_cpu.parameters()), generator=torch.Generator().manual_seed(0))
    h_cpu, _ = hvp_function(m_cpu, x, y)
    h_dev, _ = hvp_function(m_dev, xd, yd)
    hv_err = float((h_dev(v.to(device)).cpu() - h_cpu(v)).norm() / h_cpu(v).norm())
    timings = {}
    for name, make in (
        ("func_vjp", lambda: hvp_function(m_dev, xd, yd, "vjp")[0]),
        ("func_jvp", lambda: hvp_function(m_dev, xd, yd, "jvp")[0]),
        ("autograd_double_backward", lambda: double_backward_hvp(m_dev, xd, yd)),
    ):
        timings[name] = round(hvp_ms(make(), v.to(device), device), 3)
    s_dev = np.asarray(rec_dev.arrays.get("landscape/sharpness", np.zeros((0, 4))))
    s_cpu = np.asarray(rec_cpu.arrays.get("landscape/sharpness", np.zeros((0, 4))))
    series = rel(s_dev[:, 2], s_cpu[:, 2]) if s_dev.shape == s_cpu.shape and len(s_cpu) else float("inf")
    lam_rel = abs(lam_dev - lam_cpu) / abs(lam_cpu)
    emit(
        out,
        {
            "check": "sharpness",
            "lambda_max": {"device": lam_dev, "cpu": lam_cpu},
            "rel_diff": lam_rel,
            "iterations": [it_dev, it_cpu],
            "hv_rel_err": hv_err,
            "ms_per_hvp_on_device": timings,
            "run_series_rel_diff": series,
            "run_series_epochs": s_cpu[:, 0].astype(int).tolist(),
            "passed": bool(lam_rel <= 1e-3 and hv_err <= 1e-4 and series <= 5e-2),
        },
    )


# -- 4. surface -----------------------------------------------------------------------------


def check_surface(out, device: torch.device, trained, trials: int) -> None:
    from engine.landscape.directions import pca_plane, random_plane
    from engine.landscape.params import ParamLayout, flat_params
    from engine.landscape.surface import SurfaceEvaluator, available_memory, compute_surface

    model = copy.deepcopy(trained.model).cpu().eval()
    data = trained.data
    x_cpu, y_cpu = data.x_val[:N_EVAL].cpu(), data.y_val[:N_EVAL].cpu()
    x, y = x_cpu.to(device), y_cpu.to(device)
    center = flat_params(model)
    plane = random_plane(center, ParamLayout.of(model), seed=0)
    axis = np.linspace(-1, 1, GRID)
    A, B = np.meshgrid(axis, axis, indexing="ij")
    cpu_loss, _ = SurfaceEvaluator(model, x_cpu, y_cpu, device="cpu").evaluate_plane(plane, A.ravel(), B.ravel())
    ref_model = copy.deepcopy(model).to(device)
    modes = ["linear-loop", "loop", "linear-vmap", "vmap"]
    evs = {m: SurfaceEvaluator(model, x, y, device=device, mode=m) for m in modes}
    auto = SurfaceEvaluator(model, x, y, device=device)
    ref = per_point_loop(ref_model, plane, axis, x, y, device)  # warm-up and reference
    errors = {}
    for m, ev in evs.items():
        lo, _ = ev.evaluate_plane(plane, A.ravel(), B.ravel())  # warm-up
        errors[m] = rel(lo, cpu_loss)
    times: dict[str, list[float]] = {"loop_reference": [], **{m: [] for m in modes}}
    previews = []
    g = torch.Generator().manual_seed(0)
    walk = torch.cumsum(torch.randn(400, center.numel(), generator=g) * 1e-3, 0)
    traj = (center + walk - walk[-1]).numpy()
    for _ in range(trials):
        sync(device)
        t0 = time.perf_counter()
        per_point_loop(ref_model, plane, axis, x, y, device)
        sync(device)
        times["loop_reference"].append(time.perf_counter() - t0)
        for m, ev in evs.items():
            sync(device)
            t0 = time.perf_counter()
            ev.evaluate_plane(plane, A.ravel(), B.ravel())
            sync(device)
            times[m].append(time.perf_counter() - t0)
        # the first coarse preview, as the Landscape tab asks for it
        t0 = time.perf_counter()
        ev = SurfaceEvaluator(model, x, y, device=device)
        for _surf, level, _f in compute_surface(ev, pca_plane(traj, center), GRID, 1.0):
            if level is not None:
                break
        sync(device)
        previews.append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    speedup = med["loop_reference"] / med[auto.mode]
    target = 20.0 if device.type == "cuda" else 1.3
    preview = float(np.median(previews))
    emit(
        out,
        {
            "check": "surface",
            "grid": f"{GRID}x{GRID}",
            "eval_samples": N_EVAL,
            "device": str(device),
            "auto_mode": auto.mode,
            "auto_chunk": auto.chunk,
            "free_memory_gib": round(available_memory(device) / 2**30, 2),
            "seconds_median": {k: round(v, 4) for k, v in med.items()},
            "speedup_all_modes": {m: round(med["loop_reference"] / med[m], 2) for m in modes},
            "fastest_mode": min(modes, key=lambda m: med[m]),
            "max_rel_err_vs_cpu": {m: float(f"{e:.2e}") for m, e in errors.items()},
            "loop_reference_rel_err_vs_cpu": float(f"{rel(ref.ravel(), cpu_loss):.2e}"),
            "first_preview_s_median": round(preview, 4),
            "passed": bool(max(errors.values()) <= 1e-4),
        },
    )
    emit(
        out,
        {
            "check": "surface_speed",
            "device": str(device),
            "load_avg_1min": round(os.getloadavg()[0], 2),
            "speedup_vs_loop": round(speedup, 2),
            "target_speedup": target,
            "first_preview_s_median": round(preview, 4),
            "target_preview_s": 0.3,
            "passed": bool(speedup >= target and preview <= 0.3),
        },
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"), help="device under test (default cuda)")
    p.add_argument("--out", type=Path, help="also append the JSON lines to this file")
    p.add_argument("--trials", type=int, default=3, help="timed repetitions of the surface (median)")
    p.add_argument("--epochs", type=int, default=6, help="epochs of the training comparison")
    args = p.parse_args()
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("")
    t_start = time.perf_counter()
    cuda = torch.cuda.is_available()
    env = {
        "check": "environment",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda_available": cuda,
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
    if cuda:
        env.update(
            gpu=torch.cuda.get_device_name(0),
            cuda_version=torch.version.cuda,
            gpu_memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1),
            tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
        )
    emit(args.out, env)
    if args.device == "cuda" and not cuda:
        emit(
            args.out,
            {
                "check": "gpu",
                "skipped": "--device cuda but torch.cuda.is_available() is False "
                "(run with --device cpu to check the script itself)",
            },
        )
        return 2
    if args.device == "cpu":
        emit(
            args.out,
            {
                "check": "gpu",
                "skipped": "--device cpu: the GPU part is skipped; every check below "
                "compares the CPU with itself (the script's own test)",
            },
        )
    device = torch.device(args.device)
    try:
        trained, rec_dev, rec_cpu = check_training(args.out, device, args.epochs)
        check_probes(args.out, rec_dev, rec_cpu)
        check_sharpness(args.out, device, trained, rec_dev, rec_cpu)
        check_surface(args.out, device, trained, args.trials)
    except Exception as e:  # noqa: BLE001 - a crash is a result too: report it as a failed check
        import traceback

        emit(
            args.out,
            {
                "check": "error",
                "error": f"{type(e).__name__}: {e}",
                "traceback": traceback.format_exc()[-2000:],
                "passed": False,
            },
        )
    checks = [r for r in RESULTS if "passed" in r]
    failed = [r["check"] for r in checks if not r["passed"]]
    emit(
        args.out,
        {
            "check": "summary",
            "device": str(device),
            "passed": [r["check"] for r in checks if r["passed"]],
            "failed": failed,
            "seconds": round(time.perf_counter() - t_start, 1),
            "load_avg_1min": round(os.getloadavg()[0], 2),
        },
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
