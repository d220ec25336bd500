"""Test functions of a 2-vector: the exact loss surfaces the optimizers race on.

Each function is written once against an array namespace `xp` (``torch`` or ``numpy``:
both spell sin, cos, exp, sqrt and where the same way), so the surface is evaluated with
torch (and autograd checks the hand-written gradients in the tests) while the race steps
on small float64 numpy arrays, where a tiny element-wise op costs about a microsecond.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Params = dict[str, float]
_TWO_PI = 2.0 * math.pi


@dataclass(frozen=True)
class TestFunction:
    """One surface: value and gradient, domain, known minima, suggested start and rates."""

    name: str
    title: str
    lesson: str  # what the surface teaches (lecture section 4)
    domain: tuple[tuple[float, float], tuple[float, float]]
    start: tuple[float, float]
    value_fn: Callable[[Any, Any, Any, Params], Any]
    grad_fn: Callable[[Any, Any, Any, Params], tuple[Any, Any]]
    minima_fn: Callable[[Params], list[tuple[float, float]]] = lambda p: []
    lr_sgd: float = 0.01  # suggested lr of sgd/momentum/nesterov
    lr_adaptive: float = 0.05  # suggested lr of adagrad/rmsprop/adam
    log_height: bool = False  # a steep surface reads better on a log scale
    uses: tuple[str, ...] = field(default=())  # which PlaygroundConfig parameters it reads

    def value(self, x, y, xp, params: Params | None = None):
        return self.value_fn(x, y, xp, params or {})

    def grad(self, x, y, xp, params: Params | None = None):
        return self.grad_fn(x, y, xp, params or {})

    def minima(self, params: Params | None = None) -> list[tuple[float, float]]:
        return self.minima_fn(params or {})

    def in_domain(self, x: float, y: float) -> bool:
        (x0, x1), (y0, y1) = self.domain
        return x0 <= x <= x1 and y0 <= y <= y1


# -- quadratic ravine: f = (u² + κ v²)/2 in coordinates rotated by θ --------------------
def _rot(p: Params) -> tuple[float, float, float]:
    th = math.radians(p.get("rotation", 30.0))
    return math.cos(th), math.sin(th), p.get("condition", 10.0)


def _quad_v(x, y, xp, p):
    c, s, k = _rot(p)
    u, v = c * x + s * y, -s * x + c * y
    return 0.5 * (u * u + k * v * v)


def _quad_g(x, y, xp, p):
    c, s, k = _rot(p)
    u, v = c * x + s * y, -s * x + c * y
    return c * u - s * k * v, s * u + c * k * v


# -- Rosenbrock's banana valley ---------------------------------------------------------
def _rosen_v(x, y, xp, p):
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _rosen_g(x, y, xp, p):
    r = y - x * x
    return -2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r


# -- Beale: flat valleys, steep walls ---------------------------------------------------
def _beale_terms(x, y):
    return 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y * y * y


def _beale_v(x, y, xp, p):
    a, b, c = _beale_terms(x, y)
    return a * a + b * b + c * c


def _beale_g(x, y, xp, p):
    a, b, c = _beale_terms(x, y)
    y2 = y * y
    gx = 2.0 * (a * (y - 1.0) + b * (y2 - 1.0) + c * (y2 * y - 1.0))
    gy = 2.0 * x * (a + 2.0 * b * y + 3.0 * c * y2)
    return gx, gy


# -- Himmelblau: four equal minima ------------------------------------------------------
def _himm_v(x, y, xp, p):
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def _himm_g(x, y, xp, p):
    a, b = x * x + y - 11.0, x + y * y - 7.0
    return 4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b


# -- saddles ----------------------------------------------------------------------------
def _saddle_v(x, y, xp, p):
    return x * x - y * y


def _saddle_g(x, y, xp, p):
    return 2.0 * x, -2.0 * y


def _monkey_v(x, y, xp, p):
    return x * x * x - 3.0 * x * y * y


def _monkey_g(x, y, xp, p):
    return 3.0 * x * x - 3.0 * y * y, -6.0 * x * y


# -- Rastrigin: a grid of local minima --------------------------------------------------
def _rastrigin_v(x, y, xp, p):
    return 20.0 + x * x - 10.0 * xp.cos(_TWO_PI * x) + y * y - 10.0 * xp.cos(_TWO_PI * y)


def _rastrigin_g(x, y, xp, p):
    return 2.0 * x + 20.0 * math.pi * xp.sin(_TWO_PI * x), 2.0 * y + 20.0 * math.pi * xp.sin(_TWO_PI * y)


# -- Ackley: a nearly flat, bumpy plain around one deep hole ----------------------------
def _ackley_v(x, y, xp, p):
    r = xp.sqrt(0.5 * (x * x + y * y))
    c = 0.5 * (xp.cos(_TWO_PI * x) + xp.cos(_TWO_PI * y))
    return -20.0 * xp.exp(-0.2 * r) - xp.exp(c) + math.e + 20.0


def _ackley_g(x, y, xp, p):
    r = xp.sqrt(0.5 * (x * x + y * y))
    # d/dx of -20 exp(-0.2 r) is 2 exp(-0.2 r) x / r; the limit at r = 0 is taken as 0.
    a = xp.where(r > 0, 2.0 * xp.exp(-0.2 * r) / xp.where(r > 0, r, 1.0), 0.0 * r)
    e = math.pi * xp.exp(0.5 * (xp.cos(_TWO_PI * x) + xp.cos(_TWO_PI * y)))
    return a * x + e * xp.sin(_TWO_PI * x), a * y + e * xp.sin(_TWO_PI * y)


# -- six-hump camel ---------------------------------------------------------------------
def _camel_v(x, y, xp, p):
    x2, y2 = x * x, y * y
    return (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x * y + (-4.0 + 4.0 * y2) * y2


def _camel_g(x, y, xp, p):
    x2 = x * x
    return 8.0 * x - 8.4 * x2 * x + 2.0 * x2 * x2 * x + y, x - 8.0 * y + 16.0 * y * y * y


# -- plateau: a Gaussian well; far away the surface is flat to 1e-5 --------------------
def _plateau_v(x, y, xp, p):
    return 1.0 - xp.exp(-0.5 * (x * x + y * y))


def _plateau_g(x, y, xp, p):
    e = xp.exp(-0.5 * (x * x + y * y))
    return e * x, e * y


FUNCTIONS: dict[str, TestFunction] = {
    f.name: f
    for f in [
        TestFunction(
            "quadratic",
            "Quadratic ravine",
            "ill-conditioning: with condition number κ plain SGD zig-zags across the ravine; momentum damps it",
            ((-5.0, 5.0), (-5.0, 5.0)),
            (-4.0, 2.0),
            _quad_v,
            _quad_g,
            lambda p: [(0.0, 0.0)],
            lr_sgd=0.01,
            lr_adaptive=0.1,
            uses=("condition", "rotation"),
        ),
        TestFunction(
            "rosenbrock",
            "Rosenbrock valley",
            "a long curved valley: finding it is easy, following it to (1, 1) is slow",
            ((-2.0, 2.0), (-1.0, 3.0)),
            (-1.2, 1.0),
            _rosen_v,
            _rosen_g,
            lambda p: [(1.0, 1.0)],
            lr_sgd=0.001,
            lr_adaptive=0.02,
            log_height=True,
        ),
        TestFunction(
            "beale",
            "Beale",
            "flat valleys between very steep walls: gradient sizes span orders of magnitude",
            ((-4.5, 4.5), (-4.5, 4.5)),
            (1.0, 1.5),
            _beale_v,
            _beale_g,
            lambda p: [(3.0, 0.5)],
            lr_sgd=0.001,
            lr_adaptive=0.02,
            log_height=True,
        ),
        TestFunction(
            "himmelblau",
            "Himmelblau",
            "four equal minima: the start point and the optimizer decide which one is found",
            ((-5.0, 5.0), (-5.0, 5.0)),
            (0.0, 0.0),
            _himm_v,
            _himm_g,
            lambda p: [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)],
            lr_sgd=0.005,
            lr_adaptive=0.05,
            log_height=True,
        ),
        TestFunction(
            "saddle",
            "Saddle x² − y²",
            "a saddle point: the gradient vanishes at the origin; escaping along y is slow for SGD",
            ((-2.0, 2.0), (-2.0, 2.0)),
            (1.5, 1e-3),
            _saddle_v,
            _saddle_g,
            lambda p: [],
            lr_sgd=0.01,
            lr_adaptive=0.01,
        ),
        TestFunction(
            "monkey_saddle",
            "Monkey saddle x³ − 3xy²",
            "a degenerate saddle with three descending valleys: the gradient is tiny near it",
            ((-2.0, 2.0), (-2.0, 2.0)),
            (1.0, 0.05),
            _monkey_v,
            _monkey_g,
            lambda p: [],
            lr_sgd=0.01,
            lr_adaptive=0.01,
        ),
        TestFunction(
            "rastrigin",
            "Rastrigin",
            "many local minima on a bowl: momentum and noise can carry a path over the bumps",
            ((-5.12, 5.12), (-5.12, 5.12)),
            (3.3, -2.4),
            _rastrigin_v,
            _rastrigin_g,
            lambda p: [(0.0, 0.0)],
            lr_sgd=0.002,
            lr_adaptive=0.05,
        ),
        TestFunction(
            "ackley",
            "Ackley",
            "a nearly flat, bumpy plain around one narrow hole",
            ((-5.0, 5.0), (-5.0, 5.0)),
            (3.1, -2.4),
            _ackley_v,
            _ackley_g,
            lambda p: [(0.0, 0.0)],
            lr_sgd=0.01,
            lr_adaptive=0.05,
        ),
        TestFunction(
            "six_hump_camel",
            "Six-hump camel",
            "six local minima, two of them global",
            ((-3.0, 3.0), (-2.0, 2.0)),
            (-1.5, -1.2),
            _camel_v,
            _camel_g,
            lambda p: [(0.0898, -0.7126), (-0.0898, 0.7126)],
            lr_sgd=0.005,
            lr_adaptive=0.05,
            log_height=True,
        ),
        TestFunction(
            "plateau",
            "Plateau",
            "a flat region far from the basin: the gradient is ~1e-4, SGD barely moves, adaptive steps do",
            ((-6.0, 6.0), (-6.0, 6.0)),
            (3.5, 3.0),
            _plateau_v,
            _plateau_g,
            lambda p: [(0.0, 0.0)],
            lr_sgd=0.05,
            lr_adaptive=0.05,
        ),
    ]
}


def get_function(name: str) -> TestFunction:
    """The test function called `name`; ValueError listing the known names otherwise."""
    try:
        return FUNCTIONS[name]
    except KeyError:
        raise ValueError(f"unknown function '{name}' (known: {', '.join(FUNCTIONS)})") from None
