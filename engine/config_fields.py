"""How each config field is presented: its human label, whether it is an advanced setting,
and when it applies (e.g. ``optim.betas`` only to Adam/AdamW).

One table keyed by the config's dotted keys, read by the GUI panel; a test checks that
every field of engine.config has an entry and that every rule names real keys and choices,
so a new field gets its label here the same way. A field that does not apply to the
current config has no effect on the run (the engine ignores it), so the panel hides it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.config import SYNTHETIC_2D, ExperimentConfig, field_specs


@dataclass(frozen=True)
class Rule:
    """A field applies when every (key, allowed values) condition holds, and `test` (if any)
    says so. `why` is the sentence a hidden field's tooltip gives."""

    conditions: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    test: Callable[[ExperimentConfig], bool] | None = None
    why: str = ""

    def holds(self, config: ExperimentConfig) -> bool:
        if any(config.get(key) not in allowed for key, allowed in self.conditions):
            return False
        return self.test is None or self.test(config)

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys whose values decide this rule (the test's keys are not listed)."""
        return tuple(key for key, _ in self.conditions)


def when(key: str, *values: Any) -> Rule:
    """Applies when `key` has one of `values`."""
    shown = "|".join(str(v).lower() if isinstance(v, bool) else str(v) for v in values)
    return Rule(((key, values),), why=f"applies when {key} is {shown}")


def positive(key: str) -> Rule:
    """Applies when the number at `key` is above zero (e.g. an augmentation's probability)."""
    return Rule(test=lambda c: float(c.get(key)) > 0, why=f"applies when {key} is above 0")


BATCH_NORM_ON = Rule(test=lambda c: c.model.uses_batch_norm(), why="applies when batch norm is on (model.batch_norm)")


@dataclass(frozen=True)
class FieldDisplay:
    label: str
    advanced: bool = False  # under the section's folded "Advanced"
    applies: Rule | None = None  # None: always


def _f(label: str, applies: Rule | None = None, advanced: bool = False) -> FieldDisplay:
    return FieldDisplay(label, advanced, applies)


def _a(label: str, applies: Rule | None = None) -> FieldDisplay:
    return FieldDisplay(label, True, applies)


FIELDS: dict[str, FieldDisplay] = {
    # -- data
    "data.name": _f("Data set"),
    "data.noise": _f("Noise", when("data.name", *SYNTHETIC_2D)),
    "data.n_samples": _f("Samples", when("data.name", *SYNTHETIC_2D)),
    "data.n_classes": _f("Classes", when("data.name", "spiral", "blobs")),
    "data.path": _f("File or folder", when("data.name", "csv", "npz", "image_folder")),
    "data.label_column": _f("Label column", when("data.name", "csv")),
    "data.image_size": _f("Image size (px)", when("data.name", "image_folder")),
    "data.grayscale": _f("Grayscale", when("data.name", "image_folder")),
    "data.features": _f("Input features", when("data.name", *SYNTHETIC_2D)),
    "data.seed": _a("Data seed"),
    "data.test_fraction": _a("Test fraction"),
    "data.preprocess": _f("Preprocessing"),
    "data.whiten_eps": _a("Whitening epsilon", when("data.preprocess", "pca_whiten", "zca_whiten")),
    # -- model
    "model.hidden": _f("Hidden layers"),
    "model.activation": _f("Activation"),
    "model.activation_layers": _a("Activation per layer"),
    "model.leaky_slope": _f("Leaky slope", when("model.activation", "leaky_relu")),
    "model.prelu_init": _f("PReLU initial slope", when("model.activation", "prelu")),
    "model.init": _f("Initialization"),
    "model.init_std": _f("Init scale", when("model.init", "normal", "uniform")),
    "model.init_constant": _f("Init constant", when("model.init", "constant")),
    "model.bias_init": _a("Hidden bias init"),
    "model.output_init": _a("Output layer init"),
    "model.arch": _f("Architecture"),
    "model.conv_channels": _f("Conv channels", when("model.arch", "cnn")),
    "model.batch_norm": _f("Batch norm"),
    "model.batch_norm_layers": _a("Batch norm per layer"),
    "model.bn_momentum": _a("BN momentum", BATCH_NORM_ON),
    "model.bn_eps": _a("BN epsilon", BATCH_NORM_ON),
    "model.dropout": _f("Dropout"),
    "model.dropout_layers": _a("Dropout per layer"),
    # -- optimizer
    "optim.name": _f("Optimizer"),
    "optim.lr": _f("Learning rate"),
    "optim.momentum": _f("Momentum", when("optim.name", "momentum", "nesterov")),
    "optim.dampening": _a("Dampening", when("optim.name", "momentum")),
    "optim.betas": _f("Betas (β1, β2)", when("optim.name", "adam", "adamw")),
    "optim.eps": _a("Epsilon", when("optim.name", "adagrad", "rmsprop", "adam", "adamw")),
    "optim.weight_decay": _f("Weight decay"),
    "optim.lr_decay": _a("Learning-rate decay", when("optim.name", "adagrad")),
    "optim.initial_accumulator": _a("Initial accumulator", when("optim.name", "adagrad")),
    "optim.alpha": _f("Smoothing (alpha)", when("optim.name", "rmsprop")),
    "optim.rmsprop_momentum": _a("RMSprop momentum", when("optim.name", "rmsprop")),
    "optim.centered": _a("Centered", when("optim.name", "rmsprop")),
    "optim.amsgrad": _a("AMSGrad", when("optim.name", "adam", "adamw")),
    # -- schedule
    "schedule.name": _f("Schedule"),
    "schedule.step_size": _f("Step size (epochs)", when("schedule.name", "step")),
    "schedule.gamma": _f("Decay factor (gamma)", when("schedule.name", "step", "multistep", "exponential")),
    "schedule.milestones": _f("Milestones (epochs)", when("schedule.name", "multistep")),
    "schedule.t_max": _f("Half period (epochs)", when("schedule.name", "cosine")),
    "schedule.t_0": _f("First period (epochs)", when("schedule.name", "cosine_restarts")),
    "schedule.t_mult": _f("Period growth", when("schedule.name", "cosine_restarts")),
    "schedule.eta_min": _f("Lowest learning rate", when("schedule.name", "cosine", "cosine_restarts")),
    "schedule.cyclic_base_lr": _f("Lower learning rate", when("schedule.name", "cyclic")),
    "schedule.cyclic_max_lr": _f("Upper learning rate", when("schedule.name", "cyclic")),
    "schedule.cyclic_step_size": _f("Half-cycle (steps)", when("schedule.name", "cyclic")),
    "schedule.cyclic_mode": _f("Cycle mode", when("schedule.name", "cyclic")),
    "schedule.cyclic_gamma": _a(
        "Amplitude decay", Rule((("schedule.name", ("cyclic",)), ("schedule.cyclic_mode", ("exp_range",))))
    ),
    "schedule.one_cycle_max_lr": _f("Peak learning rate", when("schedule.name", "one_cycle")),
    "schedule.pct_start": _f("Rising fraction", when("schedule.name", "one_cycle")),
    "schedule.warmup_steps": _f("Warm-up steps", when("schedule.name", "warmup")),
    "schedule.warmup_start_factor": _f("Warm-up start factor", when("schedule.name", "warmup")),
    "schedule.plateau_factor": _f("Decay factor", when("schedule.name", "plateau")),
    "schedule.plateau_patience": _f("Patience (epochs)", when("schedule.name", "plateau")),
    # -- training
    "train.epochs": _f("Epochs"),
    "train.batch_size": _f("Batch size"),
    "train.val_fraction": _f("Validation fraction"),
    "train.report_every": _a("Report every (steps)"),
    "train.threads": _a("CPU threads"),
    # -- regularization
    "reg.l2": _f("L2 penalty"),
    "reg.l1": _f("L1 penalty"),
    "reg.early_stopping": _f("Early stopping"),
    "reg.patience": _f("Patience (epochs)", when("reg.early_stopping", True)),
    "reg.min_delta": _a("Smallest improvement", when("reg.early_stopping", True)),
    # -- augmentation
    "augment.hflip_p": _f("Flip probability"),
    "augment.crop_p": _f("Crop probability"),
    "augment.crop_padding": _f("Crop padding (px)", positive("augment.crop_p")),
    "augment.affine_p": _f("Rotate/scale probability"),
    "augment.rotate_degrees": _f("Largest rotation (°)", positive("augment.affine_p")),
    "augment.scale": _f("Largest zoom", positive("augment.affine_p")),
    "augment.jitter_p": _f("Jitter probability"),
    "augment.brightness": _f("Brightness", positive("augment.jitter_p")),
    "augment.contrast": _f("Contrast", positive("augment.jitter_p")),
    "augment.noise_p": _f("Noise probability"),
    "augment.noise_std": _f("Noise std", positive("augment.noise_p")),
    # -- landscape
    "landscape.snapshots": _f("Record trajectory"),
    "landscape.snapshot_every": _f("Snapshot every (steps)", when("landscape.snapshots", True)),
    "landscape.max_snapshots": _a("Snapshots kept", when("landscape.snapshots", True)),
    "landscape.directions": _f("Plane"),
    "landscape.grid": _f("Grid points per axis"),
    "landscape.span": _f("Span"),
    "landscape.eval_samples": _a("Evaluation samples"),
    "landscape.zero_bias_directions": _a("Zero bias directions", when("landscape.directions", "random")),
    "landscape.refresh_epochs": _f("Refresh every (epochs)"),
    "landscape.sharpness_every": _f("Sharpness every (epochs)"),
    "landscape.sharpness_iters": _a("Sharpness iterations"),
    # -- probes
    "probes.enabled": _f("Record probes"),
    "probes.every": _f("Probe every (steps)", when("probes.enabled", True)),
    "probes.bins": _a("Histogram bins", when("probes.enabled", True)),
    "probes.batch_size": _a("Probe batch size", when("probes.enabled", True)),
    "probes.gradients": _f("Gradients too", when("probes.enabled", True)),
    "probes.max_snapshots": _a("Probes kept", when("probes.enabled", True)),
    "probes.updates": _f("Update size and optimizer state", when("probes.enabled", True)),
    "probes.gradient_noise": _f("Gradient noise"),
    "probes.gradient_noise_every": _a("Gradient noise every (steps)", when("probes.gradient_noise", True)),
    "probes.gradient_noise_samples": _a("Gradient noise samples", when("probes.gradient_noise", True)),
    "probes.gradient_noise_batch_sizes": _a("Gradient noise batch sizes", when("probes.gradient_noise", True)),
    "probes.gradient_noise_draws": _a("Gradient noise draws", when("probes.gradient_noise", True)),
    # -- diagnostics
    "diagnostics.enabled": _f("Run checks"),
    "diagnostics.initial_loss_tolerance": _a("Initial-loss tolerance", when("diagnostics.enabled", True)),
    "diagnostics.window": _a("Trend window (epochs)", when("diagnostics.enabled", True)),
    "diagnostics.slow_loss_epochs": _a("Slow-loss epochs", when("diagnostics.enabled", True)),
    "diagnostics.slow_loss_steps": _a("Slow-loss steps", when("diagnostics.enabled", True)),
    "diagnostics.slow_loss_drop": _a("Slow-loss drop", when("diagnostics.enabled", True)),
    "diagnostics.saturation_warn": _a("Saturation warning", when("diagnostics.enabled", True)),
    "diagnostics.dead_warn": _a("Dead-unit warning", when("diagnostics.enabled", True)),
    # -- metrics
    "metrics.enabled": _f("Compute metrics"),
    "metrics.max_samples": _a("Samples", when("metrics.enabled", True)),
    "metrics.every": _f("Every (epochs)", when("metrics.enabled", True)),
    "metrics.min_steps": _a("Fewest steps between", when("metrics.enabled", True)),
    "metrics.curve_points": _a("Points per curve", when("metrics.enabled", True)),
    # -- network view
    "network.enabled": _f("Neuron maps"),
    "network.refresh_hz": _a("Refreshes per second", when("network.enabled", True)),
    "network.resolution": _a("Map resolution", when("network.enabled", True)),
    "network.samples": _a("Samples (image data)", when("network.enabled", True)),
    "network.max_units": _a("Units per layer", when("network.enabled", True)),
    # -- run
    "seed": _f("Seed"),
    "device": _f("Device"),
}


def display_of(key: str) -> FieldDisplay:
    """The presentation of a field; a field missing from the table gets its key's last part
    as its label (the test that every field is listed keeps that from shipping)."""
    return FIELDS.get(key) or FieldDisplay(key.split(".")[-1].replace("_", " ").capitalize())


def applies(key: str, config: ExperimentConfig) -> bool:
    """Whether the field has an effect on a run of this config."""
    rule = display_of(key).applies
    return rule is None or rule.holds(config)


def unlisted_fields() -> list[str]:
    """Config fields with no entry in FIELDS (should be none)."""
    return [s.key for s in field_specs() if s.key not in FIELDS]
