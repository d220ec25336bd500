"""`descent run`: train headless with a progress bar and write a session."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.atomic import output_path_problem
from engine.commands.common import CommandError, ProgressBar, load_config
from engine.events import EpochEnd, Event
from engine.experiment import build_trainer
from engine.session import Session, SessionError, capture_checkpoint, record_of, save_session
from engine.states import RunState
from engine.train.trainer import Trainer

HELP = "train headless and write a session file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="experiment config JSON (defaults otherwise)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set optim.lr=0.1 (repeatable)",
    )
    p.add_argument("--name", default="run", help="name of the run inside the session")
    add_output_arguments(p, "session file to write (.descent)")


def add_output_arguments(p: argparse.ArgumentParser, out_help: str) -> None:
    """--out, --quiet and --save-on-interrupt: the options of a command that trains and saves."""
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--save-on-interrupt",
        action="store_true",
        help="on Ctrl-C (SIGINT), save the stopped run to --out (by default the file is left as it was; exit 130)",
    )


def check_out(path: str) -> None:
    """Refuse an --out that cannot be written, before training: its result must not be lost."""
    problem = output_path_problem(path)
    if problem is not None:
        raise CommandError(f"--out {path!r}: {problem}")


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.set)
    check_out(args.out)
    out = Path(args.out)
    try:
        trainer = build_trainer(config, run_id=args.name)
    except (ValueError, RuntimeError, OSError) as e:
        raise CommandError(str(e)) from None
    return train_and_save(trainer, out, args.name, args.quiet, args.save_on_interrupt)


def train_and_save(trainer: Trainer, out: Path, name: str, quiet: bool, save_on_interrupt: bool) -> int:
    """Train to the end with a progress bar, write the run to `out` (with its checkpoint,
    so it can be continued) and print how it ended; the exit code (1 for a divergence,
    130 for Ctrl-C). Shared by `descent run` and `descent continue`."""
    bar = None if quiet else ProgressBar(trainer.total_steps, "training")
    last = {"val_acc": float("nan"), "train_loss": float("nan")}

    def on_event(e: Event) -> None:
        if isinstance(e, EpochEnd):
            last.update(e.metrics)

    trainer.emit = on_event
    trainer.state = RunState.RUNNING
    interrupted = False
    try:
        while trainer.train_step():
            if bar is not None and trainer.step % 20 == 0:
                bar.update(
                    trainer.step, f"epoch {trainer.epoch} loss {last['train_loss']:.4f} val acc {last['val_acc']:.3f}"
                )
    except KeyboardInterrupt:
        interrupted = True
        if save_on_interrupt:
            trainer.stop()
    if bar is not None:
        bar.update(
            trainer.total_steps if trainer.state == RunState.FINISHED else trainer.step,
            f"epoch {trainer.epoch} loss {last['train_loss']:.4f} val acc {last['val_acc']:.3f}",
        )
        bar.close()
    if interrupted and not save_on_interrupt:
        print(
            f"descent: interrupted at step {trainer.step} of {trainer.total_steps}: nothing saved, {out} left as it "
            "was (--save-on-interrupt saves the stopped run)",
            file=sys.stderr,
        )
        return 130
    record = record_of(trainer, name)
    record.checkpoint = capture_checkpoint(trainer)  # weights + optimizer state: the run can be continued
    try:
        save_session(Session(runs=[record]), out)
    except SessionError as e:
        raise CommandError(str(e)) from None
    if interrupted:
        print(
            f"descent: interrupted at step {trainer.step} of {trainer.total_steps}: the stopped run was saved to "
            f"{out} (it can be continued)",
            file=sys.stderr,
        )
        return 130
    if trainer.state == RunState.DIVERGED:
        print(f"descent: run diverged: {trainer.message} (session written to {out})", file=sys.stderr)
        return 1
    f = record.final
    print(
        f"{out}: {trainer.state} after {int(f['epochs'])} epochs — train loss {f['train_loss']:.4f}, "
        f"val loss {f['val_loss']:.4f}, val acc {f['val_acc']:.3f}"
    )
    return 0
