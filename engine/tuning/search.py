"""A hyper-parameter search over the experiment config, through Optuna, as a cancellable job.

Optuna's ask/tell interface keeps the study in this process: each trial's parameters are
sampled here, define-by-run (engine/tuning/space.py), the trial trains in-process or in a
worker process (engine/tuning/worker.py), reports its validation loss after each epoch, and
the pruner decides here whether it goes on. Samplers and pruners are Optuna's own, by name.

The study lives in memory, or in any Optuna RDB storage (`--storage sqlite:///study.db`),
which several processes can share and a later search can resume: the storage is then the
source of truth and the session file its snapshot. A storage holding another study is
refused with both names.

The job yields `Progress` with the current `SearchSnapshot` as its preview; a failed or
diverging trial is recorded as such and the search goes on; cancelling (Stop, Ctrl+C)
ends the running trials as STOPPED and keeps every finished one (`SearchRun.snapshot`).
"""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait
from typing import Any

import optuna

from engine.config import ConfigError, ExperimentConfig
from engine.jobs import Job, Progress
from engine.states import RunState
from engine.tuning.kfold import BundleCache, search_bundles
from engine.tuning.options import PRUNERS, usable_cores
from engine.tuning.snapshot import Round, SearchSnapshot, TrialRecord
from engine.tuning.space import Param, SearchSpace, choice_label, sample, trial_config, value_of
from engine.tuning.trial import EpochReport, TrialOutcome, TrialSteps, TrialTask, trial_epochs, worker_name
from engine.tuning.worker import POOL, threads_per_worker

SAMPLER_ALIASES = {
    "grid": "GridSampler",
    "random": "RandomSampler",
    "tpe": "TPESampler",
    "cmaes": "CmaEsSampler",
    "qmc": "QMCSampler",
    "gp": "GPSampler",
    "bruteforce": "BruteForceSampler",
    "nsgaii": "NSGAIISampler",
}
MAX_TRIALS = 100_000


class SearchError(ValueError):
    """A search that cannot start (bad sampler, storage from another study...); one line."""


optuna.logging.set_verbosity(optuna.logging.ERROR)


@dataclass
class SearchSettings:
    """Everything a search round needs."""

    base: ExperimentConfig
    space: SearchSpace
    trials: int = 20
    sampler: str = "random"
    pruner: str = "none"
    folds: int = 1
    jobs: int = 1
    grid_points: int = 5
    storage: str = ""
    study_name: str = "descent-search"
    seed: int | None = None
    round: int = 1
    how: str = ""
    in_process: bool = True  # jobs == 1 trains here, not in a worker process
    previous: SearchSnapshot | None = None  # the earlier rounds, kept in the snapshot

    @property
    def is_grid(self) -> bool:
        return self.sampler.lower() in ("grid", "gridsampler")

    @property
    def budget(self) -> int:
        return min(self.trials, self.space.grid_size(self.grid_points)) if self.is_grid else self.trials


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler under ask/tell: the search stops itself at the grid's size (the
    original's after_trial calls study.stop(), which works only inside study.optimize and
    would leave the last trial unfinished)."""

    def after_trial(self, study: optuna.Study, trial: Any, state: Any, values: Any) -> None:
        return None


def make_sampler(name: str, space: SearchSpace, grid_points: int, seed: int | None) -> optuna.samplers.BaseSampler:
    """An Optuna sampler by name (grid, random, tpe, or any optuna.samplers class name)."""
    cls_name = SAMPLER_ALIASES.get(name.lower(), name)
    if cls_name.lower() in {v.lower() for v in SAMPLER_ALIASES.values()}:
        cls_name = next(v for v in SAMPLER_ALIASES.values() if v.lower() == cls_name.lower())
    cls = getattr(optuna.samplers, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, optuna.samplers.BaseSampler)):
        raise SearchError(
            f"--sampler {name!r}: unknown sampler (expected {'|'.join(SAMPLER_ALIASES)} or an optuna.samplers class)"
        )
    if cls is optuna.samplers.GridSampler:
        return AskTellGridSampler(space.grid(grid_points), seed=seed)
    try:
        return cls(seed=seed)  # type: ignore[call-arg]  # every sampler but Grid/PartialFixed takes a seed
    except TypeError:
        try:
            return cls()
        except TypeError as e:
            raise SearchError(f"--sampler {name!r}: cannot be made without arguments ({e})") from None


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """none; median (Optuna's MedianPruner: stop a trial whose loss is worse than the median of
    the others' at the same epoch, after 3 trials and its first epoch); asha (successive
    halving, rungs at 1, 3, 9... epochs); hyperband (several successive-halving brackets)."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, epochs), reduction_factor=3)
    raise SearchError(f"--prune {name!r}: expected {'|'.join(PRUNERS)}")


