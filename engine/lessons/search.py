"""Coarse-to-fine search as a lesson's setup: a coarse random round over a wide space, then a
refined round in the space narrowed around the coarse round's best trials (engine/tuning's
SearchRun and narrowed_space, as `descent search --refine-from` does)."""

from __future__ import annotations

from engine.config import ExperimentConfig
from engine.jobs import Job, Progress
from engine.tuning.search import SearchRun, SearchSettings
from engine.tuning.snapshot import SearchSnapshot
from engine.tuning.space import narrowed_space, parse_space


def coarse_to_fine(
    base: ExperimentConfig,
    space: list[str],
    trials: int,
    refine_trials: int,
    top: int,
    around: str = "best",
    sampler: str = "random",
) -> Job[SearchSnapshot]:
    """Round 1 samples `space`; round 2 samples it narrowed around the `top` best (or, for a
    control, worst) complete trials of round 1. Progress previews carry the snapshot."""
    wide = parse_space(space)
    first = SearchRun(
        SearchSettings(base=base, space=wide, trials=trials, sampler=sampler, seed=base.seed, study_name="lesson")
    )
    total = trials + refine_trials
    job = first.job()
    coarse = yield from _forward(job, 0, total, "coarse round")
    done = coarse.best(len(coarse.complete), round=1)
    picked = done[:top] if around == "best" else done[::-1][:top]
    if not picked:
        return coarse
    how = f"refined around the {'best' if around == 'best' else 'worst'} {len(picked)} of round 1"
    second = SearchRun(
        SearchSettings(
            base=base,
            space=narrowed_space(wide, [t.params for t in picked]),
            trials=refine_trials,
            sampler=sampler,
            seed=base.seed + 1,
            study_name="lesson",
            round=2,
            how=how,
            previous=coarse,
        )
    )
    return (yield from _forward(second.job(), trials, total, "refined round"))


def _forward(job: Job[SearchSnapshot], offset: int, total: int, what: str) -> Job[SearchSnapshot]:
    """Run a round's job, passing its progress on as a share of both rounds' trials; closing
    this job closes the round's (its running trial ends as stopped)."""
    try:
        while True:
            p = next(job)
            done = len(p.preview.finished) if p.preview is not None else offset
            yield Progress(min(1.0, done / max(1, total)), f"{what}: {p.message}", preview=p.preview)
    except StopIteration as stop:
        return stop.value
    finally:
        job.close()
