"""`descent continue`: continue a saved run headless and write it to a new session."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from engine.commands.common import CommandError
from engine.commands.run import add_output_arguments, check_out, train_and_save
from engine.config import ConfigError, parse_set_args
from engine.events import Event, Notice
from engine.session import CheckpointError, SessionError, continue_run, load_session
from engine.states import RunState

HELP = "continue a saved run (a diverged one from its last good weights) and write it to a session file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="session file holding the run (.descent)")
    p.add_argument("--run", help="name of the run to continue (default: the session's only run)")
    p.add_argument("--epochs", type=int, help="epochs in total (default: the run's own)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a config field before continuing, e.g. --set optim.lr=0.01 (repeatable); changed "
        "optimizer settings replace the saved ones",
    )
    add_output_arguments(p, "session file to write (.descent): the continued run alone")


def main(args: argparse.Namespace) -> int:
    check_out(args.out)
    try:
        updates = parse_set_args(args.set)
    except ConfigError as e:
        raise CommandError(str(e)) from None
    try:
        session = load_session(args.file)
    except SessionError as e:
        raise CommandError(str(e)) from None
    names = [r.name for r in session.runs]
    if args.run is None:
        if len(names) != 1:
            raise CommandError(f"{args.file}: holds {len(names)} runs ({', '.join(names)}); choose one with --run")
        record = session.runs[0]
    else:
        if args.run not in names:
            raise CommandError(f"{args.file}: no run named {args.run!r} (runs: {', '.join(names)})")
        record = session.run(args.run)
    if record.checkpoint is None:
        raise CommandError(f"{args.file}: run '{record.name}' was saved without weights; it cannot be continued")
    epochs = args.epochs if args.epochs is not None else updates.pop("train.epochs", None)
    if epochs is None and record.state == RunState.FINISHED:
        raise CommandError(f"run '{record.name}' has finished; give --epochs (more than {record.config.train.epochs})")

    def say(e: Event) -> None:
        if isinstance(e, Notice):
            print(f"descent: {e.message}", file=sys.stderr)

    try:
        trainer, rng = continue_run(record, epochs, emit=say, config_updates=updates)
    except (CheckpointError, ConfigError) as e:
        raise CommandError(f"{args.file}: run '{record.name}': {e}") from None
    except (ValueError, RuntimeError, OSError) as e:
        raise CommandError(f"{args.file}: run '{record.name}' cannot be continued: {e}") from None
    torch.set_rng_state(rng)
    return train_and_save(trainer, Path(args.out), record.name, args.quiet, args.save_on_interrupt)
