"""Jobs (engine/jobs.py) run synchronously, report progress, cancel at a yield point, and
the engine's long computations are such jobs. No Qt here."""

from __future__ import annotations

import numpy as np
import pytest

from engine.jobs import JobCancelled, JobRun, Progress, call_job, run_job
from engine.states import RunState


def counting(n: int, closed: list[str]):
    try:
        for i in range(n):
            yield Progress((i + 1) / n, f"step {i + 1}")
        return n * 10
    finally:
        closed.append("closed")


def test_run_job_returns_the_result_and_reports_every_progress():
    closed: list[str] = []
    seen: list[Progress] = []
    assert run_job(counting(4, closed), on_progress=seen.append) == 40
    assert [p.fraction for p in seen] == [0.25, 0.5, 0.75, 1.0]
    assert seen[-1].message == "step 4" and closed == ["closed"]


def test_cancel_stops_at_the_next_yield_and_closes_the_job():
    closed: list[str] = []
    seen: list[float] = []
    with pytest.raises(JobCancelled):
        run_job(counting(100, closed), on_progress=lambda p: seen.append(p.fraction), cancelled=lambda: len(seen) >= 3)
    assert len(seen) == 3 and closed == ["closed"]  # the job's finally ran; no step 4
    with pytest.raises(JobCancelled):
        run_job(counting(100, closed), cancelled=lambda: True)


def test_job_run_states():
    run = JobRun(counting(2, []))
    assert run.state == RunState.IDLE
    assert run.run() == 20 and run.state == RunState.FINISHED and run.progress.fraction == 1.0

    run = JobRun(counting(50, []))
    with pytest.raises(JobCancelled):
        run.run(lambda p: run.cancel() if p.fraction >= 0.1 else None)
    assert run.state == RunState.CANCELLED and run.cancelled and run.progress.fraction == pytest.approx(0.1)

    def failing():
        yield Progress(0.5)
        raise ValueError("a clear reason")

    run = JobRun(failing())
    with pytest.raises(ValueError):
        run.run()
    assert run.state == RunState.ERROR and run.error == "a clear reason"
    run = JobRun(call_job(lambda: {}["missing"]))
    with pytest.raises(KeyError):
        run.run()
    assert run.error == "KeyError: 'missing'"


def test_call_job_wraps_a_plain_function():
    assert run_job(call_job(lambda a, b: a + b, 2, b=3)) == 5


def test_race_job_advances_in_chunks_into_preallocated_arrays():
    from engine.playground import make_config
    from engine.playground.job import race_job
    from engine.playground.race import Race

    race = Race(make_config("rosenbrock", ["sgd", "adam"], {"steps": "1000"}))
    pos = race.pos  # the preallocated array the GUI reads while the job runs
    seen: list[int] = []
    assert run_job(race_job(race, chunk=300), on_progress=lambda p: seen.append(race.done)) is race
    assert seen == [300, 600, 900, 1000] and race.finished
    assert race.pos is pos and np.shares_memory(race.path(0).positions, pos)

    race = Race(make_config("rosenbrock", ["sgd"], {"steps": "1000"}))
    with pytest.raises(JobCancelled):
        run_job(race_job(race, chunk=100), cancelled=lambda: race.done >= 200)
    assert race.done == 200 and not race.finished


def test_landscape_job_previews_coarse_levels_then_returns_the_surface():
    import torch
    from torch import nn

    from engine.landscape.analysis import LandscapeRequest, landscape_job
    from engine.landscape.directions import build_plane
    from engine.landscape.params import ParamLayout, flat_params
    from engine.landscape.surface import SurfaceEvaluator

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    center = flat_params(model)
    plane = build_plane("random", center, ParamLayout.of(model), seed=0)
    req = LandscapeRequest("random", 33, 1.0)
    previews: list[float] = []
    levels = []

    def progress(p: Progress) -> None:
        previews.append(p.fraction)
        if p.preview is not None and p.preview[1] is not None:
            levels.append(len(p.preview[1]))

    res = run_job(landscape_job(SurfaceEvaluator(model, x, y), plane, req), on_progress=progress)
    assert res.complete and res.surface.loss.shape == (33, 33) and np.isfinite(res.surface.loss).all()
    assert previews[-1] == 1.0 and levels[0] < 33 and levels[-1] == 33  # coarse first
    with pytest.raises(JobCancelled):
        run_job(landscape_job(SurfaceEvaluator(model, x, y), plane, req), cancelled=lambda: True)
