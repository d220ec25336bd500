"""`descent compare`: train variants of one experiment in lockstep and write one session."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from engine.commands.common import CommandError, ProgressBar, load_config
from engine.compare import ComparisonSpec, LockstepRunner, grid_variants, parse_vary
from engine.compare.layout import comparison_meta
from engine.config import ConfigError
from engine.session import Session, SessionError, save_session
from engine.states import RunState

HELP = (
    "train several variants of one experiment side by side (same seed: same initial weights and batches) "
    "and write them to one session file"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="base experiment config JSON (defaults otherwise)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of the base config (repeatable)",
    )
    p.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="one variant per value, e.g. --vary optim.name=sgd,momentum,adam; several --vary make a "
        "grid; list fields separate alternatives with ';' (model.hidden=64;32,32)",
    )
    p.add_argument("--out", required=True, help="session file to write (.descent)")
    p.add_argument("--no-weights", action="store_true", help="do not store final weights and optimizer state")
    p.add_argument(
        "--surface",
        action="store_true",
        help="also compute the runs' paths on one shared loss surface (PCA plane of all trajectories)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _fmt(v: float | None) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.4f}"


def main(args: argparse.Namespace) -> int:
    base = load_config(args.config, args.set)
    if not args.vary:
        raise CommandError("nothing to compare: give at least one --vary KEY=V1,V2,...")
    try:
        spec = ComparisonSpec(base, grid_variants(parse_vary(args.vary)))
        runs = spec.configs()
    except ConfigError as e:
        raise CommandError(str(e)) from None
    out = Path(args.out)
    if not out.parent.exists():
        raise CommandError(f"{out}: folder {out.parent} does not exist")
    runner = LockstepRunner()
    try:
        for name, cfg in runs:
            runner.add(name, cfg)
    except (ValueError, RuntimeError, OSError) as e:
        raise CommandError(str(e)) from None
    total = sum(t.total_steps for t in runner.trainers.values())
    bar = None if args.quiet else ProgressBar(total, f"comparing {len(runs)} runs")

    def on_round(_n: int) -> None:
        if bar is not None and _n % 10 == 0:
            bar.update(
                sum(t.step for t in runner.trainers.values()), f"epoch {max(t.epoch for t in runner.trainers.values())}"
            )

    try:
        runner.run(on_round=on_round)
    except KeyboardInterrupt:
        for t in runner.trainers.values():
            if not t.finished:
                t.state = RunState.STOPPED
    if bar is not None:
        bar.update(total, "")
        bar.close()
    records = runner.records(checkpoints=not args.no_weights)
    session = Session(runs=records, meta={"comparison": comparison_meta(spec, [r.name for r in records])})
    if args.surface:
        from engine.compare.surface import shared_surface
        from engine.landscape.params import LandscapeError

        try:
            shared_surface(records).save_into(session)
        except LandscapeError as e:
            print(f"descent: no shared surface: {e}", file=sys.stderr)
    try:
        save_session(session, out)
    except SessionError as e:
        raise CommandError(str(e)) from None
    width = max(len(r.name) for r in records)
    print(f"{out}: {len(records)} runs, same seed ({base.seed})")
    for r in records:
        f = r.final
        print(
            f"  {r.name:<{width}}  {r.state:<9} train loss {_fmt(f.get('train_loss'))}  "
            f"val loss {_fmt(f.get('val_loss'))}  val acc {_fmt(f.get('val_acc'))}"
        )
    diverged = [r.name for r in records if r.state == RunState.DIVERGED]
    if diverged:
        print(f"descent: diverged: {', '.join(diverged)} (learning rate likely too high)", file=sys.stderr)
    return 0
