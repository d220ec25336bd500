"""A search as data: its trials (params, score ± sd, per-epoch curves, state, times) and rounds.

`SearchSnapshot` is both what a running search shows (the job's progress preview) and what
a session file stores: JSON in the session's meta.json under "search" and each trial's
curves as .npy arrays under arrays/search/ (no pickles). `from_session` reads it back with
every value checked (a file is untrusted input); a malformed search is a SearchFileError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine.config import ExperimentConfig
from engine.states import RunState

META_KEY = "search"
ARRAY_PREFIX = "search/"
CURVES = ("val_loss", "val_loss_sd", "train_loss")
TRIAL_STATES = (
    RunState.IDLE,
    RunState.RUNNING,
    RunState.FINISHED,
    RunState.PRUNED,
    RunState.DIVERGED,
    RunState.ERROR,
    RunState.STOPPED,
)


class SearchFileError(ValueError):
    """A session's search that cannot be read; the message names what is wrong."""


@dataclass(frozen=True)
class TrialRecord:
    """One trial: `params` maps dotted keys to config values (lists for list fields); `score`
    is the last epoch's validation loss (the fold mean under k-fold), `score_sd` its standard
    deviation over the folds; curves are per epoch."""

    number: int
    round: int
    state: RunState
    params: dict[str, Any]
    score: float = math.nan
    score_sd: float = math.nan
    val_acc: float = math.nan
    curve: tuple[float, ...] = ()
    curve_sd: tuple[float, ...] = ()
    train_curve: tuple[float, ...] = ()
    message: str = ""
    t_start: float = 0.0
    t_end: float = 0.0
    worker: str = ""

    @property
    def epochs(self) -> int:
        return len(self.curve)

    @property
    def duration_s(self) -> float:
        return max(0.0, self.t_end - self.t_start) if self.t_end else 0.0

    @property
    def complete(self) -> bool:
        return self.state == RunState.FINISHED and math.isfinite(self.score)

    def meta(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "round": self.round,
            "state": self.state.value,
            "params": self.params,
            "score": _num(self.score),
            "score_sd": _num(self.score_sd),
            "val_acc": _num(self.val_acc),
            "message": self.message,
            "t_start": self.t_start,
            "t_end": self.t_end,
            "worker": self.worker,
        }


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


@dataclass(frozen=True)
class Round:
    """One round of a coarse-to-fine search: its number and the space it sampled (`--space` texts)."""

    number: int
    space: tuple[str, ...]
    sampler: str
    how: str = ""  # e.g. "refined around the best 5 of round 1"


