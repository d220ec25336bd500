"""What a comparison is: a base config plus named variants, each a set of dotted overrides.

Variants keep the base's seed unless they override it, so they start from the same
initial weights (when the architecture and init are the same) and see the same
minibatches in the same order.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from engine.config import ConfigError, ExperimentConfig, field_spec, parse_value

MAX_VARIANTS = 64


@dataclass
class Variant:
    """One run of a comparison: a unique name and the dotted overrides applied to the base."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "overrides": dict(self.overrides)}


@dataclass
class ComparisonSpec:
    """A base config and its variants; `configs()` validates every variant."""

    base: ExperimentConfig
    variants: list[Variant] = field(default_factory=list)

    def config_of(self, variant: Variant) -> ExperimentConfig:
        """The variant's validated config; ConfigError names the variant and the field."""
        try:
            return self.base.with_updates(variant.overrides)
        except ConfigError as e:
            raise ConfigError(f"variant '{variant.name}': {e}") from None

    def configs(self) -> list[tuple[str, ExperimentConfig]]:
        names = [v.name for v in self.variants]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ConfigError(f"variant names must be unique (repeated: {', '.join(sorted(dup))})")
        return [(v.name, self.config_of(v)) for v in self.variants]

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base.model_dump(mode="json"), "variants": [v.to_json() for v in self.variants]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ComparisonSpec:
        try:
            base = ExperimentConfig.from_json(json.dumps(data["base"])) if data.get("base") else ExperimentConfig()
            variants = [Variant(str(v["name"]), dict(v.get("overrides", {}))) for v in data.get("variants", [])]
        except (KeyError, TypeError, AttributeError) as e:
            raise ConfigError(f"malformed comparison ({e})") from None
        return cls(base, variants)


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return ",".join(_fmt_value(x) for x in v)
    return str(v)


def parse_vary(items: list[str]) -> list[tuple[str, list[Any]]]:
    """`KEY=V1,V2,...` strings → [(key, [parsed values])]; ConfigError names the bad item.

    List-valued fields (e.g. model.hidden) take `;` between alternatives: `model.hidden=64;32,32`."""
    out: list[tuple[str, list[Any]]] = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--vary '{item}': expected KEY=V1,V2,...")
        key, text = item.split("=", 1)
        key = key.strip()
        spec = field_spec(key)  # raises on unknown keys
        is_list = spec.is_list
        parts = [p.strip() for p in (text.split(";") if is_list else text.split(","))]
        if not parts or any(p == "" for p in parts):
            raise ConfigError(f"--vary '{item}': empty value")
        values = []
        for p in parts:
            try:
                values.append(parse_value(spec, p))
            except ConfigError as e:
                raise ConfigError(f"--vary {e}") from None
        if any(key == k for k, _ in out):
            raise ConfigError(f"--vary {key} given twice")
        out.append((key, values))
    return out


def grid_variants(vary: list[tuple[str, list[Any]]]) -> list[Variant]:
    """The Cartesian product of the varied values, named like `optim.name=adam, optim.lr=0.01`."""
    if not vary:
        return [Variant("base", {})]
    keys = [k for k, _ in vary]
    combos = list(itertools.product(*[vals for _, vals in vary]))
    if len(combos) > MAX_VARIANTS:
        raise ConfigError(f"{len(combos)} variants: at most {MAX_VARIANTS} runs in one comparison")
    short = {
        k: (k.rsplit(".", 1)[-1] if sum(x.rsplit(".", 1)[-1] == k.rsplit(".", 1)[-1] for x in keys) == 1 else k)
        for k in keys
    }
    out = []
    for combo in combos:
        name = " ".join(
            _fmt_value(v) if len(keys) == 1 and keys[0] == "optim.name" else f"{short[k]}={_fmt_value(v)}"
            for k, v in zip(keys, combo)
        )
        out.append(Variant(name, dict(zip(keys, combo))))
    return out


def optimizer_variants(names: list[str]) -> list[Variant]:
    """One variant per optimizer (the "Compare optimizers" action)."""
    return [Variant(n, {"optim.name": n}) for n in names]


def flatten_config(cfg: ExperimentConfig) -> dict[str, Any]:
    """Every field as a dotted key → JSON value."""
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}." if isinstance(v, dict) else f"{prefix}{k}")
        else:
            out[prefix] = node

    for k, v in cfg.model_dump(mode="json").items():
        walk(v, f"{k}.") if isinstance(v, dict) else out.__setitem__(k, v)
    return out


def config_differences(configs: list[ExperimentConfig]) -> dict[str, list[Any]]:
    """Dotted keys whose values are not the same in all configs → the value in each."""
    flats = [flatten_config(c) for c in configs]
    keys = sorted(set().union(*flats)) if flats else []
    return {k: [f.get(k) for f in flats] for k in keys if any(f.get(k) != flats[0].get(k) for f in flats[1:])}
