"""`descent playground`: race optimizers on an exact 2-parameter surface, headless."""

from __future__ import annotations

import argparse
import json
import time

from engine.commands.common import CommandError
from engine.config import ConfigError
from engine.playground import FUNCTIONS, make_config
from engine.playground.race import Race
from engine.playground.session import race_to_session, racer_summary
from engine.session import SessionError, save_session

HELP = f"race optimizers on a 2-parameter test function and save the paths (functions: {', '.join(FUNCTIONS)})"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--function", default="rosenbrock", help=f"test function: {', '.join(FUNCTIONS)}")
    p.add_argument(
        "--optimizers",
        default="sgd,momentum,nesterov,adagrad,rmsprop,adam",
        help="comma-separated optimizer names (repeats allowed: adam,adam)",
    )
    p.add_argument("--steps", type=int, help="lockstep steps (default 500)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="sigma=0.5, seed=1, start=x,y, condition=100, rotation=30, optim.lr=0.01 (all racers), "
        "adam.lr=0.05 or adam.schedule.name=cosine (one racer)",
    )
    p.add_argument(
        "--exact",
        action="store_true",
        help="step each racer with its own torch.optim optimizer object (about 15x slower; same paths)",
    )
    p.add_argument("--out", help="session file to write (.descent)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def _updates(args: argparse.Namespace) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in args.set:
        if "=" not in pair:
            raise CommandError(f"--set expects KEY=VALUE, got '{pair}'")
        k, v = pair.split("=", 1)
        out[k.strip()] = v
    if args.steps is not None:
        out["steps"] = str(args.steps)
    if args.exact:
        out["exact"] = "true"
    return out


def main(args: argparse.Namespace) -> int:
    names = [n for n in args.optimizers.split(",") if n.strip()]
    if not names:
        raise CommandError("--optimizers needs at least one optimizer name")
    try:
        cfg = make_config(args.function, names, _updates(args))
    except ConfigError as e:
        raise CommandError(str(e)) from None
    t0 = time.perf_counter()
    race = Race(cfg)
    race.advance()
    elapsed = time.perf_counter() - t0
    results = [racer_summary(cfg, i, p) for i, p in enumerate(race.paths())]
    if args.out:
        try:
            save_session(race_to_session(race), args.out)
        except SessionError as e:
            raise CommandError(str(e)) from None
    if args.json:
        print(
            json.dumps(
                {
                    "function": cfg.function,
                    "steps": race.done,
                    "seconds": round(elapsed, 4),
                    "racers": results,
                    "out": args.out,
                }
            )
        )
        return 0
    print(
        f"{cfg.function}: {len(results)} optimizers x {race.done} steps in {elapsed:.2f} s from "
        f"({cfg.start_point[0]:g}, {cfg.start_point[1]:g})"
    )
    for r in results:
        d = r["distance_to_minimum"]
        loss = r["final_loss"]
        print(
            f"  {r['label']:<12} lr {r['lr']:<8g} loss {'n/a' if loss is None else f'{loss:.4g}':<11} "
            f"distance to minimum {'n/a' if d is None else f'{d:.4g}':<10} {r['status']}"
            + (f": {r['message']}" if r["message"] else "")
        )
    if args.out:
        print(f"wrote {args.out}")
    return 0
