"""The playground engine: test functions, the batched optimizers against torch.optim and
the published update rules, race behaviour the lecture promises, bad input, sessions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.config import ConfigError, OptimConfig
from engine.playground import FUNCTIONS, make_config, run_race
from engine.playground.reference import reference_paths
from engine.playground.session import playground_from_session, race_to_session, summarize_playground
from engine.playground.stepper import BatchedOptimizers
from engine.session import load_session, save_session


# -- functions --------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_hand_written_gradient_matches_autograd(name):
    fn = FUNCTIONS[name]
    params = {"condition": 37.0, "rotation": 20.0}
    rng = np.random.default_rng(1)
    (x0, x1), (y0, y1) = fn.domain
    pts = torch.tensor(np.c_[rng.uniform(x0, x1, 20), rng.uniform(y0, y1, 20)], dtype=torch.float64, requires_grad=True)
    fn.value(pts[:, 0], pts[:, 1], torch, params).sum().backward()
    gx, gy = fn.grad(pts[:, 0].detach(), pts[:, 1].detach(), torch, params)
    np.testing.assert_allclose(np.c_[gx.numpy(), gy.numpy()], pts.grad.numpy(), rtol=1e-9, atol=1e-9)
    # numpy and torch give the same values
    xs, ys = pts[:, 0].detach().numpy(), pts[:, 1].detach().numpy()
    np.testing.assert_allclose(
        fn.value(xs, ys, np, params), fn.value(pts[:, 0], pts[:, 1], torch, params).detach(), rtol=1e-12
    )


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_known_minima_are_stationary_and_start_in_domain(name):
    fn = FUNCTIONS[name]
    assert fn.in_domain(*fn.start)
    for mx, my in fn.minima({"condition": 10.0, "rotation": 30.0}):
        gx, gy = fn.grad(np.array(mx), np.array(my), np, {"condition": 10.0, "rotation": 30.0})
        assert math.hypot(gx, gy) < 2e-3, (name, mx, my, gx, gy)


# -- update rules ---------------------------------------------------------------------
def _hand_steps(cfg: OptimConfig, grad, x, steps=3):
    """The published update rules in plain Python floats (per coordinate)."""
    lr, out = cfg.lr, []
    v = [0.0, 0.0]
    s = [cfg.initial_accumulator] * 2
    m = [0.0, 0.0]
    for t in range(1, steps + 1):
        g = grad(x)
        if cfg.name == "adamw":
            x = [xi - lr * cfg.weight_decay * xi for xi in x]
        elif cfg.weight_decay:
            g = [gi + cfg.weight_decay * xi for gi, xi in zip(g, x)]
        new = []
        for i in range(2):
            if cfg.name == "sgd":
                step = lr * g[i]
            elif cfg.name in ("momentum", "nesterov"):  # v = μv + g; x -= lr·v  (Nesterov: x -= lr(g + μv))
                v[i] = cfg.momentum * v[i] + g[i] if t > 1 else g[i]
                step = lr * (g[i] + cfg.momentum * v[i] if cfg.name == "nesterov" else v[i])
            elif cfg.name == "adagrad":  # G += g²; x -= lr g / (√G + ε)
                s[i] += g[i] ** 2
                step = lr * g[i] / (math.sqrt(s[i]) + cfg.eps)
            elif cfg.name == "rmsprop":  # E = αE + (1-α)g²; x -= lr g / (√E + ε)
                s[i] = cfg.alpha * s[i] + (1 - cfg.alpha) * g[i] ** 2
                step = lr * g[i] / (math.sqrt(s[i]) + cfg.eps)
            else:  # Adam with bias correction
                b1, b2 = cfg.betas
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
                step = lr * (m[i] / (1 - b1**t)) / (math.sqrt(v[i] / (1 - b2**t)) + cfg.eps)
            new.append(x[i] - step)
        x = new
        out.append(x)
    return np.array(out)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_first_three_steps_equal_the_published_rule(name):
    cfg = make_config(
        "quadratic",
        [name],
        {
            "condition": 5,
            "rotation": 0,
            "start": "-4,2",
            "steps": 3,
            "optim.lr": 0.05,
            "optim.weight_decay": 0.1 if name == "adamw" else 0,
        },
    )
    expected = _hand_steps(cfg.racers[0].optim, lambda x: [x[0], 5.0 * x[1]], [-4.0, 2.0])
    race = run_race(cfg)
    got = race.path(0).positions[1:]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    ref = reference_paths(cfg)[0]["positions"][1:]  # torch.optim itself agrees
    np.testing.assert_allclose(ref, expected, rtol=1e-12, atol=1e-14)
    assert np.abs(got - [-4.0, 2.0]).max() > 1e-3  # it really moved


OPTION_CASES = [
    ("momentum", {"optim.dampening": 0.3, "optim.weight_decay": 0.01}),
    ("nesterov", {"optim.momentum": 0.7}),
    ("adagrad", {"optim.lr_decay": 0.01, "optim.initial_accumulator": 0.5, "optim.weight_decay": 0.02}),
    ("rmsprop", {"optim.centered": True, "optim.rmsprop_momentum": 0.5}),
    ("rmsprop", {"optim.alpha": 0.9, "optim.eps": 1e-4}),
    ("adam", {"optim.amsgrad": True, "optim.betas": "0.8,0.99", "optim.weight_decay": 0.05}),
    ("adamw", {"optim.weight_decay": 0.2, "optim.amsgrad": True}),
    ("adam", {"schedule.name": "cosine", "schedule.t_max": 40}),
    ("momentum", {"schedule.name": "plateau", "schedule.plateau_patience": 2}),
    ("sgd", {"schedule.name": "cyclic", "schedule.cyclic_step_size": 10}),
]


@pytest.mark.parametrize("name,updates", OPTION_CASES)
def test_batched_race_matches_torch_optim(name, updates):
    cfg = make_config("rosenbrock", [name], {"steps": 150, "sigma": 0.5, "seed": 3, **updates})
    race = run_race(cfg)
    ref = reference_paths(cfg)[0]
    path = race.path(0)
    np.testing.assert_allclose(path.positions, ref["positions"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(path.velocities, ref["velocities"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(path.gradients, ref["gradients"], rtol=1e-9, atol=1e-12)
    assert np.abs(path.positions[-1] - path.positions[0]).max() > 1e-3


@pytest.mark.parametrize("name,updates", OPTION_CASES[:7])
def test_exact_race_with_torch_optim_objects_records_the_same_series(name, updates):
    """exact=True steps build_optimizer's torch.optim objects and reads velocity and step
    size from their state: every recorded series equals the batched race's."""
    upd = {"steps": 120, "sigma": 0.3, **updates}
    fast = run_race(make_config("beale", [name, "sgd"], upd)).path(0)
    exact = run_race(make_config("beale", [name, "sgd"], {**upd, "exact": True})).path(0)
    for series in ("positions", "losses", "gradients", "velocities", "step_sizes", "lrs"):
        np.testing.assert_allclose(getattr(exact, series), getattr(fast, series), rtol=1e-8, atol=1e-12, err_msg=series)
    assert np.abs(fast.step_sizes).max() > 0


