"""A search space over the experiment config: which dotted keys vary, on which scale, in which range.

`--space optim.lr=log:1e-5:1` (float, log-uniform), `linear:a:b` (float, uniform), `int:a:b`
(integer, uniform), `choice:x,y,z` (any field; list-valued fields separate alternatives with
`;`, as `compare --vary` does: `model.hidden=choice:64;32,32;128,128`). A key alone
(`--space optim.lr`) takes the default range in `DEFAULT_RANGES`. Every range is checked
against the pydantic config: unknown keys, a numeric range on a non-numeric field, an empty
or inverted range, a log range reaching 0 or below, or bounds outside the field's own range
are refused with one line naming the key.

Parameters are sampled jointly and define-by-run: choices first (in the order given), then
the numeric parameters, each only when it applies to the config sampled so far (betas only
for Adam/AdamW, momentum only for the SGD variants...): `APPLIES_WHEN`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine.config import ConfigError, ExperimentConfig, FieldSpec, field_spec, parse_value, quote_value

SCALES = ("log", "linear", "int", "choice")
NUMERIC_KINDS = ("int", "float")

DEFAULT_RANGES: dict[str, str] = {
    "optim.lr": "log:1e-5:1",
    "optim.weight_decay": "log:1e-6:1e-1",
    "reg.l2": "log:1e-6:1e-1",
    "optim.momentum": "linear:0.5:0.99",
    "model.dropout": "linear:0:0.5",
    "train.batch_size": "choice:16,32,64,128",
    "model.hidden": "choice:32;64;32,32;64,64;128,128",
    "model.init_std": "log:1e-3:1",
    "optim.name": "choice:sgd,momentum,adam",
}
"""The classic hyper-parameters' ranges, used for `--space KEY` without a range."""

_SGD_MOMENTUM = ("momentum", "nesterov")
_ADAM = ("adam", "adamw")

APPLIES_WHEN: dict[str, tuple[str, tuple[str, ...]]] = {
    "optim.momentum": ("optim.name", (*_SGD_MOMENTUM, "rmsprop")),
    "optim.dampening": ("optim.name", ("momentum",)),
    "optim.betas": ("optim.name", _ADAM),
    "optim.amsgrad": ("optim.name", _ADAM),
    "optim.eps": ("optim.name", (*_ADAM, "rmsprop", "adagrad")),
    "optim.alpha": ("optim.name", ("rmsprop",)),
    "optim.rmsprop_momentum": ("optim.name", ("rmsprop",)),
    "optim.centered": ("optim.name", ("rmsprop",)),
    "optim.lr_decay": ("optim.name", ("adagrad",)),
    "optim.initial_accumulator": ("optim.name", ("adagrad",)),
    "model.leaky_slope": ("model.activation", ("leaky_relu",)),
    "model.prelu_init": ("model.activation", ("prelu",)),
    "model.init_std": ("model.init", ("normal", "uniform")),
    "model.init_constant": ("model.init", ("constant",)),
    "model.conv_channels": ("model.arch", ("cnn",)),
    "model.bn_momentum": ("model.batch_norm", ("before", "after")),
    "model.bn_eps": ("model.batch_norm", ("before", "after")),
    "schedule.gamma": ("schedule.name", ("step", "multistep", "exponential")),
    "schedule.step_size": ("schedule.name", ("step",)),
    "schedule.t_max": ("schedule.name", ("cosine",)),
    "schedule.eta_min": ("schedule.name", ("cosine", "cosine_restarts")),
    "reg.patience": ("reg.early_stopping", ("true",)),
    "reg.min_delta": ("reg.early_stopping", ("true",)),
}
"""A parameter that matters only for some values of another field: (that field, its values).
Such a parameter is sampled only when the field (sampled or the base's) has one of them."""


class SpaceError(ConfigError):
    """A search space that cannot be searched; the message names the key."""


@dataclass(frozen=True)
class Param:
    """One searched key: `scale` log|linear|int|choice; numeric bounds or the choices (parsed
    values of the field, lists for list fields)."""

    key: str
    scale: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.scale != "choice"

    def label(self, value: Any) -> str | int | float | bool:
        """A choice value as the text Optuna stores (lists as comma-separated text)."""
        return choice_label(value)

    def text(self) -> str:
        """The `--space` text of this parameter (round trip through parse_param)."""
        if self.scale == "choice":
            sep = ";" if any(isinstance(c, list) for c in self.choices) else ","
            return f"{self.key}=choice:{sep.join(str(choice_label(c)) for c in self.choices)}"
        fmt = "{:d}" if self.scale == "int" else "{:.6g}"
        lo = fmt.format(int(self.low)) if self.scale == "int" else fmt.format(self.low)
        hi = fmt.format(int(self.high)) if self.scale == "int" else fmt.format(self.high)
        return f"{self.key}={self.scale}:{lo}:{hi}"

    def grid(self, points: int) -> list[Any]:
        """The values a grid takes: `points` per continuous range (geometric for log), every
        integer when there are fewer, every choice."""
        if self.scale == "choice":
            return [choice_label(c) for c in self.choices]
        if self.scale == "log":
            return [float(v) for v in np.geomspace(self.low, self.high, points)]
        if self.scale == "linear":
            return [float(v) for v in np.linspace(self.low, self.high, points)]
        return sorted({int(round(v)) for v in np.linspace(self.low, self.high, points)})


