"""What the Search view draws, computed without Qt: parameter importances, axes of the picture.

Importances come from Optuna's own evaluators over the search's complete trials, rebuilt as
an in-memory study whose distributions span every round (a refined round's narrower range
lies inside the first round's, so the trials of all rounds are comparable).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna

from engine.tuning.snapshot import SearchSnapshot
from engine.tuning.space import Param, choice_label, parse_param

MIN_TRIALS_FOR_IMPORTANCE = 4
optuna.logging.set_verbosity(optuna.logging.ERROR)


def search_params(snapshot: SearchSnapshot) -> dict[str, Param]:
    """Each searched key's widest range over the rounds (choices: their union)."""
    out: dict[str, Param] = {}
    for r in snapshot.rounds:
        for text in r.space:
            p = parse_param(text)
            q = out.get(p.key)
            if q is None:
                out[p.key] = p
            elif p.scale == "choice":
                labels = {str(choice_label(c)) for c in q.choices}
                out[p.key] = Param(
                    q.key,
                    "choice",
                    choices=q.choices + tuple(c for c in p.choices if str(choice_label(c)) not in labels),
                )
            else:
                out[p.key] = Param(q.key, q.scale, min(q.low, p.low), max(q.high, p.high))
    return out


def _distribution(p: Param) -> optuna.distributions.BaseDistribution:
    if p.scale == "choice":
        return optuna.distributions.CategoricalDistribution([choice_label(c) for c in p.choices])
    if p.scale == "int":
        return optuna.distributions.IntDistribution(int(p.low), int(p.high))
    return optuna.distributions.FloatDistribution(p.low, p.high, log=p.scale == "log")


def importances(snapshot: SearchSnapshot, seed: int = 0) -> dict[str, float]:
    """Optuna's fANOVA importance of each parameter for the validation loss (sums to 1) over
    the parameters every complete trial has; empty with fewer than MIN_TRIALS_FOR_IMPORTANCE
    complete trials or fewer than two such parameters. Takes a second or more: run it off the
    GUI thread."""
    done = snapshot.complete
    # parameters every complete trial has (a conditional one, e.g. betas only for Adam, is left out)
    params = {k: p for k, p in search_params(snapshot).items() if all(k in t.params for t in done)}
    if len(done) < MIN_TRIALS_FOR_IMPORTANCE or len(params) < 2:
        return {}
    dists = {k: _distribution(p) for k, p in params.items()}
    study = optuna.create_study(direction="minimize")
    for t in done:
        values = {k: choice_label(t.params[k]) if p.scale == "choice" else t.params[k] for k, p in params.items()}
        study.add_trial(optuna.trial.create_trial(params=values, distributions=dists, value=t.score))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    found = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    return {k: float(v) for k, v in found.items()}


def axis_values(param: Param, values: list[Any]) -> np.ndarray:
    """Where trials lie on one parameter's axis: log10 for log ranges, the value for linear
    and int, the choice's index for choices (NaN where a trial has no value)."""
    out = np.full(len(values), math.nan)
    labels = [str(choice_label(c)) for c in param.choices]
    for i, v in enumerate(values):
        if v is None:
            continue
        if param.scale == "choice":
            lab = str(choice_label(v))
            out[i] = labels.index(lab) if lab in labels else math.nan
        elif param.scale == "log":
            out[i] = math.log10(v) if v > 0 else math.nan
        else:
            out[i] = float(v)
    return out


def axis_range(param: Param) -> tuple[float, float]:
    """The axis span of a parameter (log10 for log ranges)."""
    if param.scale == "choice":
        return -0.5, len(param.choices) - 0.5
    if param.scale == "log":
        return math.log10(param.low), math.log10(param.high)
    return param.low, param.high