# -- behaviour the lecture promises --------------------------------------------------
def _steps_to(losses: np.ndarray, level: float) -> int:
    hit = np.flatnonzero(losses < level)
    return int(hit[0]) if hit.size else 10**9


def test_momentum_beats_sgd_on_an_ill_conditioned_quadratic():
    cfg = make_config(
        "quadratic",
        ["sgd", "momentum"],
        {"condition": 100, "rotation": 30, "steps": 3000, "optim.lr": 0.01, "optim.momentum": 0.9},
    )
    race = run_race(cfg)
    sgd, mom = (_steps_to(race.path(i).losses, 1e-3) for i in range(2))
    assert mom < 10**9 and sgd < 10**9
    assert mom < sgd / 2, (mom, sgd)  # measured: 103 vs 399 steps


def test_adaptive_methods_leave_the_saddle_faster_than_sgd():
    cfg = make_config("saddle", ["sgd", "rmsprop", "adam"], {"start": "1.0,1e-6", "steps": 3000, "optim.lr": 0.01})
    race = run_race(cfg)
    left = [int(np.argmax(np.abs(race.path(i).positions[:, 1]) > 1.0)) for i in range(3)]
    sgd, rms, adam = left
    assert sgd > 0 and rms > 0 and adam > 0
    assert rms < sgd and adam < sgd, left  # measured: sgd 698, rmsprop 17, adam 77 steps


