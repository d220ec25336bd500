"""Joint search beats one-at-a-time tuning when lr and momentum interact (same budget)."""

from __future__ import annotations

from engine.jobs import run_job
from engine.tuning.demo import demo_base, joint_vs_one_at_a_time


def test_joint_search_wins_on_the_interacting_problem(one_torch_thread) -> None:
    r = run_job(joint_vs_one_at_a_time(demo_base(), budget=10, seed=0))
    # the one-at-a-time pair is the two sweeps' winners, combined
    assert r.one_at_a_time["optim.lr"] == r.lr_sweep.best(1)[0].params["optim.lr"]
    assert r.one_at_a_time["optim.momentum"] == r.momentum_sweep.best(1)[0].params["optim.momentum"]
    assert len(r.joint_search.trials) == r.budget == len(r.lr_sweep.trials) + len(r.momentum_sweep.trials) + 1
    assert r.joint_wins
    assert r.joint_score < 0.8 * r.one_at_a_time_score  # by a clear margin, not noise
    # the combined pair's effective step is far beyond both winners' own
    lr, m = r.one_at_a_time["optim.lr"], r.one_at_a_time["optim.momentum"]
    assert lr / (1 - m) > 3 * max(lr / (1 - 0.5), 0.003 / (1 - m))
