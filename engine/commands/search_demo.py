"""`descent search-demo`: joint search against one-at-a-time tuning, side by side."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from engine.commands.common import CommandError, ProgressBar
from engine.commands.run import check_out
from engine.config import ConfigError, parse_set_args
from engine.jobs import Progress, run_job
from engine.session import SessionError
from engine.tuning.demo import LR_SPACE, MOMENTUM_SPACE, demo_base, joint_vs_one_at_a_time
from engine.tuning.storage import save_search

HELP = (
    "the lecture's demonstration: tuning lr and momentum one at a time and combining the winners, "
    "against a joint random search with the same budget (SGD with momentum on a small 2D set)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trials", type=int, default=12, help="trials per strategy (default 12)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change the demo's base config")
    p.add_argument("--out", default="", help="also write the joint search to this session file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _fmt(v: float) -> str:
    return "diverged" if not math.isfinite(v) else f"{v:.4f}"


def main(args: argparse.Namespace) -> int:
    if not 4 <= args.trials <= 200:
        raise CommandError(f"--trials {args.trials}: expected 4 to 200")
    try:
        base = demo_base(parse_set_args(args.set))
    except ConfigError as e:
        raise CommandError(str(e)) from None
    if args.out:
        check_out(args.out)
    bar = None if args.quiet or args.json else ProgressBar(100, "joint vs one at a time")

    def on_progress(p: Progress) -> None:
        if bar is not None:
            bar.update(round(p.fraction * 100), p.message)

    result = run_job(joint_vs_one_at_a_time(base, args.trials, args.seed), on_progress)
    if bar is not None:
        bar.update(100)
        bar.close()
    if args.out:
        try:
            save_search(result.joint_search, Path(args.out))
        except SessionError as e:
            raise CommandError(str(e)) from None
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    oat, joint = result.one_at_a_time, result.joint
    print(f"same budget: {result.budget} trials each; spaces {LR_SPACE}, {MOMENTUM_SPACE}")
    print(f"{'':24s}{'one at a time':>26s}{'joint random':>26s}")
    print(f"{'optim.lr':24s}{oat['optim.lr']:>26.4g}{joint['optim.lr']:>26.4g}")
    print(f"{'optim.momentum':24s}{oat['optim.momentum']:>26g}{joint['optim.momentum']:>26g}")
    print(f"{'validation loss':24s}{_fmt(result.one_at_a_time_score):>26s}{_fmt(result.joint_score):>26s}")
    eff = [p["optim.lr"] / (1 - p["optim.momentum"]) for p in (oat, joint)]
    print(f"{'effective step lr/(1-m)':24s}{eff[0]:>26.4g}{eff[1]:>26.4g}")
    winner = "joint search" if result.joint_wins else "one at a time"
    print(f"{winner} wins: the winners of separate sweeps do not combine when the parameters interact")
    return 0
