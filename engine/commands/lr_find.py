"""`descent lr-find`: the learning-rate range test on the experiment config, headless."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from engine.commands.common import CommandError, ProgressBar, load_config
from engine.commands.run import check_out
from engine.config import ConfigError, ExperimentConfig, parse_set_args
from engine.jobs import Progress, run_job
from engine.session import Session, SessionError, load_session, save_session
from engine.session.checkpoint import CheckpointError, start_state
from engine.tuning.lr_range import LrRangeError, LrRangeSettings, lr_range_job
from engine.tuning.lr_range_snapshot import MIN_OVER_10, STEEPEST, LrRangeResult

HELP = (
    "learning-rate range test (Smith 2017): train on minibatches while the lr grows exponentially, "
    "stop when the smoothed loss passes 4x its minimum, and suggest an lr (steepest descent, min/10)"
)
DEFAULTS = LrRangeSettings()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "session",
        nargs="?",
        metavar="F.descent",
        help="start from a saved run's weights and optimizer state (its config; --set may change the batch size, "
        "data, optimizer...) instead of a fresh init",
    )
    p.add_argument("--run", default="", metavar="NAME", help="with F.descent: which run (default: its first)")
    p.add_argument("--config", help="experiment config JSON (default: the default experiment)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    p.add_argument("--start", type=float, default=DEFAULTS.start, help=f"first lr (default {DEFAULTS.start:g})")
    p.add_argument("--end", type=float, default=DEFAULTS.end, help=f"last lr (default {DEFAULTS.end:g})")
    p.add_argument(
        "--iterations", type=int, default=DEFAULTS.iterations, help=f"minibatch steps (default {DEFAULTS.iterations})"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (settings, suggestions, the curve)")
    p.add_argument("--out", help="session file to write the result to (.descent; opens in the app)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    try:
        settings = LrRangeSettings(args.start, args.end, args.iterations)
    except LrRangeError as e:
        raise CommandError(str(e)) from None
    state, run_name = None, ""
    if args.session:
        config, state, run_name = _saved_start(args)
    else:
        if args.run:
            raise CommandError("--run needs a session file to take the run from (descent lr-find F.descent --run NAME)")
        config = load_config(args.config, args.set)
    if args.out:
        check_out(args.out)
    bar = None if args.quiet or args.json else ProgressBar(settings.iterations, "lr-find")

    def on_progress(p: Progress) -> None:
        if bar is not None:
            bar.update(round(p.fraction * settings.iterations), p.message.ljust(36))

    try:
        result = run_job(lr_range_job(config, settings, start_state=state), on_progress)
    except (ValueError, RuntimeError, OSError) as e:
        raise CommandError(str(e)) from None
    finally:
        if bar is not None:
            bar.close()
    if args.out:
        session = Session()
        result.store_in(session)
        try:
            save_session(session, args.out)
        except SessionError as e:
            raise CommandError(str(e)) from None
    if args.json:
        print(json.dumps({**result.summary(), "out": args.out}, allow_nan=False))
        return 0
    if args.session:
        print(f"from the weights and optimizer state of run {run_name!r} in {args.session}")
    print(describe(result))
    if args.out:
        print(f"wrote {args.out}")
    return 0


def _saved_start(args: argparse.Namespace) -> tuple[ExperimentConfig, dict[str, Any], str]:
    """The config and start state of a session's run (`--run`, default the first)."""
    if args.config:
        raise CommandError("lr-find F.descent uses the run's config: give --set changes, not --config")
    try:
        session = load_session(args.session)
    except SessionError as e:
        raise CommandError(str(e)) from None
    names = [r.name for r in session.runs]
    if not names:
        raise CommandError(f"{args.session}: holds no run to start from")
    record = next((r for r in session.runs if r.name == (args.run or names[0])), None)
    if record is None:
        raise CommandError(f"--run {args.run!r}: {args.session} holds the runs {', '.join(names[:8])}")
    if record.checkpoint is None:
        raise CommandError(f"{args.session}: run {record.name!r} was saved without its weights")
    try:
        config = record.config.with_updates(parse_set_args(args.set))
        return config, start_state(record.checkpoint), record.name
    except (ConfigError, CheckpointError) as e:
        raise CommandError(str(e)) from None


def describe(result: LrRangeResult) -> str:
    """The human read-out: the two suggestions (the chosen one marked), a coarse table of
    the curve, and why the test stopped."""
    c = result.config
    lines = [
        f"lr range test: {c.optim.name} on {c.data.name}, batch {c.train.batch_size}, "
        f"{result.done} of {result.iterations} steps from {result.start:g} to {result.end:g} "
        f"in {result.seconds:.2f} s; {result.stop_text}",
        "",
        f"  {'lr':>10}  {'loss':>9}  {'smoothed':>9}",
    ]
    rows = sorted({round(i * (result.done - 1) / 9) for i in range(10)})
    for i in rows:
        lines.append(f"  {result.lrs[i]:>10.3g}  {result.losses[i]:>9.4g}  {result.smoothed[i]:>9.4g}")
    lines.append("")
    steep = "n/a (the smoothed loss does not fall)" if result.steepest_lr is None else f"{result.steepest_lr:.3g}"
    mark = {STEEPEST: "", MIN_OVER_10: ""}
    mark[result.suggestion] = "  <- suggested"
    lines.append(f"  steepest descent of the smoothed loss: lr {steep}{mark[STEEPEST]}")
    lines.append(
        f"  minimum of the smoothed loss at lr {result.min_loss_lr:.3g}; /10: lr "
        f"{result.min_over_10_lr:.3g}{mark[MIN_OVER_10]}"
    )
    lr = result.suggested_lr
    lines.append(f"suggested: --set optim.lr={_short(lr)}")
    return "\n".join(lines)


def _short(lr: float) -> str:
    """An lr with 3 significant digits, as a user would type it."""
    return f"{float(f'{lr:.3g}'):g}" if math.isfinite(lr) else str(lr)
