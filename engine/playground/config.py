"""The playground's configuration: a surface, a start point, gradient noise, and racers.

It is not part of a training experiment, so it is its own pydantic model; each racer
carries the same OptimConfig/ScheduleConfig as real training. Dotted keys for the CLI:
``sigma=0.5`` (a playground field), ``optim.lr=0.01`` / ``schedule.name=cosine`` (every
racer), ``adam.lr=0.05`` / ``adam.schedule.name=step`` (the racer labelled adam).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.config import (
    OPTIMIZERS,
    ConfigError,
    FieldSpec,
    OptimConfig,
    ScheduleConfig,
    _walk,
    field_spec,
    parse_value,
)
from engine.palette import PALETTE  # the racers' colours: the runs' palette
from engine.playground.functions import FUNCTIONS, get_function

FUNCTION_NAMES = tuple(FUNCTIONS)
ADAPTIVE = ("adagrad", "rmsprop", "adam", "adamw")
MAX_RACERS = 12


class Racer(BaseModel):
    """One racing optimizer: the same optimizer/schedule config as real training, a label, a colour."""

    model_config = ConfigDict(extra="forbid")
    label: str = Field(
        ...,
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="Name shown in the legend and used in --set keys and session paths",
    )
    color: str = Field("#4363d8", pattern=r"^#[0-9a-fA-F]{6}$", description="Path colour (#rrggbb)")
    optim: OptimConfig = Field(default_factory=OptimConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)


class PlaygroundSettings(BaseModel):
    """The race's surface and conditions (every field: range, default, help)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    # The names of FUNCTIONS: a Literal built at import time, which pydantic checks and mypy cannot read.
    function: Literal[FUNCTION_NAMES] = Field("rosenbrock", description="Test function (surface) to race on")  # type: ignore[valid-type]  # see above
    condition: float = Field(
        10.0, ge=1.0, le=10_000.0, description="quadratic: condition number κ (ratio of curvatures)"
    )
    rotation: float = Field(30.0, ge=-90.0, le=90.0, description="quadratic: rotation of the ravine in degrees")
    sigma: float = Field(
        0.0, ge=0.0, le=100.0, description="Std of the Gaussian noise added to every gradient (minibatch stand-in)"
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the gradient noise: same seed, same paths")
    steps: int = Field(
        500, ge=1, le=200_000, description="Number of lockstep optimizer steps (every step of every racer is kept)"
    )
    exact: bool = Field(
        False, description="Step each racer with its own torch.optim optimizer object (about 15x slower; same paths)"
    )


class PlaygroundConfig(PlaygroundSettings):
    """Settings, start point (None: the function's suggested start) and the racers."""

    start: tuple[float, float] | None = Field(
        None, description="Start point x,y (default: the function's suggested start)"
    )
    racers: list[Racer] = Field(default_factory=list, max_length=MAX_RACERS, description="The racing optimizers")

    @field_validator("start")
    @classmethod
    def _finite_start(cls, v):
        if v is not None and not all(math.isfinite(c) for c in v):
            raise ValueError("start must be two finite numbers")
        return v

    @model_validator(mode="after")
    def _checks(self) -> PlaygroundConfig:
        fn = get_function(self.function)
        if self.start is not None and not fn.in_domain(*self.start):
            (x0, x1), (y0, y1) = fn.domain
            raise ValueError(
                f"start ({self.start[0]:g}, {self.start[1]:g}) is outside the domain of "
                f"{self.function}: x in [{x0:g}, {x1:g}], y in [{y0:g}, {y1:g}]"
            )
        labels = [r.label for r in self.racers]
        dup = sorted({lb for lb in labels if labels.count(lb) > 1})
        if dup:
            raise ValueError(f"racer labels must be unique (repeated: {', '.join(dup)})")
        return self

    @property
    def start_point(self) -> tuple[float, float]:
        return self.start if self.start is not None else get_function(self.function).start

    @property
    def params(self) -> dict[str, float]:
        return {"condition": self.condition, "rotation": self.rotation}

    def with_updates(self, updates: dict[str, Any]) -> PlaygroundConfig:
        """A validated copy with (string or typed) dotted-key updates; ConfigError names the key."""
        data = self.model_dump(mode="json")
        labels = [r["label"] for r in data["racers"]]
        for key, value in updates.items():
            apply_update(data, labels, key, value)
        return validate_playground(data)


def validate_playground(data: dict[str, Any]) -> PlaygroundConfig:
    try:
        return PlaygroundConfig.model_validate(data)
    except ValidationError as e:
        labels = [r.get("label", "") if isinstance(r, dict) else "" for r in data.get("racers", [])]
        raise ConfigError(describe_playground_error(e, labels)) from None


def describe_playground_error(err: ValidationError, labels: list[str]) -> str:
    """One line per problem, in the main config's form ("key: problem (allowed: range)"):
    a racer's field is named by its label and dotted key (``adam.optim.lr``), the same key
    that --set and the editor use; the same problem in several racers is said once per racer."""
    specs = {s.key: s for s in settings_specs()}
    lines: list[str] = []
    for e in err.errors():
        loc = e["loc"]
        msg = e["msg"].removeprefix("Value error, ")
        spec: FieldSpec | None = None
        if len(loc) >= 2 and loc[0] == "racers" and isinstance(loc[1], int):
            i = loc[1]
            label = labels[i] if i < len(labels) and labels[i] else f"racer {i + 1}"
            sub = ".".join(str(p) for p in loc[2:] if not isinstance(p, int))
            key = f"{label}.{sub}" if sub else label
            index = [p for p in loc[2:] if isinstance(p, int)]
            if sub.startswith(("optim.", "schedule.")):
                try:
                    spec = field_spec(sub)
                except ConfigError:
                    spec = None
        else:
            key = ".".join(str(p) for p in loc if not isinstance(p, int))
            index = [p for p in loc if isinstance(p, int)]
            spec = specs.get(key)
        if e["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown playground key")
            continue
        if index:  # an entry of a list field: say which one
            msg = f"entry {index[-1] + 1} ({e.get('input')!r}): {msg}"
        allowed = f" (allowed: {spec.range_text()})" if spec is not None else ""
        lines.append(f"{key}: {msg}{allowed}" if key else msg)
    return "; ".join(dict.fromkeys(lines))


def settings_specs() -> list[FieldSpec]:
    """FieldSpecs of the playground settings (the GUI generates its inputs from these)."""
    return list(_walk(PlaygroundSettings, "", ""))


def _parse_start(text: str) -> tuple[float, float]:
    try:
        parts = [float(p) for p in text.strip("[]() ").split(",")]
        if len(parts) != 2 or not all(math.isfinite(p) for p in parts):
            raise ValueError
    except ValueError:
        raise ConfigError(f"start: cannot read '{text}' (expected two numbers x,y)") from None
    return parts[0], parts[1]


def apply_update(data: dict[str, Any], labels: list[str], key: str, value: Any) -> None:
    """Apply one dotted-key update to a dumped PlaygroundConfig (see the module docstring)."""
    key = key.strip().removeprefix("playground.")
    if key == "start":
        data["start"] = list(_parse_start(value)) if isinstance(value, str) else value
        return
    specs = {s.key: s for s in settings_specs()}
    if key in specs:
        data[key] = parse_value(specs[key], value) if isinstance(value, str) else value
        return
    head, _, rest = key.partition(".")
    if head in ("optim", "schedule"):
        targets, sub = list(range(len(labels))), key
    elif head in labels and rest:
        targets = [labels.index(head)]
        sub = rest if rest.startswith(("optim.", "schedule.")) else f"optim.{rest}"
    else:
        known = ", ".join(list(specs) + ["start", "optim.*", "schedule.*"] + [f"{lb}.*" for lb in labels])
        raise ConfigError(f"unknown playground key '{key}' (known: {known})")
    spec = field_spec(sub)  # raises ConfigError for unknown optim/schedule fields
    try:
        parsed = parse_value(spec, value) if isinstance(value, str) else value
    except ConfigError as e:  # name the key as the playground knows it (adam.optim.lr)
        name = sub if len(targets) > 1 or head in ("optim", "schedule") else f"{head}.{sub}"
        raise ConfigError(str(e).replace(f"{spec.key}:", f"{name}:", 1)) from None
    section, field = sub.split(".", 1)
    for i in targets:
        data["racers"][i][section][field] = parsed


# The ScheduleConfig fields each schedule reads (engine.optim.schedules.LRSchedule), in the
# order an editor shows them. The race steps a schedule once per optimizer step (an epoch
# is a step), so "epochs" in the help texts are steps here.
SCHEDULE_PARAMS: dict[str, tuple[str, ...]] = {
    "constant": (),
    "step": ("step_size", "gamma"),
    "multistep": ("milestones", "gamma"),
    "exponential": ("gamma",),
    "cosine": ("t_max", "eta_min"),
    "cosine_restarts": ("t_0", "t_mult", "eta_min"),
    "cyclic": ("cyclic_mode", "cyclic_base_lr", "cyclic_max_lr", "cyclic_step_size", "cyclic_gamma"),
    "one_cycle": ("one_cycle_max_lr", "pct_start"),
    "warmup": ("warmup_steps", "warmup_start_factor"),
    "plateau": ("plateau_factor", "plateau_patience"),
}


def schedule_fields(schedule: ScheduleConfig) -> tuple[str, ...]:
    """The parameters the chosen schedule uses (cyclic_gamma only in cyclic's exp_range mode)."""
    fields = SCHEDULE_PARAMS[schedule.name]
    if schedule.name == "cyclic" and schedule.cyclic_mode != "exp_range":
        fields = tuple(f for f in fields if f != "cyclic_gamma")
    return fields


def racer_field_spec(key: str) -> FieldSpec:
    """The FieldSpec of a racer's optim.* / schedule.* field, with its help text in the
    playground's terms: a schedule steps once per optimizer step (epochs are steps) and the
    plateau schedule watches the racer's own loss."""
    spec = field_spec(key)
    if not key.startswith("schedule."):
        return spec
    text = spec.help.replace("epochs", "steps").replace("epoch", "step").replace("val loss", "the racer's loss")
    return dataclasses.replace(spec, help=text)


def suggested_lr(function: str, optimizer: str) -> float:
    """A learning rate that works on this surface: the function's SGD or adaptive rate;
    Adagrad gets 10x the adaptive rate (its steps only shrink, so it starts larger, as
    the usual defaults do: 0.01 for Adagrad vs 0.001 for Adam)."""
    fn = get_function(function)
    if optimizer == "adagrad":
        return min(10.0, 10.0 * fn.lr_adaptive)
    return fn.lr_adaptive if optimizer in ADAPTIVE else fn.lr_sgd


def default_racers(function: str, names: list[str]) -> list[Racer]:
    """Racers for optimizer names, with the function's suggested learning rates and distinct colours."""
    get_function(function)
    racers: list[Racer] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(names):
        name = raw.strip().lower()
        if name not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer '{raw}' (known: {', '.join(OPTIMIZERS)})")
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}-{seen[name]}"
        lr = suggested_lr(function, name)
        racers.append(Racer(label=label, color=PALETTE[i % len(PALETTE)], optim=OptimConfig(name=name, lr=lr)))
    if len(racers) > MAX_RACERS:
        raise ConfigError(f"at most {MAX_RACERS} racers, got {len(racers)}")
    return racers


def make_config(
    function: str = "rosenbrock", optimizers: list[str] | None = None, updates: dict[str, Any] | None = None
) -> PlaygroundConfig:
    """A validated PlaygroundConfig from a function name, optimizer names and dotted-key updates."""
    if function not in FUNCTIONS:
        raise ConfigError(f"unknown function '{function}' (known: {', '.join(FUNCTIONS)})")
    names = optimizers if optimizers is not None else ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
    cfg = validate_playground(
        {"function": function, "racers": [r.model_dump(mode="json") for r in default_racers(function, names)]}
    )
    return cfg.with_updates(updates or {})
