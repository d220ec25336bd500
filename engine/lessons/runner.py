"""Run a lesson: build its setup (with an optional change), train or race it as a job, and
compute its check from the result."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from engine.compare import LockstepRunner
from engine.compare.layout import comparison_meta
from engine.config import ConfigError, ExperimentConfig
from engine.experiment import build_trainer
from engine.jobs import Job, Progress, run_job
from engine.lessons.explorer import explore, explorer_session
from engine.lessons.loader import describe
from engine.lessons.metrics import Details, LessonError, compute_details
from engine.lessons.schema import Change, Explorer, Lesson, Search
from engine.lessons.search import coarse_to_fine
from engine.playground.config import PlaygroundConfig, make_config
from engine.playground.race import Race
from engine.playground.session import race_to_session
from engine.session import RunRecord, Session, record_of
from engine.train.trainer import Trainer
from engine.tuning.space import parse_space
from engine.tuning.storage import session_with_search

LESSON_DEFAULTS: dict[str, Any] = {
    "landscape.snapshots": False,
    "landscape.sharpness_every": 0,
    "landscape.refresh_epochs": 0,
    "train.threads": 1,
}
"""What every lesson's runs start from (a lesson's own keys override them): no trajectory or
sharpness work that no lesson's check reads, one thread (lessons are small models)."""

RACE_CHUNK = 50  # race steps between two progress reports


@dataclass
class LessonResult:
    """A finished lesson: its result, the check's value, whether the claim showed, and the sentence."""

    lesson: Lesson
    session: Session
    value: float
    passed: bool
    sentence: str
    seconds: float
    changed: str = ""  # the text of the change applied ("" for the lesson as shipped)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.lesson.id,
            "title": self.lesson.title,
            "metric": self.lesson.check.metric,
            "value": self.value if math.isfinite(self.value) else str(self.value),
            "threshold": {"above": self.lesson.check.above}
            if self.lesson.check.above is not None
            else {"below": self.lesson.check.below},
            "passed": self.passed,
            "sentence": self.sentence,
            "seconds": round(self.seconds, 3),
            "changed": self.changed,
        }


