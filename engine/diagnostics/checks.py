"""The diagnostic rules (lecture §7), as pure functions of numbers: easy to test, no torch."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

SYMMETRY_TOL = 1e-5
OSCILLATION_RISE = 0.10
"""A rise of the (eval-mode) training loss by more than this fraction from one epoch to the
next, on a run that made no progress, is an oscillating step: the learning rate is too high."""
CHANCE_MARGIN = 0.10
"""An accuracy within this fraction of the way from chance (1/C) to 1 counts as chance."""

CAUSE_RANK = {
    "divergence": 0,
    "nonfinite_activations": 0,
    "lr_too_high": 1,
    "dead_units": 2,
    "saturation": 2,
    "symmetry": 3,
    "initial_loss": 3,
    "lr_too_low": 4,
    "overfitting": 5,
    "underfitting": 5,
}
"""Findings by cause, most fundamental first: a divergence explains a too-high lr's other
symptoms, dead or saturated units explain slow progress, and over/underfitting verdicts
only mean something once none of the causes above is active."""
CAUSES = frozenset(k for k, r in CAUSE_RANK.items() if r <= CAUSE_RANK["lr_too_low"])


@dataclass(frozen=True)
class Diagnostic:
    """One finding: what (kind), how bad (level), when (step, epoch), where (layer), and advice."""

    kind: str  # initial_loss, divergence, lr_too_high, lr_too_low, overfitting, underfitting,
    #                      saturation, dead_units, nonfinite_activations, symmetry, overfit_subset
    level: str  # info | warning | error
    step: int
    message: str
    epoch: int = 0
    layer: str = ""
    value: float = math.nan

    def to_json(self) -> dict:
        d = asdict(self)
        d["value"] = self.value if math.isfinite(self.value) else None
        return d

    @classmethod
    def from_json(cls, d: dict) -> Diagnostic:
        """What to_json wrote (a saved run's findings)."""
        value = d.get("value")
        return cls(
            str(d["kind"]),
            str(d["level"]),
            int(d["step"]),
            str(d["message"]),
            int(d.get("epoch", 0)),
            str(d.get("layer", "")),
            float(value) if value is not None else math.nan,
        )


def rank(d: Diagnostic) -> int:
    """Where a finding stands (0 = the most fundamental cause); info-level findings last."""
    if d.level == "info":
        return 100
    return CAUSE_RANK.get(d.kind, 50)


def top_finding(found: list[Diagnostic]) -> Diagnostic | None:
    """The highest-ranked finding (the earliest among equals): what the status bar shows."""
    return min(found, key=rank) if found else None


def near_chance(accuracy: float, n_classes: int, margin: float = CHANCE_MARGIN) -> bool:
    """Whether an accuracy is no better than guessing (within `margin` of the way to 1)."""
    chance = 1.0 / max(1, n_classes)
    return not math.isfinite(accuracy) or accuracy <= chance + margin * (1.0 - chance)


def lr_verdict(initial_loss: float, losses: np.ndarray, train_acc: float, min_drop: float) -> str:
    """After enough steps: "" when the training loss made progress (fell by `min_drop` of the
    initial loss, or the data are fit), else "too_high" when it jumped up on the way (an
    oscillating step: some epoch-to-epoch rise above OSCILLATION_RISE, or above the initial
    loss by as much) and "too_low" when it crept (slow, steady progress)."""
    losses = np.asarray(losses, dtype=float)
    if not len(losses) or not loss_too_slow(initial_loss, float(losses[-1]), train_acc, min_drop):
        return ""
    seq = np.r_[initial_loss, losses]
    seq = seq[np.isfinite(seq)]
    rises = seq[1:] / np.maximum(seq[:-1], 1e-12) - 1.0
    jumped = len(rises) and float(rises.max()) > OSCILLATION_RISE
    if jumped or float(seq.max()) > (1 + OSCILLATION_RISE) * initial_loss:
        return "too_high"
    return "too_low"


def check_initial_loss(loss: float, n_classes: int, tolerance: float) -> Diagnostic:
    """For C balanced classes a random network's cross-entropy should be about ln C."""
    expected = math.log(n_classes)
    if not math.isfinite(loss):
        return Diagnostic(
            "initial_loss",
            "error",
            0,
            f"initial loss is {loss}: the network produces NaN/Inf "
            "before any training (check the init scale and the data)",
            value=loss,
        )
    off = abs(loss - expected)
    if off > tolerance * expected:
        hint = (
            "too large: the init scale is likely too big (overconfident random outputs)"
            if loss > expected
            else "too small for an untrained network: check the labels and the loss"
        )
        return Diagnostic(
            "initial_loss",
            "warning",
            0,
            f"initial loss {loss:.3f} is far from ln {n_classes} = {expected:.3f}: {hint}",
            value=loss,
        )
    return Diagnostic(
        "initial_loss",
        "info",
        0,
        f"initial loss {loss:.3f} ≈ ln {n_classes} = {expected:.3f}: as expected for an untrained network",
        value=loss,
    )


def is_overfitting(train_loss: np.ndarray, val_loss: np.ndarray, window: int) -> bool:
    """Training loss falling while validation loss rises, sustained over `window` epochs."""
    if len(val_loss) < window + 1 or len(train_loss) < window + 1:
        return False
    v = np.asarray(val_loss[-(window + 1) :], dtype=float)
    t = np.asarray(train_loss[-(window + 1) :], dtype=float)
    if not (np.isfinite(v).all() and np.isfinite(t).all()):
        return False
    rises = int((np.diff(v) > 0).sum())
    best = float(np.min(val_loss))
    return t[-1] < t[0] and v[-1] > v[0] and rises >= math.ceil(0.6 * window) and v[-1] > best * 1.02 + 1e-12


def is_underfitting(train_loss: np.ndarray, val_loss: np.ndarray, window: int, n_classes: int) -> bool:
    """Both losses high (above half of chance level ln C), close together, and no longer falling."""
    if len(train_loss) < window + 1:
        return False
    t = np.asarray(train_loss[-(window + 1) :], dtype=float)
    v = np.asarray(val_loss[-(window + 1) :], dtype=float)
    if not (np.isfinite(v).all() and np.isfinite(t).all()):
        return False
    high = t[-1] > 0.5 * math.log(n_classes)
    close = abs(v[-1] - t[-1]) < 0.1 * t[-1]
    flat = (t[0] - t[-1]) < 0.02 * t[0]
    return bool(high and close and flat)


def loss_too_slow(initial_loss: float, train_loss: float, train_acc: float, min_drop: float) -> bool:
    """The loss fell by less than `min_drop` (relative) since init while the data are not yet fit."""
    if not (math.isfinite(initial_loss) and math.isfinite(train_loss)) or initial_loss <= 0:
        return False
    return train_loss > (1.0 - min_drop) * initial_loss and train_acc < 0.99


def layer_findings(
    step: int,
    labels: list[str],
    kinds: list[str],
    stats: dict[str, np.ndarray],
    saturation_warn: float,
    dead_warn: float,
) -> list[Diagnostic]:
    """Saturation, dead units, NaN/Inf and identical units, per activation layer, from probe statistics."""
    out: list[Diagnostic] = []
    for i, label in enumerate(labels):
        kind = kinds[i]
        nonfinite = float(stats["nonfinite"][i])
        if nonfinite > 0:
            out.append(
                Diagnostic(
                    "nonfinite_activations",
                    "error",
                    step,
                    f"{label}: {int(nonfinite)} NaN/Inf "
                    "activations on the probe batch (the learning rate is likely too high)",
                    layer=label,
                    value=nonfinite,
                )
            )
        sat = float(stats["saturated"][i])
        if math.isfinite(sat) and sat >= saturation_warn:
            out.append(
                Diagnostic(
                    "saturation",
                    "warning",
                    step,
                    f"{label}: {sat:.0%} of the outputs are saturated "
                    f"(gradient ≈ 0 there): use a smaller init scale, Xavier init or another "
                    "activation",
                    layer=label,
                    value=sat,
                )
            )
        dead = float(stats["dead"][i])
        if kind == "relu" and math.isfinite(dead) and dead >= dead_warn:
            out.append(
                Diagnostic(
                    "dead_units",
                    "warning",
                    step,
                    f"{label}: {dead:.0%} of the units are dead (zero "
                    "for every probe sample, so they get no gradient): a too-large step or negative "
                    "biases put them there; lower the learning rate, start the biases at 0 "
                    "(model.bias_init) or try leaky ReLU",
                    layer=label,
                    value=dead,
                )
            )
        spread = float(stats["unit_spread"][i])
        std = float(stats["std"][i]) if "std" in stats else math.nan
        if not math.isfinite(spread) and std == 0.0 and kind != "relu" and not (math.isfinite(dead) and dead > 0):
            # every unit outputs exactly 0 for every sample (zero init with tanh): no spread
            # to measure, and the most symmetric layer there is
            spread = 0.0
        if math.isfinite(spread) and spread < SYMMETRY_TOL:
            out.append(
                Diagnostic(
                    "symmetry",
                    "warning",
                    step,
                    f"{label}: all units compute the same output "
                    "(symmetry never broken, e.g. constant init): use a random init",
                    layer=label,
                    value=spread,
                )
            )
    return out