def choice_label(value: Any) -> str | int | float | bool:
    """A choice as Optuna stores it: scalars as they are, lists as comma-separated text."""
    if isinstance(value, (list, tuple)):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return value


@dataclass
class SearchSpace:
    """The searched parameters, choices first (define-by-run order)."""

    params: list[Param] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.params = [p for p in self.params if not p.numeric] + [p for p in self.params if p.numeric]

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def param(self, key: str) -> Param:
        for p in self.params:
            if p.key == key:
                return p
        raise KeyError(key)

    def texts(self) -> list[str]:
        return [p.text() for p in self.params]

    def grid(self, points: int) -> dict[str, list[Any]]:
        return {p.key: p.grid(points) for p in self.params}

    def grid_size(self, points: int) -> int:
        return math.prod(len(v) for v in self.grid(points).values())

    def with_param(self, param: Param) -> SearchSpace:
        return SearchSpace([param if p.key == param.key else p for p in self.params])


def _number(key: str, text: str, integer: bool) -> float:
    t = text.strip()
    try:
        v = float(int(t)) if integer else float(t)
    except ValueError:
        what = "an integer" if integer else "a number"
        raise SpaceError(f"--space {key}: bound {quote_value(t)} is not {what}") from None
    if not math.isfinite(v):
        raise SpaceError(f"--space {key}: bound {quote_value(t)} is not finite")
    return v


def _check_bounds(spec: FieldSpec, scale: str, low: float, high: float) -> None:
    key = spec.key
    if spec.kind not in NUMERIC_KINDS:
        raise SpaceError(
            f"--space {key}: a {scale} range needs a numeric field, but {key} is {spec.range_text()} (use choice:…)"
        )
    if scale in ("log", "linear") and spec.kind == "int":
        raise SpaceError(f"--space {key}: an integer field takes int:a:b or choice:…, not {scale}")
    if scale == "int" and spec.kind != "int":
        raise SpaceError(f"--space {key}: int:a:b needs an integer field; {key} is a float (use log or linear)")
    if low == high:
        raise SpaceError(f"--space {key}: empty range ({low:g} to {high:g})")
    if low > high:
        raise SpaceError(f"--space {key}: inverted range ({low:g} > {high:g}); give the low bound first")
    if scale == "log" and low <= 0:
        raise SpaceError(f"--space {key}: a log range must be above 0 (got {low:g} to {high:g}); use linear")
    lo_ok = spec.minimum is None or (low > spec.minimum if spec.min_exclusive else low >= spec.minimum)
    hi_ok = spec.maximum is None or (high < spec.maximum if spec.max_exclusive else high <= spec.maximum)
    if not (lo_ok and hi_ok):
        raise SpaceError(f"--space {key}: {low:g} to {high:g} leaves the field's range {spec.range_text()}")


def parse_param(item: str) -> Param:
    """One `KEY=SCALE:…` (or `KEY` for its default range) as a Param; SpaceError names the key."""
    key, sep, text = item.partition("=")
    key = key.strip()
    try:
        spec = field_spec(key)
    except ConfigError as e:
        raise SpaceError(f"--space: {e}") from None
    if not sep:
        if key not in DEFAULT_RANGES:
            raise SpaceError(
                f"--space {key}: no default range for this key; give one (log:a:b, linear:a:b, int:a:b or choice:x,y)"
            )
        text = DEFAULT_RANGES[key]
    scale, _, rest = text.strip().partition(":")
    scale = scale.strip().lower()
    if scale not in SCALES:
        raise SpaceError(f"--space {key}: unknown scale {quote_value(scale)} (expected {'|'.join(SCALES)})")
    if scale == "choice":
        parts = [p.strip() for p in (rest.split(";") if spec.is_list else rest.split(","))]
        if not rest.strip() or any(not p for p in parts):
            raise SpaceError(f"--space {key}: empty choice")
        try:
            values = [parse_value(spec, p) for p in parts]
        except ConfigError as e:
            raise SpaceError(f"--space {e}") from None
        for v in values:  # each choice must be a valid value of its field (its range)
            try:
                ExperimentConfig().with_updates({key: v})
            except ConfigError as e:
                raise SpaceError(f"--space {key}: choice {choice_label(v)!r}: {e}") from None
        labels = [choice_label(v) for v in values]
        if len(set(map(str, labels))) != len(labels):
            raise SpaceError(f"--space {key}: a choice is given twice")
        return Param(key, "choice", choices=tuple(values))
    bounds = rest.split(":")
    if len(bounds) != 2:
        raise SpaceError(f"--space {key}: expected {scale}:LOW:HIGH, got {quote_value(text)}")
    low, high = (_number(key, b, scale == "int") for b in bounds)
    _check_bounds(spec, scale, low, high)
    return Param(key, scale, low, high)


