"""The composition root: which features a run gets, in which order, and the run built with them.

Each feature is a `Feature` record: its name, whether a config (and its data) enables it,
how its hook is built, and its place in the hook order. `FEATURES` is the registry;
`register` adds one. engine/train knows none of them: a Trainer gets its hooks from
`build_hooks` through `build_trainer`.

The order is part of the contract (tested): hooks run in it at every phase. The probes
come first because they publish their statistics (RunContext.shared["probes"]) in
after_step for the diagnostics to read in the same step; early stopping restores the best
weights at its epoch end before the features after it (landscape, batch norm, decision
boundary) look at the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.batchnorm import BatchNormProbe
from engine.boundary import DecisionBoundaryHook
from engine.config import ExperimentConfig
from engine.data import DataBundle
from engine.diagnostics import DiagnosticsHook
from engine.events import Event
from engine.gradnoise import GradientNoiseHook
from engine.landscape.hook import LandscapeHook
from engine.metrics import MetricsHook
from engine.network import NetworkViewHook
from engine.probes import ProbeHook
from engine.regularization import EarlyStoppingHook, PenaltyHook
from engine.train.hooks import TrainerHook
from engine.train.trainer import Trainer
from engine.updates.hook import UpdateHook


@dataclass(frozen=True)
class Feature:
    """A feature of a run: `enabled(config, data)` says whether a run has it, `build(config,
    data)` makes its hook, and hooks run in ascending `order` (ties: registration order)."""

    name: str
    order: int
    enabled: Callable[[ExperimentConfig, DataBundle], bool]
    build: Callable[[ExperimentConfig, DataBundle], TrainerHook]


FEATURES: list[Feature] = [
    Feature("probes", 10, lambda c, d: c.probes.enabled, lambda c, d: ProbeHook(c.probes)),
    Feature("updates", 15, lambda c, d: c.probes.enabled and c.probes.updates, lambda c, d: UpdateHook(c.probes)),
    Feature("diagnostics", 20, lambda c, d: c.diagnostics.enabled, lambda c, d: DiagnosticsHook(c.diagnostics)),
    Feature("metrics", 30, lambda c, d: c.metrics.enabled, lambda c, d: MetricsHook(c.metrics)),
    Feature("penalty", 40, lambda c, d: c.reg.l2 > 0 or c.reg.l1 > 0, lambda c, d: PenaltyHook(c.reg.l2, c.reg.l1)),
    Feature(
        "early_stopping",
        50,
        lambda c, d: c.reg.early_stopping,
        lambda c, d: EarlyStoppingHook(c.reg.patience, c.reg.min_delta),
    ),
    Feature("batchnorm", 60, lambda c, d: c.model.uses_batch_norm(), lambda c, d: BatchNormProbe()),
    Feature("decision_boundary", 70, lambda c, d: d.plane is not None, lambda c, d: DecisionBoundaryHook()),
    Feature(
        "gradient_noise",
        75,
        lambda c, d: c.probes.gradient_noise,
        lambda c, d: GradientNoiseHook(c.probes, c.seed),
    ),
    Feature(
        "landscape",
        80,
        lambda c, d: c.landscape.snapshots or bool(c.landscape.sharpness_every),
        lambda c, d: LandscapeHook(c.landscape),
    ),
    Feature("network", 90, lambda c, d: c.network.enabled, lambda c, d: NetworkViewHook(c.network)),
]


def register(feature: Feature) -> None:
    """Add a feature (a second one with the same name replaces the first)."""
    FEATURES[:] = [f for f in FEATURES if f.name != feature.name] + [feature]


def enabled_features(config: ExperimentConfig, data: DataBundle) -> list[Feature]:
    """The features a run of this config has, in hook order."""
    return sorted((f for f in FEATURES if f.enabled(config, data)), key=lambda f: f.order)


def build_hooks(config: ExperimentConfig, data: DataBundle) -> list[TrainerHook]:
    """The hooks of the features a run of this config has, in their declared order."""
    return [f.build(config, data) for f in enabled_features(config, data)]


def build_trainer(
    config: ExperimentConfig,
    emit: Callable[[Event], None] | None = None,
    run_id: str = "run",
    data: DataBundle | None = None,
) -> Trainer:
    """A Trainer with the features its config enables (what the app, the CLI and a
    comparison run)."""
    return Trainer(config, emit=emit, run_id=run_id, data=data, hooks=build_hooks)
