"""`descent search`: a hyper-parameter search over the experiment config, written to a session."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from engine.commands.common import CommandError, ProgressBar, load_config
from engine.commands.run import check_out
from engine.config import ConfigError, parse_set_args
from engine.jobs import JobCancelled, JobRun, Progress
from engine.session import SessionError
from engine.states import RunState
from engine.tuning.search import PRUNERS, SAMPLER_ALIASES, SearchError, SearchRun, SearchSettings
from engine.tuning.snapshot import SearchSnapshot, TrialRecord
from engine.tuning.space import SearchSpace, SpaceError, choice_label, narrowed_space, parse_param, parse_space
from engine.tuning.storage import load_search, save_search

HELP = (
    "search hyper-parameters jointly (Optuna: random, TPE, grid...; pruning; hold-out or k-fold validation) "
    "and write the trials to a session file; --refine-from runs the next, narrower round"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="base experiment config JSON (defaults otherwise)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a base config field")
    p.add_argument(
        "--space",
        action="append",
        default=[],
        metavar="KEY=SCALE:…",
        help="a searched field: log:a:b, linear:a:b, int:a:b or choice:x,y (list fields: choice:64;32,32); "
        "KEY alone takes its default range (optim.lr, optim.weight_decay, reg.l2, optim.momentum, model.dropout, "
        "train.batch_size, model.hidden, model.init_std, optim.name)",
    )
    p.add_argument("--trials", type=int, default=20, help="trials of this round (a resumed study's total; default 20)")
    p.add_argument(
        "--sampler",
        default="random",
        help=f"{'|'.join(SAMPLER_ALIASES)} or any optuna.samplers class name (default random)",
    )
    p.add_argument("--prune", default="none", choices=PRUNERS, help="stop clearly worse trials early (default none)")
    p.add_argument("--folds", type=int, default=1, help="k-fold cross-validation (default 1: the hold-out split)")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="trials at once, each in its own worker process (default 1); with --ray: at most this many at once "
        "on the cluster (default: as many as its CPUs)",
    )
    p.add_argument("--grid-points", type=int, default=5, help="grid: points per continuous range (default 5)")
    p.add_argument("--seed", type=int, default=None, help="sampler seed (default: the config's seed)")
    p.add_argument(
        "--storage",
        nargs="?",
        const="default",
        default="",
        metavar="URL",
        help="keep the study in an Optuna RDB storage (shared by several processes, resumable, opens in "
        "optuna-dashboard); alone: sqlite:///OUT.db beside --out",
    )
    p.add_argument("--study", default="", help="study name in the storage (default: --out's name)")
    p.add_argument(
        "--ray",
        default="",
        metavar="ADDRESS",
        help="run the trials as Ray Tune trials on an existing Ray cluster (HOST:PORT of its head, or "
        "ray://HOST:PORT); needs the cluster extra",
    )
    p.add_argument("--refine-from", default="", metavar="F.descent", help="run the next round of this session's search")
    p.add_argument("--top", type=int, default=5, help="with --refine-from: narrow around the best K trials (default 5)")
    p.add_argument(
        "--test-best",
        default="",
        metavar="F.descent",
        help="instead of searching: retrain this session's best trial and measure it once on the test split "
        "(recorded in --out)",
    )
    p.add_argument("--out", required=True, help="session file to write (.descent)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _fmt(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.4f}"


def _params_text(t: TrialRecord) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={choice_label(v)}" for k, v in t.params.items())


def _refined(args: argparse.Namespace) -> tuple[SearchSnapshot, SearchSpace, str]:
    try:
        prev = load_search(args.refine_from)
    except SessionError as e:
        raise CommandError(str(e)) from None
    if args.top < 1:
        raise CommandError(f"--top {args.top}: expected at least 1")
    last = prev.rounds[-1]
    best = prev.best(args.top, round=last.number) or prev.best(args.top)
    if not best:
        raise CommandError(f"{args.refine_from}: no complete trial to refine around")
    space = narrowed_space(parse_space(list(last.space)), [t.params for t in best])
    for item in args.space:  # explicit --space items replace the narrowed ones
        space = space.with_param(parse_param(item)) if parse_param(item).key in space.keys else space
    how = f"refined around the best {len(best)} of round {last.number}"
    return prev, space, how


def settings_from_args(args: argparse.Namespace) -> SearchSettings:
    """The search the arguments describe; CommandError on any bad one."""
    try:
        prev = None
        if args.refine_from:
            if args.config:
                raise CommandError("--refine-from keeps the search's base config: give --set changes, not --config")
            prev, space, how = _refined(args)
            base = prev.base.with_updates(parse_set_args(args.set))
        else:
            base = load_config(args.config, args.set)
            space = parse_space(args.space)
            how = ""
        if args.folds < 1:
            raise CommandError(f"--folds {args.folds}: expected 1 (hold-out) or more")
        if args.jobs is not None and args.jobs < 1:
            raise CommandError(f"--jobs {args.jobs}: expected at least 1")
        storage = args.storage
        study = args.study or (prev.study_name if prev else Path(args.out).stem) or "descent-search"
        if storage == "default":
            storage = f"sqlite:///{Path(args.out).with_suffix('.db')}"
        return SearchSettings(
            base=base,
            space=space,
            trials=args.trials,
            sampler=args.sampler,
            pruner=args.prune,
            folds=args.folds,
            jobs=1 if args.ray or args.jobs is None else args.jobs,  # --ray: the cluster's concurrency
            grid_points=args.grid_points,
            storage=storage,
            study_name=study,
            seed=base.seed if args.seed is None else args.seed,
            round=(prev.rounds[-1].number + 1) if prev else 1,
            how=how,
            previous=prev,
        )
    except (SpaceError, ConfigError, SearchError) as e:
        raise CommandError(str(e)) from None


def test_best(args: argparse.Namespace) -> int:
    """--test-best: the explicit test-split evaluation of a finished search's best trial."""
    from engine.tuning.evaluate import evaluate_best_on_test

    check_out(args.out)
    try:
        snapshot = evaluate_best_on_test(load_search(args.test_best))
        save_search(snapshot, Path(args.out))
    except (SessionError, SearchError) as e:
        raise CommandError(str(e)) from None
    ev = snapshot.test_evaluation or {}
    print(
        f"{args.out}: trial #{ev['trial']} on the test split ({ev['n_test']} samples): test loss "
        f"{_fmt(ev['test_loss'] if ev['test_loss'] is not None else math.nan)}, test acc {ev['test_acc']:.4f} "
        f"(validation loss in the search {_fmt(ev['val_loss'])})"
    )
    return 0


