"""The lesson format: one TOML file per lesson, validated by these pydantic models.

A lesson names a claim of the lecture, sets up an experiment that shows it (one run, a
comparison of variants, a playground race, an explorer state or a coarse-to-fine search),
says which views to open and what to look for, and ends with a check: a named metric
computed from the result, a threshold, and the sentence shown with the number. `control`
is the same setup with the cause removed (the check must then fail); lessons whose check
compares with an independent computation have none. Unknown keys are errors everywhere.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SECTIONS: dict[int, str] = {
    1: "Architecture: activations",
    2: "Initialization",
    3: "Normalization",
    4: "Optimizers",
    5: "Regularization",
    6: "Data augmentation",
    7: "The training process",
}
"""The lecture's sections (LECTURE.md), the lesson list's headings."""

VIEWS: tuple[str, ...] = (
    "Network",
    "Curves",
    "Diagnostics",
    "Metrics",
    "Histograms",
    "Depth profile",
    "Gradients",
    "Gradient noise",
    "Batch norm",
    "Landscape",
    "Playground",
    "Data",
    "Decision boundary",
    "Augmentation",
    "Activations",
    "Init explorer",
    "Compare",
    "LR range test",
    "Search",
)
"""The main window's views by title (a desktop test keeps this list equal to the window's)."""

Scalar = bool | int | float | str
Value = Scalar | list[Scalar]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variant(Strict):
    """One run of a comparison: its name and the dotted config keys it changes."""

    name: str = Field(..., min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")
    set: dict[str, Value] = Field(default_factory=dict)


class Race(Strict):
    """A playground race: a surface, the racing optimizers and dotted playground keys
    (``condition``, ``sigma``, ``steps``, ``start``, ``<racer>.optim.lr`` ...)."""

    function: str
    optimizers: list[str] = Field(..., min_length=1, max_length=12)
    set: dict[str, Value] = Field(default_factory=dict)


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


class Explorer(Strict):
    """The Init explorer at a state: a `depth`×`width` network of the setup's config with
    this init and activation, looked at before any training on a batch of real data."""

    view: Literal["Init explorer"] = "Init explorer"
    init: str = "normal"
    activation: str = "tanh"
    depth: int = Field(5, ge=1, le=12)
    width: int = Field(256, ge=1, le=2048)
    init_std: float = Field(0.01, gt=0.0, le=10.0)
    init_constant: float = Field(0.1, ge=-10.0, le=10.0)
    data: str = "digits"

    @model_validator(mode="after")
    def _known_names(self) -> Explorer:
        from engine.config import ACTIVATIONS, INITS
        from engine.lessons.explorer import EXPLORER_DATASETS

        for key, value, known in (
            ("init", self.init, INITS),
            ("activation", self.activation, ACTIVATIONS),
            ("data", self.data, EXPLORER_DATASETS),
        ):
            if value not in known:
                raise ValueError(f"{key}: unknown {key} {value!r} (known: {', '.join(known)})")
        return self


class Search(Strict):
    """A coarse-to-fine search: a coarse round of `trials` over `space` (`KEY=SCALE:LOW:HIGH`
    items, as `descent search --space`), then a refined round of `refine_trials` in the space
    narrowed around the best `top` trials of the coarse round (`around = "worst"`: around the
    worst, the control that removes the cause)."""

    space: list[str] = Field(..., min_length=1, max_length=8)
    trials: int = Field(8, ge=2, le=200)
    refine_trials: int = Field(8, ge=1, le=200)
    top: int = Field(3, ge=1, le=50)
    around: Literal["best", "worst"] = "best"
    sampler: str = "random"


class Setup(Strict):
    """What the lesson runs: `run` (the config `set`), `compare` (the config `set` plus one
    run per variant, same seed: same init and batches), `playground` (a race), `explorer`
    (the Init explorer at a state, on the config `set`) or `search` (a coarse round, then a
    refined one, over the config `set`)."""

    kind: Literal["run", "compare", "playground", "explorer", "search"]
    set: dict[str, Value] = Field(default_factory=dict)
    variants: list[Variant] = Field(default_factory=list, max_length=8)
    race: Race | None = None
    explorer: Explorer | None = None
    search: Search | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> Setup:
        if self.kind == "compare" and len(self.variants) < 2:
            raise ValueError("a compare setup needs at least 2 variants")
        if self.kind != "compare" and self.variants:
            raise ValueError(f"variants are only for kind 'compare', not '{self.kind}'")
        for kind, table in (("playground", "race"), ("explorer", "explorer"), ("search", "search")):
            if self.kind == kind and getattr(self, table) is None:
                raise ValueError(f"{_a(kind)} {kind} setup needs a [setup.{table}] table")
            if self.kind != kind and getattr(self, table) is not None:
                raise ValueError(f"{_a(table)} {table} is only for kind '{kind}', not '{self.kind}'")
        names = [v.name for v in self.variants]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"variant names must be unique (repeated: {', '.join(dup)})")
        return self


class Change(Strict):
    """A change to the setup: dotted config keys for every run (`set`), per variant
    (`variants`: name → keys), race keys (`race`), explorer or search fields (`explorer`,
    `search`), check arguments (`check_args`)."""

    text: str = Field(..., min_length=1, max_length=400)
    set: dict[str, Value] = Field(default_factory=dict)
    variants: dict[str, dict[str, Value]] = Field(default_factory=dict)
    race: dict[str, Value] = Field(default_factory=dict)
    explorer: dict[str, Value] = Field(default_factory=dict)
    search: dict[str, Value] = Field(default_factory=dict)
    check_args: dict[str, Value] = Field(default_factory=dict)

    @property
    def runnable(self) -> bool:
        """Whether it changes what runs (not only its text)."""
        return bool(self.set or self.variants or self.race or self.explorer or self.search or self.check_args)


class Check(Strict):
    """A named metric of the result (engine.lessons.metrics), its arguments, the threshold
    (`above` or `below`) and the sentences shown with the number ({value} is replaced)."""

    metric: str
    args: dict[str, Value] = Field(default_factory=dict)
    above: float | None = None
    below: float | None = None
    say: str = Field(..., min_length=1, max_length=300)
    say_not: str = Field(..., min_length=1, max_length=300)
    control: Change | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> Check:
        if (self.above is None) == (self.below is None):
            raise ValueError("a check needs exactly one of 'above' or 'below'")
        return self

    def passed(self, value: float) -> bool:
        """Whether the value shows the claim (NaN never does)."""
        if self.above is not None:
            return bool(value > self.above)
        assert self.below is not None
        return bool(value < self.below)


class Lesson(Strict):
    id: str = Field(..., min_length=1, max_length=48, pattern=r"^[a-z0-9][a-z0-9\-]*$")
    title: str = Field(..., min_length=1, max_length=80)
    section: int = Field(..., description="Lecture section (1-7)")
    order: int = Field(0, ge=0, le=1000, description="Place within its section")
    summary: str = Field(..., min_length=1, max_length=140)
    explanation: str = Field(..., min_length=1, max_length=1500)
    setup: Setup
    views: list[str] = Field(..., min_length=1, max_length=4)
    look_for: list[str] = Field(..., min_length=2, max_length=4)
    now_try: Change | None = None
    check: Check

    @field_validator("section")
    @classmethod
    def _known_section(cls, v: int) -> int:
        if v not in SECTIONS:
            raise ValueError(f"section must be one of {', '.join(map(str, SECTIONS))}, got {v}")
        return v

    @field_validator("views")
    @classmethod
    def _known_views(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in VIEWS:
                raise ValueError(f"unknown view {name!r} (views: {', '.join(VIEWS)})")
        return v

    @property
    def section_title(self) -> str:
        return f"{self.section}. {SECTIONS[self.section]}"

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
