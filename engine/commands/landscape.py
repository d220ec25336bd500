"""`descent landscape`: add a loss surface (with the runs' paths on it) to a session file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from engine.commands.common import CommandError, ProgressBar
from engine.jobs import run_job
from engine.landscape.analysis import (
    LandscapeRequest,
    eval_subset,
    landscape_job,
    model_from_record,
    plane_for,
    store_result,
)
from engine.landscape.directions import KINDS, pca_plane
from engine.landscape.interpolation import line_losses
from engine.landscape.params import LandscapeError, ParamLayout
from engine.landscape.surface import SurfaceEvaluator
from engine.session import SessionError, load_session, save_session
from engine.states import RunState

HELP = (
    "compute the loss surface of a saved run around its final weights (plane: PCA of the trajectory, "
    "random filter-normalized, or init→final) and add it, with the path and a faithfulness read-out, "
    "to a session file"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="session file (.descent) with at least one run")
    p.add_argument("--run", help="run name or 0-based index (default: the first run)")
    p.add_argument("--directions", choices=KINDS, help="plane (default: the run's landscape.directions)")
    p.add_argument("--grid", type=int, help="grid points per axis, 5..401 (default: the run's landscape.grid)")
    p.add_argument("--span", type=float, help="grid half-width (default: the run's landscape.span)")
    p.add_argument("--eval-samples", type=int, help="validation samples evaluated (default: landscape.eval_samples)")
    p.add_argument(
        "--shared",
        action="store_true",
        help="one PCA plane for every run sharing the chosen run's seed and architecture, all paths on it",
    )
    p.add_argument(
        "--line-to",
        metavar="RUN",
        help="also the 1D loss along the line from this run's final weights "
        "to RUN's final weights (name or index; same architecture)",
    )
    p.add_argument("--out", required=True, help="session file to write (may be the input file)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: a surface is thousands of small products, and on a busy "
        "machine one thread avoided OpenMP stalls that made 2 threads 20x slower)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _pick(session, which: str | None):
    if not session.runs:
        raise CommandError("the session has no runs")
    if which is None:
        return session.runs[0]
    if which.isdigit():
        i = int(which)
        if i >= len(session.runs):
            raise CommandError(f"--run {i}: the session has {len(session.runs)} runs (0..{len(session.runs) - 1})")
        return session.runs[i]
    for r in session.runs:
        if r.name == which:
            return r
    raise CommandError(f"--run {which}: no such run (runs: {', '.join(r.name for r in session.runs)})")


def main(args: argparse.Namespace) -> int:
    if args.grid is not None and not 5 <= args.grid <= 401:
        raise CommandError(f"--grid {args.grid}: must be in [5, 401]")
    if args.span is not None and not 0 < args.span <= 100:
        raise CommandError(f"--span {args.span}: must be in (0, 100]")
    if args.eval_samples is not None and args.eval_samples < 1:
        raise CommandError(f"--eval-samples {args.eval_samples}: must be at least 1")
    if not 1 <= args.threads <= 256:
        raise CommandError(f"--threads {args.threads}: must be in [1, 256]")
    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads_before)


def _run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise CommandError(f"{out}: folder {out.parent} does not exist")
    try:
        session = load_session(args.file)
    except SessionError as e:
        raise CommandError(str(e)) from None
    record = _pick(session, args.run)
    cfg = record.config
    request = LandscapeRequest.from_config(cfg, kind=args.directions, grid=args.grid, span=args.span)
    from engine.data import load_data

    try:
        data = load_data(cfg)
        model, final, init = model_from_record(record, data)
        x, y = eval_subset(data.x_val, data.y_val, args.eval_samples or cfg.landscape.eval_samples)
        layout = ParamLayout.of(model)
        traj = record.arrays.get("landscape/trajectory")
        steps = record.arrays.get("landscape/trajectory_steps")
        peers = [record]
        if args.shared:
            peers = [
                r
                for r in session.runs
                if r.config.seed == cfg.seed
                and r.config.model == cfg.model
                and r.config.data == cfg.data
                and "landscape/trajectory" in r.arrays
                and r.state != RunState.DIVERGED
            ]
            if len(peers) < 2:
                raise CommandError(
                    "--shared needs at least two runs with the same seed, model and data, each with a trajectory"
                )
            stacked = np.concatenate([np.asarray(r.arrays["landscape/trajectory"]) for r in peers])
            plane = pca_plane(stacked, final, request.seed)
            plane.info["shared_by"] = [r.name for r in peers]
            request.kind = "pca"
        else:
            plane = plane_for(request, final, layout, None if traj is None else np.asarray(traj), init)
        evaluator = SurfaceEvaluator(model, x, y, device="cpu")
        bar = None if args.quiet else ProgressBar(100, f"surface {request.grid}x{request.grid} ({plane.kind})")
        result = run_job(
            landscape_job(evaluator, plane, request, None if traj is None else np.asarray(traj), steps),
            on_progress=(lambda p: bar.update(int(p.fraction * 100))) if bar else None,
        )
        if bar is not None:
            bar.close()
        store_result(record, result, "shared" if args.shared else "surface")
        for peer in peers[1:]:
            # Every other run's path on the shared plane (its own surface is not computed).
            from engine.landscape.projection import in_plane_fraction, project

            ptraj = np.asarray(peer.arrays["landscape/trajectory"])
            peer.arrays["landscape/shared/path_coords"] = project(plane, ptraj)[0]
            peer.arrays["landscape/shared/path_steps"] = np.asarray(peer.arrays["landscape/trajectory_steps"])
            peer.meta.setdefault("landscape", {})["shared"] = {
                "surface_in_run": record.name,
                "in_plane_fraction": in_plane_fraction(plane, ptraj),
            }
        # 1D lines (Goodfellow et al. 2015): init → final, and optionally to another run's final weights.
        lines = {"init": (init, final)}
        if args.line_to is not None:
            other = _pick(session, args.line_to)
            if other is record:
                raise CommandError("--line-to names the same run as --run")
            from engine.landscape.between import architecture_differences

            diff = architecture_differences(cfg, other.config)
            if diff or other.config.data != cfg.data:
                what = ", ".join(diff) if diff else "a different data set"
                raise CommandError(f"--line-to {other.name}: not the architecture and data of {record.name}: {what}")
            # stored under a fixed key (run names may hold characters array names may not)
            lines["to_run"] = (final, model_from_record(other, data)[1])
            record.meta.setdefault("landscape", {})["line_to_run"] = other.name
        for key, (start, end) in lines.items():
            ln = line_losses(evaluator, start, end, n=41)
            for k, v in ln.items():
                record.arrays[f"landscape/line/{key}/{k}"] = v
        save_session(session, out)
    except LandscapeError as e:
        raise CommandError(str(e)) from None
    except SessionError as e:
        raise CommandError(str(e)) from None
    except (ValueError, RuntimeError) as e:
        raise CommandError(f"{type(e).__name__}: {e}") from None
    s = result.surface
    ev = plane.explained_variance
    f = result.faith
    print(
        f"{record.name}: {plane.kind} plane"
        + (f" (explained variance {ev[0]:.3f} + {ev[1]:.3f})" if ev else "")
        + f", {len(s.alphas)}x{len(s.alphas)} grid in {result.seconds:.2f} s ({result.mode}); "
        f"loss {np.nanmin(s.loss):.4g}..{np.nanmax(s.loss):.4g}"
        + (f"; path in plane {f['in_plane_fraction']:.3f}, |true - surface| mean {f['mean_abs_gap']:.3g}" if f else "")
        + f" → {out}",
        file=sys.stdout,
    )
    return 0