def _updates(*parts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in parts:
        out.update(p)
    return out


def _config(updates: dict[str, Any], where: str) -> ExperimentConfig:
    try:
        return ExperimentConfig().with_updates(_updates(LESSON_DEFAULTS, updates))
    except ConfigError as e:
        raise LessonError(f"{where}: {e}") from None


def run_configs(lesson: Lesson, change: Change | None = None) -> list[tuple[str, ExperimentConfig]]:
    """The configs of a run or compare lesson (name, config), with the change applied."""
    setup = lesson.setup
    extra = change.set if change is not None else {}
    if setup.kind == "run":
        return [("run", _config(_updates(setup.set, extra), "setup.set"))]
    names = [v.name for v in setup.variants]
    if change is not None:
        for name in change.variants:
            if name not in names:
                raise LessonError(f"variants: no variant named {name!r} (variants: {', '.join(names)})")
    out = []
    for v in setup.variants:
        per = change.variants.get(v.name, {}) if change is not None else {}
        out.append((v.name, _config(_updates(setup.set, v.set, extra, per), f"setup.variants.{v.name}")))
    return out


def compare_plan(lesson: Lesson, change: Change | None = None) -> tuple[ExperimentConfig, list[tuple[str, dict]]]:
    """A compare lesson as the Compare tab runs it: the base config (the lesson's defaults, its
    `set` and the change's) and each variant's own keys (name, dotted key → value)."""
    base = _config(_updates(lesson.setup.set, change.set if change is not None else {}), "setup.set")
    run_configs(lesson, change)  # every variant's config is valid (LessonError names the bad one)
    per = change.variants if change is not None else {}
    return base, [(v.name, _updates(v.set, per.get(v.name, {}))) for v in lesson.setup.variants]


def with_checkpoint_weights(record: RunRecord) -> RunRecord:
    """The record with its final weights as weights/<key> (what the checks read), taken from
    its checkpoint (model/<key>) when it has one."""
    if record.checkpoint is not None and not any(k.startswith("weights/") for k in record.arrays):
        for k, v in record.checkpoint.arrays.items():
            if k.startswith("model/"):
                record.arrays[f"weights/{k.removeprefix('model/')}"] = np.asarray(v).copy()
    return record


def race_config(lesson: Lesson, change: Change | None = None) -> PlaygroundConfig:
    race = lesson.setup.race
    assert race is not None
    updates = _updates(race.set, change.race if change is not None else {})
    try:
        return make_config(race.function, list(race.optimizers), {k: _text(v) for k, v in updates.items()})
    except ConfigError as e:
        raise LessonError(f"setup.race: {e}") from None


def _text(v: Any) -> str:
    if isinstance(v, list):
        return ",".join(_text(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def explorer_state(lesson: Lesson, change: Change | None = None) -> tuple[ExperimentConfig, dict[str, Any]]:
    """The base config and the explorer state of an explorer lesson, with the change applied."""
    ex = lesson.setup.explorer
    assert ex is not None
    base = _config(_updates(lesson.setup.set, change.set if change is not None else {}), "setup.set")
    state = ex.model_dump()
    if change is not None and change.explorer:
        try:
            state = Explorer.model_validate({**state, **change.explorer}).model_dump()
        except ValidationError as e:
            raise LessonError(f"explorer: {describe(e).removeprefix('lesson: ')}") from None
    return base, state


def search_plan(lesson: Lesson, change: Change | None = None) -> tuple[ExperimentConfig, Search]:
    """The base config and the search of a search lesson, with the change applied; every
    space item is checked (SpaceError names it)."""
    plan = lesson.setup.search
    assert plan is not None
    base = _config(_updates(lesson.setup.set, change.set if change is not None else {}), "setup.set")
    if change is not None and change.search:
        try:
            plan = Search.model_validate({**plan.model_dump(), **change.search})
        except ValidationError as e:
            raise LessonError(f"search: {describe(e).removeprefix('lesson: ')}") from None
    try:
        parse_space(list(plan.space))
    except ConfigError as e:
        raise LessonError(f"setup.search.space: {e}") from None
    return base, plan


def validate_lesson(lesson: Lesson) -> None:
    """Build every config the lesson can run (as shipped, with its now-try change and its
    control) and look its metric up: LessonError names what is wrong, before anything runs."""
    from engine.lessons.metrics import METRICS

    if lesson.check.metric not in METRICS:
        raise LessonError(f"check.metric: unknown metric {lesson.check.metric!r} (known: {', '.join(sorted(METRICS))})")
    for label, change in (("", None), ("now_try", lesson.now_try), ("check.control", lesson.check.control)):
        if label and change is None:
            continue
        try:
            if lesson.setup.kind == "playground":
                race_config(lesson, change)
            elif lesson.setup.kind == "explorer":
                explorer_state(lesson, change)
            elif lesson.setup.kind == "search":
                search_plan(lesson, change)
            else:
                run_configs(lesson, change)
        except LessonError as e:
            raise LessonError(f"{label + ': ' if label else ''}{e}") from None


def _with_weights(record: RunRecord, trainer: Trainer) -> RunRecord:
    """The record with the final weights (weights/<key>), which the checks read."""
    if not any(k.startswith("weights/") for k in record.arrays):
        for k, v in trainer.model.state_dict().items():
            record.arrays[f"weights/{k}"] = v.detach().cpu().numpy().copy()
    return record


def _train(configs: list[tuple[str, ExperimentConfig]], compare: bool) -> Job[Session]:
    if not compare:
        name, cfg = configs[0]
        try:
            trainer = build_trainer(cfg, run_id=name)
        except (ValueError, RuntimeError, OSError) as e:
            raise LessonError(str(e)) from None
        total = max(1, trainer.total_steps)
        while trainer.train_step():
            if trainer.step % 10 == 0:
                yield Progress(trainer.step / total, f"epoch {trainer.epoch} · step {trainer.step}/{total}")
        return Session(runs=[_with_weights(record_of(trainer, name), trainer)])
    runner = LockstepRunner()
    try:
        for name, cfg in configs:
            runner.add(name, cfg)
    except (ValueError, RuntimeError, OSError) as e:
        raise LessonError(str(e)) from None
    total = max(1, sum(t.total_steps for t in runner.trainers.values()))
    rounds = 0
    while runner.step():
        rounds += 1
        if rounds % 10 == 0:
            done = sum(t.step for t in runner.trainers.values())
            yield Progress(done / total, f"{len(configs)} runs · step {done}/{total}")
    records = [_with_weights(r, runner.trainers[r.name]) for r in runner.records(checkpoints=False)]
    return Session(runs=records, meta={"comparison": comparison_meta(None, [r.name for r in records])})


def _race(cfg: PlaygroundConfig) -> Job[Session]:
    race = Race(cfg)
    while not race.finished:
        race.advance(RACE_CHUNK)
        yield Progress(race.done / max(1, cfg.steps), f"race step {race.done}/{cfg.steps}")
    return race_to_session(race)


def lesson_job(lesson: Lesson, change: Change | None = None) -> Job[LessonResult]:
    """Run the lesson (with `change` applied, e.g. its control) and check it: a job whose
    result is the LessonResult."""
    t0 = time.perf_counter()
    validate_lesson(lesson)
    yield Progress(0.0, "setting up")
    if lesson.setup.kind == "playground":
        session = yield from _race(race_config(lesson, change))
    elif lesson.setup.kind == "explorer":
        base, state = explorer_state(lesson, change)
        yield Progress(0.1, f"building a {state['depth']}×{state['width']} {state['activation']} network")
        try:
            session = explorer_session(state, explore(base, state))
        except (ValueError, RuntimeError, OSError) as e:
            raise LessonError(str(e)) from None
    elif lesson.setup.kind == "search":
        base, plan = search_plan(lesson, change)
        try:
            snapshot = yield from coarse_to_fine(
                base, list(plan.space), plan.trials, plan.refine_trials, plan.top, plan.around, plan.sampler
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise LessonError(str(e)) from None
        session = session_with_search(snapshot)
    else:
        session = yield from _train(run_configs(lesson, change), lesson.setup.kind == "compare")
    session.meta["lesson"] = {"id": lesson.id, "title": lesson.title, "changed": change.text if change else ""}
    yield Progress(0.99, "checking")
    result = check_result(lesson, session, change)
    result.seconds = time.perf_counter() - t0
    session.meta["lesson"].update({"value": result.to_json()["value"], "passed": result.passed})
    return result


def check_job(lesson: Lesson, session: Session, change: Change | None = None) -> Job[LessonResult]:
    """The check of a result computed elsewhere (the window's run, comparison, race, explorer
    or search that a lesson set up): a job, since some checks train or evaluate again."""
    t0 = time.perf_counter()
    yield Progress(0.99, "checking")
    session.meta["lesson"] = {"id": lesson.id, "title": lesson.title, "changed": change.text if change else ""}
    result = check_result(lesson, session, change)
    result.seconds = time.perf_counter() - t0
    session.meta["lesson"].update({"value": result.to_json()["value"], "passed": result.passed})
    return result


def check_result(lesson: Lesson, session: Session, change: Change | None = None) -> LessonResult:
    """The lesson's check on a result: its value, whether the claim showed, and the sentence."""
    check = lesson.check
    args = dict(check.args)
    if change is not None:
        args.update(change.check_args)
    value, details = compute_details(session, check.metric, args)
    passed = check.passed(value) if not math.isnan(value) else False
    template = check.say if passed else check.say_not
    return LessonResult(
        lesson, session, value, passed, format_sentence(template, value, details), 0.0, change.text if change else ""
    )


def format_sentence(template: str, value: float, details: Details | None = None) -> str:
    """The check's sentence with {value} (optionally formatted, e.g. {value:.1%}) and the
    metric's details ({loss:.3g}, {ln_c:.2f}...) filled in."""
    try:
        return template.format(**(details or {}), value=value)
    except (ValueError, KeyError, IndexError):
        return f"{template} ({value:g})"


def run_lesson(lesson: Lesson, change: Change | None = None) -> LessonResult:
    """Run a lesson here and now (the CLI, tests)."""
    return run_job(lesson_job(lesson, change))