def _constant_gradient_step_sizes(name: str, steps: int = 300) -> np.ndarray:
    stepper = BatchedOptimizers([OptimConfig(name=name, lr=0.1)])
    p, g, lr = np.zeros((1, 2)), np.array([[0.5, 2.0]]), np.full((1, 2), 0.1)
    stepper.bind(p, g, lr)
    out = []
    for t in range(1, steps + 1):
        stepper.step(t)
        out.append(stepper.eff[0].copy())
    return np.array(out)


def test_adagrad_step_shrinks_and_rmsprop_step_settles():
    ada = _constant_gradient_step_sizes("adagrad")
    assert np.all(np.diff(ada, axis=0) < 0)  # strictly shrinking, every step
    np.testing.assert_allclose(ada[-1], 0.1 / (np.sqrt(300) * np.array([0.5, 2.0])), rtol=1e-6)
    rms = _constant_gradient_step_sizes("rmsprop", 2000)
    np.testing.assert_allclose(rms[-1], 0.1 / np.array([0.5, 2.0]), rtol=1e-6)  # lr / |g|
    assert np.abs(rms[-1] - rms[-100]).max() < 1e-6 * rms[-1].max()
    assert rms[-1][0] > 10 * ada[-1][0]


def test_noisy_race_is_reproducible_with_a_seed():
    upd = {"sigma": 2.0, "seed": 7, "steps": 400}
    a = run_race(make_config("rastrigin", ["sgd", "momentum", "adam"], upd))
    b = run_race(make_config("rastrigin", ["sgd", "momentum", "adam"], upd))
    c = run_race(make_config("rastrigin", ["sgd", "momentum", "adam"], {**upd, "seed": 8}))
    for i in range(3):
        assert np.array_equal(a.path(i).positions, b.path(i).positions)
        assert np.array_equal(a.path(i).gradients, b.path(i).gradients)
        assert not np.allclose(a.path(i).positions, c.path(i).positions)


# -- bad input ------------------------------------------------------------------------
def test_unknown_names_and_start_outside_domain_give_clear_messages():
    with pytest.raises(ConfigError, match="unknown function 'banana'.*rosenbrock"):
        make_config("banana", ["adam"])
    with pytest.raises(ConfigError, match="unknown optimizer 'adamx'.*adam"):
        make_config("rosenbrock", ["sgd", "adamx"])
    with pytest.raises(ConfigError, match=r"start \(9, 0\) is outside the domain of rosenbrock"):
        make_config("rosenbrock", ["sgd"], {"start": "9,0"})
    with pytest.raises(ConfigError, match="unknown playground key 'nonsense'"):
        make_config("rosenbrock", ["sgd"], {"nonsense": "1"})
    with pytest.raises(ConfigError, match="sigma"):
        make_config("rosenbrock", ["sgd"], {"sigma": "-1"})
    with pytest.raises(ConfigError, match="optim.lr"):
        make_config("rosenbrock", ["sgd"], {"sgd.lr": "abc"})


def test_a_diverging_racer_stops_and_is_marked_while_others_go_on():
    cfg = make_config("rosenbrock", ["sgd", "adam"], {"steps": 500, "sgd.lr": 0.05})
    race = run_race(cfg)
    sgd, adam = race.path(0), race.path(1)
    assert sgd.status == "diverged" and "diverged at step" in sgd.message and "lower the learning rate" in sgd.message
    assert 0 < sgd.steps_taken < 50 and np.all(np.isfinite(sgd.positions)) and np.all(np.isfinite(sgd.losses))
    assert adam.status == "finished" and adam.steps_taken == 500 and adam.losses[-1] < adam.losses[0]


# -- sessions ---------------------------------------------------------------------------
def test_session_round_trip_and_summary(tmp_path):
    cfg = make_config("himmelblau", ["momentum", "adam"], {"steps": 200, "sigma": 0.1})
    race = run_race(cfg)
    path = save_session(race_to_session(race), tmp_path / "p.descent")
    session = load_session(path)
    cfg2, paths = playground_from_session(session)
    assert cfg2 == cfg
    for i, p in enumerate(paths):
        np.testing.assert_array_equal(p.positions, race.path(i).positions)
        np.testing.assert_array_equal(p.step_sizes, race.path(i).step_sizes)
    s = summarize_playground(session)
    assert s["function"] == "himmelblau" and s["steps_done"] == 200
    assert [r["label"] for r in s["racers"]] == ["momentum", "adam"]
    assert s["arrays"]["adam/positions"] == [201, 2] and s["arrays"]["adam/velocities"] == [200, 2]
    adam = s["racers"][1]
    assert adam["distance_to_minimum"] < 0.05 and adam["final_loss"] < 1e-2
    session.arrays["playground/adam/losses"] = np.zeros(3)
    with pytest.raises(ValueError, match="racer 'adam' has arrays of inconsistent shapes"):
        playground_from_session(session)


