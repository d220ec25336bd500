"""`descent init-study`: every hidden layer's activations at init, before any training, for
a batch of real data (lecture §2: small Gaussians collapse with depth, Xavier keeps tanh
alive, He keeps ReLU alive, zero/constant init leaves every unit identical). The same study
as the GUI's init explorer, printed as a table or JSON."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from engine.commands.common import CommandError, load_config
from engine.config import ACTIVATIONS, INITS, ExperimentConfig
from engine.probes.init_study import InitStudy, init_study

HELP = "activation statistics of every layer of a fresh deep network at init (the init explorer, headless)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="experiment config JSON (defaults otherwise)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field (repeatable)"
    )
    p.add_argument("--depth", type=int, default=5, help="hidden layers, 1-16 (default 5)")
    p.add_argument("--width", type=int, default=256, help="units per hidden layer, 1-4096 (default 256)")
    p.add_argument("--init", choices=INITS, help="weight init (default: the config's model.init)")
    p.add_argument("--activation", choices=ACTIVATIONS, help="activation (default: the config's model.activation)")
    p.add_argument("--samples", type=int, default=512, help="training samples pushed through (default 512)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(float(v)) else None


def study_json(config: ExperimentConfig, study: InitStudy, depth: int, width: int) -> dict:
    """The study as JSON: per layer mean, std, saturated and dead fractions, symmetry."""
    s = study.summary
    extra = s.extra
    layers = []
    for i, label in enumerate(study.labels):
        layers.append(
            {
                "layer": label,
                "mean": _num(s.mean[i]),
                "std": _num(s.std[i]),
                "saturated": _num(extra["saturated"][i]),
                "dead": _num(extra["dead"][i]),
                "symmetric": bool(study.symmetric[i]),
            }
        )
    std = np.asarray(s.std, dtype=float)
    ratio = float(std[-1] / std[0]) if len(std) and std[0] > 0 and np.isfinite(std).all() else math.nan
    return {
        "data": config.data.name,
        "init": config.model.init,
        "activation": config.model.activation,
        "depth": depth,
        "width": width,
        "n_samples": study.n_samples,
        "layers": layers,
        "std_last_over_first": _num(ratio),
    }


def main(args: argparse.Namespace) -> int:
    if args.samples < 1:
        raise CommandError(f"--samples must be at least 1, got {args.samples}")
    config = load_config(args.config, args.set)
    updates: dict = {"model.arch": "mlp", "model.batch_norm": "off"}  # the study is about plain dense layers
    if args.init:
        updates["model.init"] = args.init
    if args.activation:
        updates["model.activation"] = args.activation
    config = config.with_updates(updates)
    try:
        study = init_study(config, args.depth, args.width, n_samples=args.samples)
    except (ValueError, RuntimeError, OSError) as e:
        raise CommandError(" ".join(str(e).split())) from None
    out = study_json(config, study, args.depth, args.width)
    if args.json:
        print(json.dumps(out))
        return 0
    print(
        f"{out['depth']}×{out['width']} {out['activation']} network, {out['init']} init, "
        f"{out['n_samples']} samples of {out['data']}:"
    )
    print(f"{'layer':<12} {'mean':>10} {'std':>10} {'saturated':>10} {'dead':>8}  symmetric")
    for row in out["layers"]:
        cells = [_cell(row[k], pct=k in ("saturated", "dead")) for k in ("mean", "std", "saturated", "dead")]
        print(f"{row['layer']:<12} {cells[0]:>10} {cells[1]:>10} {cells[2]:>10} {cells[3]:>8}  {row['symmetric']}")
    ratio = out["std_last_over_first"]
    if ratio is not None:
        print(f"std of the last layer / the first: {ratio:.3g}")
    return 0


def _cell(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:.0%}" if pct else f"{v:.3g}"
