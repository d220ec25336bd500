"""`descent sanity`: the two checks to run before a real training run (lecture §7), headless.

1. The initial loss of an untrained model of the config against ln C (C classes): a random
   network should predict about uniformly.
2. Overfit a tiny subset: a fresh model of the config (same init, optimizer and lr) trained
   full-batch on a few training samples must reach 100% accuracy, or the model, the code or
   the learning rate cannot learn.

Exit 0 when both pass, 1 when one fails, 2 for bad input (config, data file, arguments).
"""

from __future__ import annotations

import argparse
import json
import math

from engine.commands.common import CommandError, load_config
from engine.config import ExperimentConfig
from engine.diagnostics import check_initial_loss, initial_loss, overfit_tiny_subset

HELP = "check the initial loss against ln C and that the model can overfit a tiny subset (exit 0 pass, 1 fail)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="experiment config JSON (defaults otherwise)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field (repeatable)"
    )
    p.add_argument("--samples", type=int, default=20, help="training samples of the tiny subset (default 20)")
    p.add_argument("--steps", type=int, default=300, help="most full-batch steps to fit them (default 300)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run_sanity(config: ExperimentConfig, samples: int = 20, steps: int = 300) -> dict:
    """Both checks on the config; a dict with each result and `passed`. Raises ValueError
    (data, model) for a config that cannot be built."""
    from engine.data import load_data
    from engine.model import build_model

    data = load_data(config)
    model = build_model(config.model, data.n_features, data.n_classes, config.seed, input_shape=data.input_shape)
    loss = initial_loss(model, data.x_train, data.y_train)
    tol = config.diagnostics.initial_loss_tolerance
    init = check_initial_loss(loss, data.n_classes, tol)
    expected = math.log(data.n_classes)
    init_ok = init.level == "info"
    subset = overfit_tiny_subset(config, n_samples=samples, max_steps=steps, data=data)
    return {
        "passed": bool(init_ok and subset.passed),
        "initial_loss": {
            "passed": init_ok,
            "loss": loss if math.isfinite(loss) else None,
            "expected": expected,
            "n_classes": data.n_classes,
            "relative_error": abs(loss - expected) / expected if math.isfinite(loss) else None,
            "tolerance": tol,
            "message": init.message,
        },
        "overfit_subset": subset.to_json(),
    }


def main(args: argparse.Namespace) -> int:
    if args.samples < 1 or args.steps < 1:
        raise CommandError(f"--samples and --steps must be at least 1, got {args.samples} and {args.steps}")
    config = load_config(args.config, args.set)
    try:
        result = run_sanity(config, args.samples, args.steps)
    except (ValueError, RuntimeError, OSError) as e:
        raise CommandError(" ".join(str(e).split())) from None
    if args.json:
        print(json.dumps(result, allow_nan=False, default=_finite))
    else:
        i, s = result["initial_loss"], result["overfit_subset"]
        print(f"initial loss: {'PASS' if i['passed'] else 'FAIL'} — {i['message']}")
        print(f"tiny subset:  {'PASS' if s['passed'] else 'FAIL'} — {s['message']}")
    return 0 if result["passed"] else 1


def _finite(value: object) -> object:
    raise TypeError(f"cannot write {value!r} as JSON")