def shown_url(url: str) -> str:
    """A storage URL without its password (a session file never stores credentials)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in cred else url
    return url


def open_study(settings: SearchSettings) -> optuna.Study:
    """The round's study: in memory, or created in / resumed from the storage. A storage that
    holds studies but not this one is refused with both names; a stored study made with
    another space is refused too."""
    sampler = make_sampler(settings.sampler, settings.space, settings.grid_points, settings.seed)
    pruner = make_pruner(settings.pruner, settings.base.train.epochs)
    name = study_name(settings)
    if not settings.storage:
        return optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner, study_name=name)
    try:
        storage = optuna.storages.get_storage(settings.storage)
        names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    except Exception as e:  # noqa: BLE001 - any backend's failure to open (sqlalchemy, driver) is one line
        raise SearchError(f"--storage {shown_url(settings.storage)}: cannot open ({str(e).splitlines()[0]})") from None
    own = [n for n in names if n == name or n.startswith(f"{settings.study_name}.round")]
    if names and not own:
        raise SearchError(
            f"--storage {shown_url(settings.storage)} holds the study {', '.join(repr(n) for n in names[:3])}, "
            f"not {name!r}: give --study {names[0]} to resume it, or another storage"
        )
    study = optuna.create_study(
        direction="minimize", sampler=sampler, pruner=pruner, study_name=name, storage=storage, load_if_exists=True
    )
    stored = study.user_attrs.get("space")
    if stored is not None and stored != settings.space.texts():
        raise SearchError(
            f"--storage: study {name!r} was searched over {'; '.join(stored)}, not {'; '.join(settings.space.texts())}"
        )
    study.set_user_attr("space", settings.space.texts())
    study.set_user_attr("base", settings.base.model_dump(mode="json"))
    return study


def study_name(settings: SearchSettings) -> str:
    return settings.study_name if settings.round <= 1 else f"{settings.study_name}.round{settings.round}"


def _suggest(trial: optuna.Trial, p: Param) -> Any:
    if p.scale == "choice":
        return trial.suggest_categorical(p.key, [choice_label(c) for c in p.choices])
    if p.scale == "int":
        return trial.suggest_int(p.key, int(p.low), int(p.high))
    return trial.suggest_float(p.key, p.low, p.high, log=p.scale == "log")


_STATE_OF = {
    optuna.trial.TrialState.COMPLETE: RunState.FINISHED,
    optuna.trial.TrialState.PRUNED: RunState.PRUNED,
    optuna.trial.TrialState.RUNNING: RunState.RUNNING,
    optuna.trial.TrialState.WAITING: RunState.IDLE,
}


def record_of(frozen: optuna.trial.FrozenTrial, space: SearchSpace, round: int) -> TrialRecord:
    """A stored Optuna trial as a TrialRecord (a resumed study, another process's trials)."""
    # How the trial ended is one user attribute (one storage write); studies written before kept
    # each value in its own.
    attrs = {**frozen.user_attrs, **frozen.user_attrs.get("outcome", {})}
    state = _STATE_OF.get(frozen.state)
    if state is None:
        state = RunState(attrs.get("state", RunState.ERROR.value))
    params = {}
    for k, v in frozen.params.items():
        try:
            params[k] = value_of(space.param(k), v)
        except (KeyError, ConfigError):
            params[k] = v
    curve = tuple(float(frozen.intermediate_values[s]) for s in sorted(frozen.intermediate_values))
    return TrialRecord(
        number=frozen.number,
        round=int(attrs.get("round", round)),
        state=state,
        params=params,
        score=float(frozen.value) if frozen.value is not None and state == RunState.FINISHED else math.nan,
        score_sd=float(attrs.get("score_sd", math.nan)),
        val_acc=float(attrs.get("val_acc", math.nan)),
        curve=curve,
        curve_sd=tuple(attrs.get("curve_sd", ())),
        train_curve=tuple(attrs.get("train_curve", ())),
        message=str(attrs.get("message", "")),
        t_start=float(attrs.get("t_start", 0.0)),
        t_end=float(attrs.get("t_end", 0.0)),
        worker=str(attrs.get("worker", "")),
    )


ORPHAN_NOTE = "trial(s) left running in the storage by a process that ended"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def fail_orphans(study: optuna.Study) -> dict[int, str]:
    """Mark failed the stored trials left RUNNING by a process of this machine that has ended
    (killed mid-search); their numbers with the message. A running trial of a live process,
    or of another machine, is left alone."""
    out: dict[int, str] = {}
    for frozen in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        pid, _, host = str(frozen.user_attrs.get("owner", "")).partition("@")
        if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
            study.tell(frozen.number, state=optuna.trial.TrialState.FAIL)
            out[frozen.number] = f"left running by process {pid}, which ended: marked failed when resumed"
    return out


@dataclass
class _Running:
    trial: optuna.Trial
    task: TrialTask
    params: dict[str, Any]
    record: TrialRecord


class InProcessSlot:
    """Runs one trial at a time here (jobs=1): each poll trains one epoch."""

    def __init__(self) -> None:
        self.cache = BundleCache()
        self.task: TrialTask | None = None
        self._gen: TrialSteps | None = None
        self._reply: bool | None = None

    def start(self, task: TrialTask) -> None:
        self.task, self._gen, self._reply = task, trial_epochs(task, self.cache), None

    def reply(self, keep_going: bool) -> None:
        self._reply = keep_going

    def poll(self) -> EpochReport | TrialOutcome:
        assert self._gen is not None
        try:
            return next(self._gen) if self._reply is None else self._gen.send(self._reply)
        except StopIteration as stop:
            return stop.value

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()


@dataclass
class SearchRun:
    """One round of a search: `job()` is the cancellable job; `snapshot` is always the latest
    state (also after a cancel)."""

    settings: SearchSettings
    snapshot: SearchSnapshot = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        if not 1 <= s.trials <= MAX_TRIALS:
            raise SearchError(f"--trials {s.trials}: expected 1 to {MAX_TRIALS}")
        if s.jobs < 1 or s.jobs > usable_cores():
            raise SearchError(f"--jobs {s.jobs}: expected 1 to {usable_cores()} (the cores this machine has)")
        if s.pruner not in PRUNERS:
            raise SearchError(f"--prune {s.pruner!r}: expected {'|'.join(PRUNERS)}")
        if not 1 <= s.grid_points <= 1000:
            raise SearchError(f"--grid-points {s.grid_points}: expected 1 to 1000")
        prev = s.previous
        rounds = (*(prev.rounds if prev else ()), Round(s.round, tuple(s.space.texts()), s.sampler, s.how))
        self.snapshot = SearchSnapshot(
            study_name=s.study_name,
            base=s.base,
            rounds=rounds,
            trials=prev.trials if prev else (),
            budget=s.budget,
            pruner=s.pruner,
            folds=s.folds,
            jobs=s.jobs,
            storage=shown_url(s.storage),
        )

    def job(self) -> Job[SearchSnapshot]:
        s = self.settings
        t_wall = time.perf_counter()
        try:
            search_bundles(s.base, s.folds)  # refuses bad folds or data before any trial (one line)
        except (ValueError, OSError) as e:
            raise SearchError(str(e)) from None
        study = open_study(s)
        threads = threads_per_worker(s.jobs)
        offset = 0 if s.previous is None else 1 + max((t.number for t in s.previous.trials), default=-1)
        # (trial numbers of a later round follow the earlier rounds' in the snapshot)
        stale = fail_orphans(study)  # left RUNNING by a process that ended: failed, not counted
        for frozen in study.get_trials(deepcopy=False):  # a resumed study: its trials are this round's
            if frozen.state.is_finished():
                rec = replace(record_of(frozen, s.space, s.round), number=offset + frozen.number)
                self._put(replace(rec, message=stale[frozen.number]) if frozen.number in stale else rec)
        if stale:
            self.snapshot = replace(
                self.snapshot, notes=(*self.snapshot.notes, f"{len(stale)} {ORPHAN_NOTE}: marked failed, not counted")
            )
        slots: list[Any] = [InProcessSlot()] if s.jobs == 1 and s.in_process else POOL.take(s.jobs, threads)
        # slot index → its trials in order: the one it trains, then (workers, no pruner) one
        # more already sent, so that a worker never waits for this process between two trials
        running: dict[int, list[_Running]] = {i: [] for i in range(len(slots))}
        depth = 2 if s.pruner == "none" and not isinstance(slots[0], InProcessSlot) else 1
        optuna_s = 0.0
        stopping = False

        def ask(slot_index: int) -> bool:
            nonlocal optuna_s
            t0 = time.perf_counter()
            if sum(1 for t in study.get_trials(deepcopy=False) if t.number not in stale) >= s.budget:
                optuna_s += time.perf_counter() - t0
                return False
            trial = study.ask()
            values = sample(s.space, s.base, lambda p: _suggest(trial, p), all_params=s.is_grid)
            trial.set_user_attr("round", s.round)
            trial.set_user_attr("owner", worker_name())  # a resumed search fails it if this process ends first
            optuna_s += time.perf_counter() - t0
            number = offset + trial.number
            try:
                config, _notes = trial_config(s.base, values)
            except ConfigError as e:
                outcome = TrialOutcome(number, RunState.ERROR, message=f"invalid config: {e}")
                self._finish(study, trial, outcome, values)
                return True
            task = TrialTask(number, config.model_dump_json(), s.folds, threads, prune=s.pruner != "none")
            record = TrialRecord(number, s.round, RunState.RUNNING, values, t_start=time.time())
            queue = running[slot_index]
            queue.append(_Running(trial, task, values, record))
            if len(queue) == 1:  # it trains now (a queued one shows as running when it starts)
                self._put(record)
            slots[slot_index].start(task)
            return True

        def handle(slot_index: int, msg: EpochReport | TrialOutcome) -> None:
            nonlocal optuna_s
            queue = running[slot_index]
            r = queue[0]
            if isinstance(msg, EpochReport):
                t0 = time.perf_counter()
                r.trial.report(msg.value, msg.epoch)
                prune = r.trial.should_prune()
                optuna_s += time.perf_counter() - t0
                rec = r.record
                r.record = replace(
                    rec,
                    curve=(*rec.curve, msg.value),
                    curve_sd=(*rec.curve_sd, msg.sd),
                    train_curve=(*rec.train_curve, msg.train_loss),
                    worker=msg.worker,
                )
                self._put(r.record)
                slots[slot_index].reply(not prune)
                return
            queue.pop(0)
            slots[slot_index].task = queue[0].task if queue else None
            optuna_s += self._finish(study, r.trial, msg, r.params)
            if queue:  # the next one, already sent, starts now
                queue[0].record = replace(queue[0].record, t_start=time.time())
                self._put(queue[0].record)

        try:
            while True:
                for i in range(len(slots)):
                    while not stopping and len(running[i]) < depth:
                        if not ask(i):
                            stopping = True
                if not any(running.values()):
                    break
                if isinstance(slots[0], InProcessSlot):
                    handle(0, slots[0].poll())
                else:
                    busy = {slots[i].conn: i for i, queue in running.items() if queue}
                    for conn in wait(list(busy), timeout=0.1):
                        i = busy[conn]
                        try:
                            msg = slots[i].receive()
                        except (EOFError, OSError):
                            r = running[i][0]
                            text = slots[i].exit_text()
                            slots[i] = POOL.replace(slots[i], threads)
                            for queued in running[i][1:]:  # the trials sent after it go to the new worker
                                slots[i].start(queued.task)
                            msg = TrialOutcome(r.task.number, RunState.ERROR, message=text, t_start=r.record.t_start)
                            msg.curve, msg.t_end, msg.worker = list(r.record.curve), time.time(), r.record.worker
                        handle(i, msg)
                self.snapshot = replace(self.snapshot, optuna_s=optuna_s, wall_s=time.perf_counter() - t_wall)
                done = sum(1 for t in self.snapshot.finished if t.round == s.round)
                yield Progress(min(1.0, done / max(1, s.budget)), f"{done}/{s.budget} trials", preview=self.snapshot)
            self.snapshot = replace(
                self.snapshot, state=RunState.FINISHED, optuna_s=optuna_s, wall_s=time.perf_counter() - t_wall
            )
            return self.snapshot
        finally:
            for r in [r for queue in running.values() for r in queue]:  # cancelled: they end as stopped
                stopped = TrialOutcome(
                    r.task.number, RunState.STOPPED, message="stopped with the search", t_start=r.record.t_start
                )
                stopped.curve, stopped.t_end = list(r.record.curve), time.time()
                self._finish(study, r.trial, stopped, r.params)
            if isinstance(slots[0], InProcessSlot):
                slots[0].close()
            else:
                POOL.give_back(slots)  # the idle ones stay warm for the next round or search
            if self.snapshot.state == RunState.RUNNING:
                self.snapshot = replace(self.snapshot, state=RunState.CANCELLED, wall_s=time.perf_counter() - t_wall)

    def _put(self, record: TrialRecord) -> None:
        self.snapshot = self.snapshot.with_trial(record)

    def _finish(self, study: optuna.Study, trial: optuna.Trial, out: TrialOutcome, params: dict[str, Any]) -> float:
        """Tell the study how the trial ended and record it; the seconds Optuna took."""
        t0 = time.perf_counter()
        outcome = {  # one attribute: each set_user_attr is a transaction in an RDB storage
            "state": out.state.value,
            "score_sd": out.score_sd,
            "val_acc": out.val_acc,
            "curve_sd": out.curve_sd,
            "train_curve": out.train_curve,
            "message": out.message,
            "t_start": out.t_start,
            "t_end": out.t_end,
            "worker": out.worker,
        }
        trial.set_user_attr("outcome", outcome)
        if out.state == RunState.FINISHED:
            study.tell(trial, out.score)
        elif out.state == RunState.PRUNED:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        spent = time.perf_counter() - t0
        self._put(
            TrialRecord(
                number=out.number,
                round=self.settings.round,
                state=out.state,
                params=params,
                score=out.score,
                score_sd=out.score_sd,
                val_acc=out.val_acc,
                curve=tuple(out.curve),
                curve_sd=tuple(out.curve_sd),
                train_curve=tuple(out.train_curve),
                message=out.message,
                t_start=out.t_start,
                t_end=out.t_end,
                worker=out.worker,
            )
        )
        return spent