def main(args: argparse.Namespace) -> int:
    if args.test_best:
        return test_best(args)
    settings = settings_from_args(args)
    check_out(args.out)
    out = Path(args.out)
    try:
        if args.ray:
            from engine.tuning.ray_backend import RaySearch

            run: SearchRun = RaySearch(settings, args.ray, max_concurrent=args.jobs or 0)
        else:
            run = SearchRun(settings)
    except SearchError as e:
        raise CommandError(str(e)) from None
    if args.ray:
        at_once = f"at most {args.jobs} at once" if args.jobs else "as many at once as its CPUs"
        label = f"searching ({settings.sampler}, on the Ray cluster, {at_once})"
    else:
        label = f"searching ({settings.sampler}, {settings.jobs} job{'s' if settings.jobs > 1 else ''})"
    bar = None if args.quiet else ProgressBar(settings.budget, label)

    def on_progress(p: Progress) -> None:
        if bar is not None:
            snap = p.preview
            best = snap.best(1) if snap is not None else []
            done = round(p.fraction * settings.budget)
            bar.update(done, f"{p.message} best {_fmt(best[0].score) if best else '—'}")

    job = run.job()
    interrupted = False
    try:
        JobRun(job).run(on_progress)
    except KeyboardInterrupt:
        interrupted = True
        job.close()  # its finally ends the running trials as stopped and the workers
    except JobCancelled:
        interrupted = True
    except (SearchError, OSError) as e:
        raise CommandError(str(e)) from None
    if bar is not None:
        bar.close()
    snapshot = run.snapshot
    try:
        save_search(snapshot, out)
    except SessionError as e:
        raise CommandError(str(e)) from None
    report(snapshot, out)
    if interrupted:
        kept = sum(1 for t in snapshot.trials if t.state != RunState.STOPPED)
        print(f"descent: search interrupted: {kept} finished trials kept in {out}", file=sys.stderr)
        return 130
    return 0


def report(snapshot: SearchSnapshot, out: Path | None = None, top: int = 5) -> None:
    """The best trials and the counts by state, on stdout."""
    counts: dict[str, int] = {}
    for t in snapshot.trials:
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    where = f"{out}: " if out else ""
    states = ", ".join(f"{v} {k}" for k, v in counts.items())
    print(f"{where}search '{snapshot.study_name}', {len(snapshot.trials)} trials ({states})")
    for note in snapshot.notes:
        print(f"note: {note}")
    best = snapshot.best(top)
    if not best:
        print("no complete trial")
        return
    sd = " ± sd over folds" if snapshot.folds > 1 else ""
    print(f"best trials (validation loss{sd}):")
    for t in best:
        pm = f" ± {t.score_sd:.4f}" if snapshot.folds > 1 and math.isfinite(t.score_sd) else ""
        print(f"  #{t.number:<4d} round {t.round}  {t.score:.4f}{pm}  acc {_fmt(t.val_acc)}  {_params_text(t)}")
    for t in snapshot.trials:
        if t.state in (RunState.ERROR, RunState.DIVERGED):
            print(f"  #{t.number:<4d} {t.state.value}: {t.message}")