def parse_space(items: list[str]) -> SearchSpace:
    """`--space` items as a SearchSpace; SpaceError on a bad item or a key given twice."""
    if not items:
        raise SpaceError("nothing to search: give at least one --space KEY=SCALE:… (e.g. optim.lr=log:1e-5:1)")
    params: list[Param] = []
    for item in items:
        p = parse_param(item)
        if any(q.key == p.key for q in params):
            raise SpaceError(f"--space {p.key} given twice")
        params.append(p)
    return SearchSpace(params)


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def applies(key: str, values: Mapping[str, Any], base: ExperimentConfig) -> bool:
    """Whether `key` matters given the values sampled so far (and the base config otherwise)."""
    cond = APPLIES_WHEN.get(key)
    if cond is None:
        return True
    field_key, allowed = cond
    if field_key in values:
        current = values[field_key]
    else:
        node: Any = base
        for part in field_key.split("."):
            node = getattr(node, part)
        current = node
    return _value_text(current) in allowed


Suggest = Callable[[Param], Any]
"""Asks a sampler for one parameter's value (an Optuna trial's suggest_* under the hood)."""


def sample(space: SearchSpace, base: ExperimentConfig, suggest: Suggest, all_params: bool = False) -> dict[str, Any]:
    """Define-by-run: each parameter, in the space's order, asked of `suggest` only when it
    applies to what was sampled before (all of them with `all_params`, as a grid needs,
    though only the applying ones are returned). Returns key → config value."""
    values: dict[str, Any] = {}
    for p in space.params:
        ok = applies(p.key, values, base)
        if not ok and not all_params:
            continue
        v = suggest(p)
        if ok:
            values[p.key] = value_of(p, v)
    return values


def value_of(param: Param, sampled: Any) -> Any:
    """The config value of a sampled value (a choice label back to its list)."""
    if param.scale == "choice":
        for c in param.choices:
            if choice_label(c) == sampled or str(choice_label(c)) == str(sampled):
                return c
        raise SpaceError(f"{param.key}: {sampled!r} is not one of its choices")
    if param.scale == "int":
        return int(sampled)
    return float(sampled)


def trial_config(base: ExperimentConfig, values: Mapping[str, Any]) -> tuple[ExperimentConfig, list[str]]:
    """The base config with the sampled values; per-layer lists (batch norm, dropout) of the
    base that no longer match a sampled depth fall back to the model-wide value. Returns the
    config and notes on what fell back."""
    updates = dict(values)
    notes: list[str] = []
    hidden = updates.get("model.hidden")
    if hidden is not None:
        for key, fallback in (("batch_norm_layers", "batch_norm"), ("dropout_layers", "dropout")):
            per_layer = getattr(base.model, key)
            if f"model.{key}" not in updates and per_layer and len(per_layer) != len(hidden):
                updates[f"model.{key}"] = []
                notes.append(f"model.{key} falls back to model.{fallback} for {len(hidden)} hidden layers")
    return base.with_updates(updates), notes


def narrowed(param: Param, values: list[Any], margin: float = 0.25) -> Param:
    """The parameter narrowed to the region of `values` (the best trials'): a numeric range
    to their span widened by `margin` of it on each side (in log space for log), inside the
    old bounds; a choice to the choices among them."""
    if not values:
        return param
    if param.scale == "choice":
        keep = [c for c in param.choices if any(str(choice_label(c)) == str(choice_label(v)) for v in values)]
        return replace(param, choices=tuple(keep)) if keep else param
    nums = [float(v) for v in values]
    if param.scale == "log":
        lo, hi = math.log10(min(nums)), math.log10(max(nums))
        width = max(hi - lo, 0.1 * (math.log10(param.high) - math.log10(param.low)))
        lo, hi = lo - margin * width, hi + margin * width
        new_lo, new_hi = max(param.low, 10**lo), min(param.high, 10**hi)
    else:
        lo, hi = min(nums), max(nums)
        width = max(hi - lo, 0.1 * (param.high - param.low))
        new_lo, new_hi = max(param.low, lo - margin * width), min(param.high, hi + margin * width)
        if param.scale == "int":
            new_lo, new_hi = math.floor(new_lo), math.ceil(new_hi)
    if new_hi <= new_lo:
        return param
    return replace(param, low=float(new_lo), high=float(new_hi))


def narrowed_space(space: SearchSpace, best: list[Mapping[str, Any]]) -> SearchSpace:
    """Every parameter narrowed to the region of the best trials' values (refine around the best k)."""
    return SearchSpace([narrowed(p, [b[p.key] for b in best if p.key in b]) for p in space.params])
