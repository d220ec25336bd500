"""`descent lr-find`: the learning-rate range test on the experiment config, headless."""

from __future__ import annotations

import argparse
import json
import math

from engine.commands.common import CommandError, ProgressBar, load_config
from engine.commands.run import check_out
from engine.jobs import Progress, run_job
from engine.session import Session, SessionError, save_session
from engine.tuning.lr_range import LrRangeError, LrRangeSettings, lr_range_job
from engine.tuning.lr_range_snapshot import MIN_OVER_10, STEEPEST, LrRangeResult

HELP = (
    "learning-rate range test (Smith 2017): train on minibatches while the lr grows exponentially, "
    "stop when the smoothed loss passes 4x its minimum, and suggest an lr (steepest descent, min/10)"
)
DEFAULTS = LrRangeSettings()


def add_arguments(p: argparse.ArgumentParser) -> None:
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
    config = load_config(args.config, args.set)
    if args.out:
        check_out(args.out)
    bar = None if args.quiet or args.json else ProgressBar(settings.iterations, "lr-find")

    def on_progress(p: Progress) -> None:
        if bar is not None:
            bar.update(round(p.fraction * settings.iterations), p.message.ljust(36))

    try:
        result = run_job(lr_range_job(config, settings), on_progress)
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
    print(describe(result))
    if args.out:
        print(f"wrote {args.out}")
    return 0


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