@dataclass(frozen=True)
class SearchSnapshot:
    """The whole search so far. `base` is the config every trial starts from."""

    study_name: str
    base: ExperimentConfig
    rounds: tuple[Round, ...]
    trials: tuple[TrialRecord, ...] = ()
    budget: int = 0
    pruner: str = "none"
    folds: int = 1
    jobs: int = 1
    storage: str = ""
    state: RunState = RunState.RUNNING
    optuna_s: float = 0.0  # time spent in Optuna's own calls (ask, suggest, report, prune, tell)
    wall_s: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)
    test_evaluation: dict[str, Any] | None = None  # the best trial measured once on the test split

    @property
    def finished(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.state not in (RunState.RUNNING, RunState.IDLE)]

    @property
    def complete(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.complete]

    def best(self, k: int = 1, round: int | None = None) -> list[TrialRecord]:
        """The k complete trials with the lowest score (of one round, or all)."""
        done = [t for t in self.complete if round is None or t.round == round]
        return sorted(done, key=lambda t: t.score)[:k]

    def best_so_far(self) -> np.ndarray:
        """Per finished trial in order of number: the lowest complete score up to it (NaN before any)."""
        best, out = math.inf, []
        for t in sorted(self.finished, key=lambda t: t.number):
            if t.complete:
                best = min(best, t.score)
            out.append(best if math.isfinite(best) else math.nan)
        return np.array(out, dtype=np.float64)

    def keys(self) -> list[str]:
        """Every searched key, in the order of first appearance."""
        out: list[str] = []
        for r in self.rounds:
            for text in r.space:
                k = text.split("=", 1)[0]
                if k not in out:
                    out.append(k)
        return out

    def with_trial(self, record: TrialRecord) -> SearchSnapshot:
        others = [t for t in self.trials if t.number != record.number]
        return replace(self, trials=tuple(sorted([*others, record], key=lambda t: t.number)))

    # -- the session file ----------------------------------------------------------------
    def to_session(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(the JSON for meta.json's "search", the arrays keyed under search/)."""
        meta = {
            "study_name": self.study_name,
            "base": self.base.model_dump(mode="json"),
            "rounds": [
                {"number": r.number, "space": list(r.space), "sampler": r.sampler, "how": r.how} for r in self.rounds
            ],
            "trials": [t.meta() for t in self.trials],
            "budget": self.budget,
            "pruner": self.pruner,
            "folds": self.folds,
            "jobs": self.jobs,
            "storage": self.storage,
            "state": self.state.value,
            "optuna_s": self.optuna_s,
            "wall_s": self.wall_s,
            "notes": list(self.notes),
            "test_evaluation": self.test_evaluation,
            "direction": "minimize",
            "metric": "val_loss",
        }
        arrays = {}
        for t in self.trials:
            for name, values in zip(CURVES, (t.curve, t.curve_sd, t.train_curve)):
                arrays[f"{ARRAY_PREFIX}{t.number:05d}/{name}"] = np.asarray(values, dtype=np.float64)
        return meta, arrays

    @classmethod
    def from_session(cls, meta: Any, arrays: dict[str, np.ndarray]) -> SearchSnapshot:
        """The search a session stored; SearchFileError names the problem."""
        if not isinstance(meta, dict):
            raise SearchFileError("search: expected a JSON object")
        try:
            base = ExperimentConfig.model_validate(meta.get("base") or {})
        except ValueError as e:
            raise SearchFileError(f"search: invalid base config ({str(e).splitlines()[0]})") from None
        rounds = []
        for i, r in enumerate(_list(meta, "rounds")):
            if not isinstance(r, dict) or not isinstance(r.get("space"), list):
                raise SearchFileError(f"search: round {i + 1} is malformed")
            rounds.append(
                Round(
                    _int(r.get("number"), f"round {i + 1} number"),
                    tuple(str(s) for s in r["space"]),
                    str(r.get("sampler", "")),
                    str(r.get("how", "")),
                )
            )
        trials = [_trial(i, t, arrays) for i, t in enumerate(_list(meta, "trials"))]
        return cls(
            study_name=str(meta.get("study_name", "")),
            base=base,
            rounds=tuple(rounds),
            trials=tuple(trials),
            budget=_int(meta.get("budget", 0), "budget"),
            pruner=str(meta.get("pruner", "none")),
            folds=_int(meta.get("folds", 1), "folds"),
            jobs=_int(meta.get("jobs", 1), "jobs"),
            storage=str(meta.get("storage", "")),
            state=_state(meta.get("state", RunState.FINISHED.value), "search"),
            optuna_s=_float(meta.get("optuna_s", 0.0), "optuna_s"),
            wall_s=_float(meta.get("wall_s", 0.0), "wall_s"),
            notes=tuple(str(n) for n in meta.get("notes", []) if isinstance(n, str)),
            test_evaluation=_test_evaluation(meta.get("test_evaluation")),
        )


def _test_evaluation(v: Any) -> dict[str, Any] | None:
    if v is None:
        return None
    if not isinstance(v, dict):
        raise SearchFileError("search: 'test_evaluation' is not a JSON object")
    for k in ("test_loss", "test_acc"):
        if k in v and v[k] is not None and (isinstance(v[k], bool) or not isinstance(v[k], (int, float))):
            raise SearchFileError(f"search: test_evaluation {k} is not a number")
    return dict(v)


def _list(meta: dict, key: str) -> list:
    v = meta.get(key, [])
    if not isinstance(v, list):
        raise SearchFileError(f"search: '{key}' is not a JSON list")
    return v


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise SearchFileError(f"search: {what} is not an integer")
    return v


def _float(v: Any, what: str) -> float:
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SearchFileError(f"search: {what} is not a number")
    return float(v)


def _state(v: Any, what: str) -> RunState:
    try:
        return RunState(str(v))
    except ValueError:
        raise SearchFileError(f"search: {what} has an unknown state {str(v)[:40]!r}") from None


def _trial(i: int, t: Any, arrays: dict[str, np.ndarray]) -> TrialRecord:
    where = f"trial entry {i + 1}"
    if not isinstance(t, dict) or not isinstance(t.get("params"), dict):
        raise SearchFileError(f"search: {where} is malformed")
    number = _int(t.get("number"), f"{where} number")
    curves = []
    for name in CURVES:
        a = arrays.get(f"{ARRAY_PREFIX}{number:05d}/{name}")
        if a is None:
            a = np.zeros(0)
        if a.ndim != 1 or a.dtype.kind not in "fiu":
            raise SearchFileError(f"search: trial {number}'s {name} is not a 1-D numeric array")
        curves.append(tuple(float(x) for x in a))
    return TrialRecord(
        number=number,
        round=_int(t.get("round", 1), f"{where} round"),
        state=_state(t.get("state"), where),
        params=dict(t["params"]),
        score=_float(t.get("score"), f"{where} score"),
        score_sd=_float(t.get("score_sd"), f"{where} score_sd"),
        val_acc=_float(t.get("val_acc"), f"{where} val_acc"),
        curve=curves[0],
        curve_sd=curves[1],
        train_curve=curves[2],
        message=str(t.get("message", "")),
        t_start=_float(t.get("t_start", 0.0), f"{where} t_start"),
        t_end=_float(t.get("t_end", 0.0), f"{where} t_end"),
        worker=str(t.get("worker", "")),
    )