def test_range_errors_name_the_racer_key_and_what_is_allowed():
    cfg = make_config("rosenbrock", ["sgd", "adam"])
    cases = {
        "sigma": (-1, "sigma: Input should be greater than or equal to 0 (allowed: [0, 100])"),
        "sgd.lr": (-3, "sgd.optim.lr: Input should be greater than 0 (allowed: (0, 10])"),
        "adam.schedule.gamma": (2, "adam.schedule.gamma: Input should be less than or equal to 1 (allowed: (0, 1])"),
        "steps": ("0", "steps: Input should be greater than or equal to 1 (allowed: [1, 200000])"),
        "adam.schedule.pct_start": ("1.5", "adam.schedule.pct_start: Input should be less than 1 (allowed: (0, 1))"),
    }
    for key, (value, expected) in cases.items():
        with pytest.raises(ConfigError) as e:
            cfg.with_updates({key: value})
        assert str(e.value) == expected
    # a key for every racer: one line per racer, each with the allowed range
    with pytest.raises(ConfigError, match=r"^sgd\.optim\.momentum: .*\(allowed: \[0, 1\)\); adam\.optim\.momentum: "):
        cfg.with_updates({"optim.momentum": 1.5})
    with pytest.raises(ConfigError, match=r"^adam\.optim\.lr: cannot read 'x' \(expected \(0, 10\]\)$"):
        cfg.with_updates({"adam.lr": "x"})
    with pytest.raises(
        ConfigError,
        match=r"^sgd\.schedule\.milestones: milestones must be positive and strictly increasing "
        r"\(allowed: comma-separated integers\)",
    ):
        cfg.with_updates({"sgd.schedule.milestones": "5,3"})


def test_every_schedule_parameter_is_listed_and_changes_the_learning_rate():
    """SCHEDULE_PARAMS (what the racer editor shows) names every ScheduleConfig field, and
    changing any listed parameter changes the racer's learning-rate sequence in a race."""
    from engine.config import SCHEDULES, ScheduleConfig
    from engine.playground.config import SCHEDULE_PARAMS, schedule_fields

    assert set(SCHEDULE_PARAMS) == set(SCHEDULES)
    listed = {f for fields in SCHEDULE_PARAMS.values() for f in fields}
    assert listed == set(ScheduleConfig.model_fields) - {"name"}
    assert "cyclic_gamma" not in schedule_fields(ScheduleConfig(name="cyclic"))
    assert "cyclic_gamma" in schedule_fields(ScheduleConfig(name="cyclic", cyclic_mode="exp_range"))
    other = {
        "step_size": 3,
        "gamma": 0.2,
        "milestones": [5, 20],
        "t_max": 7,
        "eta_min": 0.004,
        "t_0": 4,
        "t_mult": 1,
        "cyclic_mode": "triangular2",
        "cyclic_base_lr": 0.0005,
        "cyclic_max_lr": 0.05,
        "cyclic_step_size": 5,
        "cyclic_gamma": 0.9,
        "one_cycle_max_lr": 0.05,
        "pct_start": 0.5,
        "warmup_steps": 5,
        "warmup_start_factor": 0.5,
        "plateau_factor": 0.1,
        "plateau_patience": 0,
    }
    assert set(other) == listed

    def lrs(schedule: dict) -> np.ndarray:
        # noisy gradients on a quadratic: the loss does not improve every step (plateau triggers)
        cfg = make_config("quadratic", ["sgd"], {"steps": 60, "sigma": 2.0, "sgd.lr": 0.1})
        for k, v in schedule.items():
            cfg = cfg.with_updates({f"sgd.schedule.{k}": v})
        return run_race(cfg).path(0).lrs

    for name, fields in SCHEDULE_PARAMS.items():
        base = {"name": name, "cyclic_mode": "exp_range"} if name == "cyclic" else {"name": name}
        ref = lrs(base)
        if name == "constant":
            np.testing.assert_allclose(ref, 0.1)
            continue
        assert not np.allclose(ref, 0.1), name
        for f in fields:
            changed = lrs({**base, f: other[f]})
            assert not np.allclose(changed, ref), f"{name}.{f}"
