"""The experiment configuration: one pydantic model tree, the single source of truth.

Every field has a type, a range, a default and a one-line help text; the GUI panel is
generated from them, and the CLI (`--set a.b=value`) and session files use the same
dotted keys (``optim.lr``, ``model.hidden``...).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.safe_json import loads_limited

DatasetName = Literal[
    "spiral",
    "moons",
    "circles",
    "xor",
    "blobs",
    "digits",
    "breast_cancer",
    "wine",
    "iris",
    "csv",
    "npz",
    "image_folder",
]
DATASETS: tuple[str, ...] = get_args(DatasetName)
SYNTHETIC_2D: tuple[str, ...] = ("spiral", "moons", "circles", "xor", "blobs")
"""The 2D sets generated from data.noise and data.n_samples."""
Preprocessing = Literal["auto", "none", "standardize", "pca_whiten", "zca_whiten"]
PREPROCESSING: tuple[str, ...] = get_args(Preprocessing)
ActivationName = Literal["sigmoid", "tanh", "relu", "leaky_relu", "prelu"]
ACTIVATIONS: tuple[str, ...] = get_args(ActivationName)
BatchNormPlacement = Literal["off", "before", "after"]
BN_PLACEMENTS: tuple[str, ...] = get_args(BatchNormPlacement)
InitName = Literal["zeros", "constant", "normal", "uniform", "xavier_uniform", "xavier_normal", "kaiming"]
INITS: tuple[str, ...] = get_args(InitName)
OptimizerName = Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)
ScheduleName = Literal[
    "constant",
    "step",
    "multistep",
    "exponential",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "one_cycle",
    "warmup",
    "plateau",
]
SCHEDULES: tuple[str, ...] = get_args(ScheduleName)
InputFeature = Literal["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2"]
INPUT_FEATURES: tuple[str, ...] = get_args(InputFeature)
DEFAULT_FEATURES: tuple[InputFeature, ...] = ("x1", "x2")


class ConfigError(ValueError):
    """A configuration problem, with a message that names the field and what is allowed."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Section):
    name: DatasetName = Field("spiral", description="Data set: 2D synthetic sets or scikit-learn's shipped sets")
    noise: float = Field(0.15, ge=0.0, le=2.0, description="Noise added to the synthetic 2D sets (std, in data units)")
    n_samples: int = Field(1000, ge=20, le=200_000, description="Number of points generated for the synthetic 2D sets")
    n_classes: int = Field(
        3, ge=2, le=10, description="Number of classes (spiral arms, blobs); moons/circles/XOR are binary"
    )
    path: str = Field(
        "",
        max_length=4096,
        description="csv/npz: the file; image_folder: a folder with one subfolder of images per class",
        json_schema_extra={"widget": "path"},
    )
    label_column: str = Field("label", max_length=256, description="csv: name of the column holding the class labels")
    image_size: int = Field(
        16, ge=4, le=128, description="image_folder: images are resized to this many pixels per side"
    )
    grayscale: bool = Field(True, description="image_folder: convert images to one gray channel (else RGB)")
    test_fraction: float = Field(
        0.0, ge=0.0, le=0.5, description="Fraction held out as a test set, never used for training or tuning (0 = none)"
    )
    preprocess: Preprocessing = Field(
        "auto",
        description=(
            "Input preprocessing fitted on the training split: auto = standardize 2D and tabular sets, none for images"
        ),
    )
    whiten_eps: float = Field(
        1e-8,
        ge=0.0,
        le=1.0,
        description=(
            "Whitening: added to each covariance eigenvalue before dividing by its root (regularizes tiny directions)"
        ),
    )
    features: list[InputFeature] = Field(
        default_factory=lambda: list(DEFAULT_FEATURES),
        max_length=len(INPUT_FEATURES),
        description="2D sets: the model's inputs, computed from the point (x1, x2) before preprocessing",
    )
    seed: int = Field(
        -1,
        ge=-1,
        le=2**31 - 1,
        description="Seed of the data sample (generation and splits), apart from the model's; -1 = the run's seed",
    )

    @field_validator("features")
    @classmethod
    def _features_distinct(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError(f"choose at least one input feature ({','.join(INPUT_FEATURES)})")
        twice = [f for i, f in enumerate(v) if f in v[:i]]
        if twice:
            raise ValueError(f"input feature {twice[0]} is listed twice")
        return v

    def sample_seed(self, run_seed: int) -> int:
        """The seed that draws the data sample: data.seed, or the run's seed when it is -1."""
        return run_seed if self.seed < 0 else self.seed


class ModelConfig(Section):
    hidden: list[int] = Field(
        default_factory=lambda: [32, 32],
        min_length=0,
        max_length=16,
        description="Widths of the hidden layers, input to output (e.g. 64,64)",
    )
    activation: ActivationName = Field(
        "relu", description="Non-linearity after each hidden layer (activation_layers sets the dense layers one by one)"
    )
    activation_layers: list[ActivationName] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "Activation per hidden dense layer, one per model.hidden entry (e.g. tanh,relu); "
            "empty = model.activation in every layer"
        ),
        json_schema_extra={"placeholder": "empty = model.activation in every layer"},
    )
    leaky_slope: float = Field(0.01, ge=0.0, le=1.0, description="Fixed negative slope of leaky ReLU")
    prelu_init: float = Field(0.25, ge=0.0, le=1.0, description="Initial (learnable) negative slope of PReLU")
    init: InitName = Field("kaiming", description="Weight initialization scheme of the linear layers")
    init_std: float = Field(0.01, gt=0.0, le=10.0, description="Std of 'normal' init and half-width of 'uniform' init")
    init_constant: float = Field(0.1, ge=-10.0, le=10.0, description="Value of every weight under 'constant' init")
    bias_init: float = Field(
        0.0,
        ge=-10.0,
        le=10.0,
        description="Initial value of every hidden bias (negative: ReLUs start dead); the output bias starts at 0",
    )
    output_init: Literal["small", "same"] = Field(
        "small",
        description=(
            "Output layer: small = N(0, (0.03/√fan_in)²) so the initial logits are near 0 and the loss ≈ ln C; "
            "same = model.init as in the hidden layers (zeros/constant always apply to every layer)"
        ),
    )
    arch: Literal["mlp", "cnn"] = Field(
        "mlp",
        description="mlp: dense layers; cnn: conv→[BN]→activation→pool blocks, then the dense layers (image data)",
    )
    conv_channels: list[int] = Field(
        default_factory=lambda: [16, 32],
        min_length=1,
        max_length=6,
        description="cnn: output channels of each conv block (3×3 conv, 2×2 max-pool)",
    )
    batch_norm: BatchNormPlacement = Field(
        "off",
        description=(
            "Batch norm in every hidden layer and conv block, "
            "before or after the activation (batch_norm_layers sets the dense layers one by one)"
        ),
    )
    batch_norm_layers: list[BatchNormPlacement] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "Batch norm per hidden dense layer: off|before|after, one per model.hidden entry "
            "(e.g. before,off); empty = model.batch_norm in every layer"
        ),
        json_schema_extra={"placeholder": "empty = model.batch_norm in every layer"},
    )
    bn_momentum: float = Field(
        0.1, gt=0.0, le=1.0, description="Batch norm: weight of the new batch in the running mean/variance estimates"
    )
    bn_eps: float = Field(
        1e-5, gt=0.0, le=1.0, description="Batch norm: added to the variance before dividing by its root"
    )
    dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description=(
            "Drop probability after every hidden layer and conv block "
            "(inverted dropout: kept units scaled by 1/(1-p) in training)"
        ),
    )
    dropout_layers: list[Annotated[float, Ge(0.0), Lt(1.0)]] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "Drop probability per hidden dense layer, one per model.hidden entry "
            "(e.g. 0.5,0); empty = model.dropout in every layer"
        ),
        json_schema_extra={"placeholder": "empty = model.dropout in every layer"},
    )

    @field_validator("conv_channels")
    @classmethod
    def _channels_in_range(cls, v: list[int]) -> list[int]:
        for c in v:
            if not 1 <= c <= 512:
                raise ValueError(f"each conv channel count must be in [1, 512], got {c}")
        return v

    @field_validator("hidden")
    @classmethod
    def _widths_in_range(cls, v: list[int]) -> list[int]:
        for w in v:
            if not 1 <= w <= 4096:
                raise ValueError(f"each hidden width must be in [1, 4096], got {w}")
        return v

    @model_validator(mode="after")
    def _per_layer_lengths(self) -> ModelConfig:
        for key, fallback in (
            ("batch_norm_layers", "batch_norm"),
            ("dropout_layers", "dropout"),
            ("activation_layers", "activation"),
        ):
            values = getattr(self, key)
            if values and len(values) != len(self.hidden):
                shown = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)
                raise ValueError(
                    f"model.{key}: expected {len(self.hidden)} value{'s' if len(self.hidden) != 1 else ''}, "
                    f"one per hidden layer of model.hidden "
                    f"({','.join(map(str, self.hidden)) or 'none'}), got {len(values)} ({shown}); "
                    f"leave it empty to use model.{fallback} in every layer"
                )
        return self

    def batch_norm_per_layer(self) -> list[str]:
        """Batch-norm placement (off|before|after) of each hidden dense layer, input to output."""
        return list(self.batch_norm_layers) if self.batch_norm_layers else [self.batch_norm] * len(self.hidden)

    def activation_per_layer(self) -> list[str]:
        """The activation after each hidden dense layer, input to output."""
        return list(self.activation_layers) if self.activation_layers else [self.activation] * len(self.hidden)

    def dropout_per_layer(self) -> list[float]:
        """Drop probability after each hidden dense layer, input to output."""
        return list(self.dropout_layers) if self.dropout_layers else [self.dropout] * len(self.hidden)

    def uses_batch_norm(self) -> bool:
        """Whether the built network has any batch-norm layer (a dense layer or, for the CNN, a conv block)."""
        conv = self.arch == "cnn" and self.batch_norm != "off"
        return conv or any(p != "off" for p in self.batch_norm_per_layer())


class OptimConfig(Section):
    name: OptimizerName = Field("adam", description="Optimizer (torch.optim); momentum/nesterov are SGD variants")
    lr: float = Field(0.01, gt=0.0, le=10.0, description="Learning rate (step size)")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="Momentum coefficient (momentum, nesterov, rmsprop)")
    dampening: float = Field(0.0, ge=0.0, lt=1.0, description="SGD dampening of the momentum buffer (0 for nesterov)")
    betas: tuple[float, float] = Field(
        (0.9, 0.999), description="Adam/AdamW decay rates of the first and second moments, each in [0, 1)"
    )
    eps: float = Field(1e-8, gt=0.0, le=1.0, description="Term added to the denominator for numerical stability")
    weight_decay: float = Field(0.0, ge=0.0, le=1.0, description="L2 weight decay (decoupled for AdamW)")
    lr_decay: float = Field(0.0, ge=0.0, le=1.0, description="Adagrad learning-rate decay")
    initial_accumulator: float = Field(
        0.0, ge=0.0, le=10.0, description="Adagrad initial value of the squared-gradient sum"
    )
    alpha: float = Field(0.99, ge=0.0, lt=1.0, description="RMSprop smoothing constant of the squared-gradient average")
    rmsprop_momentum: float = Field(
        0.0, ge=0.0, lt=1.0, description="RMSprop momentum (0 = plain RMSProp as in the lecture)"
    )
    centered: bool = Field(False, description="RMSprop: normalize by the gradient's estimated variance")
    amsgrad: bool = Field(False, description="Adam/AdamW: use the AMSGrad variant")

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        for b in v:
            if not 0.0 <= b < 1.0:
                raise ValueError(f"each beta must be in [0, 1), got {b}")
        return v


class ScheduleConfig(Section):
    name: ScheduleName = Field("constant", description="Learning-rate schedule (torch.optim.lr_scheduler)")
    step_size: int = Field(10, ge=1, le=100_000, description="step: epochs between decays")
    gamma: float = Field(0.5, gt=0.0, le=1.0, description="step/multistep/exponential: decay factor")
    milestones: list[int] = Field(
        default_factory=lambda: [30, 60], description="multistep: epochs at which the lr decays"
    )
    t_max: int = Field(50, ge=1, le=100_000, description="cosine: epochs of one half period")
    t_0: int = Field(10, ge=1, le=100_000, description="cosine_restarts: epochs of the first period")
    t_mult: int = Field(2, ge=1, le=10, description="cosine_restarts: period growth factor after each restart")
    eta_min: float = Field(0.0, ge=0.0, le=10.0, description="cosine/cosine_restarts: lowest learning rate")
    cyclic_base_lr: float = Field(0.001, gt=0.0, le=10.0, description="cyclic: lower learning-rate bound")
    cyclic_max_lr: float = Field(0.1, gt=0.0, le=10.0, description="cyclic: upper learning-rate bound")
    cyclic_step_size: int = Field(
        200, ge=1, le=1_000_000, description="cyclic: steps in the increasing half of a cycle"
    )
    cyclic_mode: Literal["triangular", "triangular2", "exp_range"] = Field(
        "triangular", description="cyclic: amplitude policy"
    )
    cyclic_gamma: float = Field(0.999, gt=0.0, le=1.0, description="cyclic exp_range: amplitude decay per step")
    one_cycle_max_lr: float = Field(0.1, gt=0.0, le=10.0, description="one_cycle: peak learning rate")
    pct_start: float = Field(0.3, gt=0.0, lt=1.0, description="one_cycle: fraction of the run spent increasing the lr")
    warmup_steps: int = Field(200, ge=1, le=1_000_000, description="warmup: steps of the linear warm-up")
    warmup_start_factor: float = Field(0.01, gt=0.0, le=1.0, description="warmup: starting fraction of the lr")
    plateau_factor: float = Field(
        0.5, gt=0.0, lt=1.0, description="plateau: factor applied when val loss stops improving"
    )
    plateau_patience: int = Field(5, ge=0, le=10_000, description="plateau: epochs without improvement before decaying")

    @field_validator("milestones")
    @classmethod
    def _milestones_increasing(cls, v: list[int]) -> list[int]:
        if any(m < 1 for m in v) or any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError("milestones must be positive and strictly increasing")
        return v


class TrainConfig(Section):
    epochs: int = Field(100, ge=1, le=100_000, description="Number of passes over the training set")
    batch_size: int = Field(64, ge=1, le=65_536, description="Minibatch size")
    val_fraction: float = Field(0.2, ge=0.05, le=0.9, description="Fraction of the data held out for validation")
    report_every: int = Field(
        25, ge=1, le=10_000, description="Most steps between two reads of the per-step values (every step is kept)"
    )
    threads: int = Field(
        0, ge=0, le=256, description="CPU threads for torch (0 = auto: 1 for small models, torch's default otherwise)"
    )


class LandscapeConfig(Section):
    """Loss landscapes of the real network (issue 4): trajectory snapshots, surfaces, sharpness."""

    snapshots: bool = Field(
        True, description="Record the parameter trajectory (float32 copies on the CPU) for paths and PCA planes"
    )
    snapshot_every: int = Field(5, ge=1, le=100_000, description="Steps between two trajectory snapshots")
    max_snapshots: int = Field(
        400,
        ge=8,
        le=100_000,
        description="Snapshots kept; when full, every other one is dropped and the interval doubles",
    )
    directions: Literal["pca", "random", "init"] = Field(
        "pca",
        description=(
            "Plane: PCA of the trajectory, filter-normalized random, or init→current plus a random orthogonal direction"
        ),
    )
    grid: int = Field(31, ge=5, le=401, description="Grid points per axis of the loss surface (N×N evaluations)")
    span: float = Field(
        1.0,
        gt=0.0,
        le=100.0,
        description=(
            "Half-width of the grid: filter-normalized units (random) or multiples of the path's extent (pca/init)"
        ),
    )
    eval_samples: int = Field(
        512, ge=16, le=100_000, description="Validation samples in the fixed evaluation subset of surfaces and 1D plots"
    )
    zero_bias_directions: bool = Field(
        True, description="Random directions: zero the components of biases and batch-norm parameters (Li et al. 2018)"
    )
    refresh_epochs: int = Field(
        10,
        ge=0,
        le=100_000,
        description=(
            "Recompute the live surface every M epochs (0 = only on demand); the GUI waits at least "
            "2 s and 4× the last job's time between two, so the job never takes the training's core"
        ),
    )
    sharpness_every: int = Field(
        10,
        ge=0,
        le=100_000,
        description="Epochs between two top-Hessian-eigenvalue estimates on 256 training samples (0 = off)",
    )
    sharpness_iters: int = Field(
        10,
        ge=1,
        le=1000,
        description="Most power-iteration steps per sharpness estimate (warm-started, stops at 0.1% change)",
    )


class RegConfig(Section):
    """Regularization (lecture §5): explicit weight penalties and early stopping."""

    l2: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Explicit L2 penalty λ/2·Σw² added to the loss (unlike optim.weight_decay, Adam rescales it)",
    )
    l1: float = Field(
        0.0, ge=0.0, le=1.0, description="Explicit L1 penalty λ·Σ|w| added to the loss (drives weights to exactly zero)"
    )
    early_stopping: bool = Field(
        False, description="Stop when the validation loss stops improving and restore the best epoch's weights"
    )
    patience: int = Field(10, ge=1, le=10_000, description="Early stopping: epochs without improvement before stopping")
    min_delta: float = Field(
        0.0,
        ge=0.0,
        le=10.0,
        description="Early stopping: smallest decrease of the validation loss counted as an improvement",
    )


class AugmentConfig(Section):
    """Augmentation of image training batches (lecture §6), on the run's device, in this order."""

    hflip_p: float = Field(0.0, ge=0.0, le=1.0, description="Probability of a horizontal flip")
    crop_p: float = Field(0.0, ge=0.0, le=1.0, description="Probability of a random crop after zero padding (a shift)")
    crop_padding: int = Field(
        1, ge=1, le=32, description="Random crop: pixels of zero padding on each side (largest shift)"
    )
    affine_p: float = Field(0.0, ge=0.0, le=1.0, description="Probability of a random rotation/scaling")
    rotate_degrees: float = Field(
        15.0, ge=0.0, le=180.0, description="Affine: largest rotation angle in degrees (either way)"
    )
    scale: float = Field(0.1, ge=0.0, le=0.5, description="Affine: largest relative zoom in or out")
    jitter_p: float = Field(0.0, ge=0.0, le=1.0, description="Probability of a brightness/contrast jitter")
    brightness: float = Field(
        0.2, ge=0.0, le=1.0, description="Jitter: largest brightness shift, as a fraction of the value range"
    )
    contrast: float = Field(0.2, ge=0.0, le=1.0, description="Jitter: largest relative contrast change")
    noise_p: float = Field(0.0, ge=0.0, le=1.0, description="Probability of additive Gaussian noise")
    noise_std: float = Field(0.05, ge=0.0, le=1.0, description="Gaussian noise std, as a fraction of the value range")


class ProbesConfig(Section):
    """Inside the network (issue 5): per-layer histograms and statistics on a fixed probe batch."""

    enabled: bool = Field(
        True, description="Record per-layer activation, gradient and weight histograms and statistics"
    )
    every: int = Field(20, ge=1, le=100_000, description="Steps between two probes (one more at init, before any step)")
    bins: int = Field(40, ge=4, le=256, description="Histogram bins per layer (the range grows when values leave it)")
    batch_size: int = Field(128, ge=1, le=8192, description="Samples in the fixed probe batch used for the activations")
    gradients: bool = Field(
        True, description="Also record gradient histograms/norms (backward hooks) and update-to-weight ratios"
    )
    max_snapshots: int = Field(
        400,
        ge=10,
        le=100_000,
        description="Probes kept; when full, every other one is dropped and the interval doubles",
    )
    updates: bool = Field(
        True,
        description=(
            "At each probe also record per-layer update size ‖Δw‖, ‖Δw‖/‖w‖ and the optimizer's state "
            "norms (momentum velocity, Adam moments)"
        ),
    )
    gradient_noise: bool = Field(
        False,
        description=(
            "Measure the noise of minibatch gradients against the full-batch gradient of a fixed "
            "training subset, per layer and batch size (costs several backward passes per measurement)"
        ),
    )
    gradient_noise_every: int = Field(
        100, ge=1, le=1_000_000, description="Gradient noise: steps between two measurements (plus init and end)"
    )
    gradient_noise_samples: int = Field(
        512,
        ge=8,
        le=65_536,
        description="Gradient noise: training samples of the subset whose full-batch gradient is the reference",
    )
    gradient_noise_batch_sizes: list[int] = Field(
        default_factory=lambda: [4, 16, 64, 256],
        min_length=1,
        max_length=12,
        description="Gradient noise: minibatch sizes compared (each at most gradient_noise_samples)",
    )
    gradient_noise_draws: int = Field(
        8, ge=2, le=1000, description="Gradient noise: minibatches drawn per batch size and measurement"
    )

    @field_validator("gradient_noise_batch_sizes")
    @classmethod
    def _batch_sizes_in_range(cls, v: list[int]) -> list[int]:
        for b in v:
            if not 1 <= b <= 65_536:
                raise ValueError(f"each batch size must be in [1, 65536], got {b}")
        return v


class DiagnosticsConfig(Section):
    """Automatic sanity checks and warnings (lecture §7), raised with their step number."""

    enabled: bool = Field(
        True,
        description="Check the initial loss, divergence, too-slow loss, over/underfitting, saturation and dead units",
    )
    initial_loss_tolerance: float = Field(
        0.5,
        gt=0.0,
        le=10.0,
        description="Flag the initial loss when it differs from ln C by more than this fraction of ln C",
    )
    window: int = Field(
        5, ge=2, le=10_000, description="Epochs a trend must last before the overfitting/underfitting flags"
    )
    slow_loss_epochs: int = Field(
        3,
        ge=1,
        le=10_000,
        description=(
            "Epochs (and slow_loss_steps steps) after which a loss that barely fell is flagged: "
            "lr too low if it crept, too high if it jumped up and down"
        ),
    )
    slow_loss_steps: int = Field(
        50,
        ge=1,
        le=10_000_000,
        description="Steps (and slow_loss_epochs epochs) after which a loss that barely fell is flagged",
    )
    slow_loss_drop: float = Field(
        0.05,
        gt=0.0,
        lt=1.0,
        description="Smallest relative drop of the (eval-mode) training loss since init that is not flagged",
    )
    saturation_warn: float = Field(
        0.5, gt=0.0, le=1.0, description="Warn when this fraction of a sigmoid/tanh layer's outputs is saturated"
    )
    dead_warn: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="Warn when this fraction of a ReLU layer's units is dead (zero for the whole probe batch)",
    )


class MetricsConfig(Section):
    """Per-epoch validation metrics from sklearn.metrics (lecture §7)."""

    enabled: bool = Field(
        True, description="Confusion matrix, per-class precision/recall/F1, ROC and PR curves with AUC every epoch"
    )
    max_samples: int = Field(
        5000,
        ge=10,
        le=1_000_000,
        description="Validation samples used for the metrics (the first N: deterministic, bounded cost)",
    )
    every: int = Field(
        1,
        ge=1,
        le=100_000,
        description=(
            "Epochs between two metric evaluations (the last epoch is always evaluated); "
            "raise it when epochs are only a few steps"
        ),
    )
    min_steps: int = Field(
        100,
        ge=0,
        le=10_000_000,
        description=(
            "Fewest training steps between two metric evaluations "
            "(bounds their cost when epochs are tiny; 0 = every epoch)"
        ),
    )
    curve_points: int = Field(200, ge=10, le=100_000, description="Most points kept per ROC/PR curve")


class NetworkConfig(Section):
    """The network view: every neuron's output over the input plane (2D data) or its weights
    and per-class mean activation (image data), computed on the engine thread."""

    enabled: bool = Field(True, description="Compute the neuron maps of the network view while training")
    refresh_hz: float = Field(
        4.0, gt=0.0, le=30.0, description="Most neuron-map refreshes per second while training (one batched pass)"
    )
    resolution: int = Field(64, ge=8, le=256, description="Grid points per axis of each neuron's map (2D data)")
    samples: int = Field(
        512, ge=10, le=10_000, description="Validation samples for the per-class mean activations (image data)"
    )
    max_units: int = Field(
        64, ge=1, le=1024, description="Most units per layer whose pictures and weights are sent and saved"
    )


class ExperimentConfig(Section):
    """One experiment: what to train, how, and where."""

    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    reg: RegConfig = Field(default_factory=RegConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    landscape: LandscapeConfig = Field(default_factory=LandscapeConfig)
    probes: ProbesConfig = Field(default_factory=ProbesConfig)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed: same seed, same init, same batches, same curves")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to train: auto picks CUDA when available")

    @model_validator(mode="after")
    def _cross_checks(self) -> ExperimentConfig:
        if self.schedule.name == "cyclic" and self.schedule.cyclic_base_lr >= self.schedule.cyclic_max_lr:
            raise ValueError("schedule.cyclic_base_lr must be below schedule.cyclic_max_lr")
        if self.train.val_fraction + self.data.test_fraction > 0.9:
            raise ValueError("train.val_fraction + data.test_fraction must leave at least 10% of the data for training")
        if self.model.uses_batch_norm() and self.train.batch_size < 2:
            raise ValueError(
                "batch norm (model.batch_norm, model.batch_norm_layers) needs train.batch_size of at least 2 "
                "(batch statistics of one sample are undefined)"
            )
        return self

    # -- dotted keys -------------------------------------------------------------------
    def get(self, key: str) -> Any:
        """Value at a dotted key, e.g. ``cfg.get("optim.lr")``."""
        obj: Any = self
        for part in key.split("."):
            if not isinstance(obj, BaseModel) or part not in type(obj).model_fields:
                raise ConfigError(f"unknown config key {quote_value(key)}")
            obj = getattr(obj, part)
        return obj

    def with_updates(self, updates: dict[str, Any]) -> ExperimentConfig:
        """A validated copy with dotted-key updates applied; raises ConfigError naming the field."""
        data = self.model_dump(mode="json")
        for key, value in updates.items():
            spec = field_spec(key)  # raises on unknown keys
            if isinstance(value, str):
                value = parse_value(spec, value)
            node = data
            parts = key.split(".")
            for part in parts[:-1]:
                node = node[part]
            node[parts[-1]] = value
        return validate_config(data)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> ExperimentConfig:
        """A validated config from JSON text (a config file, a session's config.json); the
        text's size, nesting and integer lengths are bounded. Raises ConfigError."""
        try:
            data = loads_limited(text, max_bytes=MAX_CONFIG_JSON_BYTES)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        return validate_config(data)


# -- schema introspection (the panel, the CLI and the docs use this) ------------------
LIST_KINDS = ("int_list", "float_list", "choice_list", "float_pair")
"""Kinds whose value is a comma-separated list on the command line and in the panel."""
MAX_CONFIG_JSON_BYTES = 1024 * 1024
"""Largest config JSON read (a full config is about 5 KB)."""
MAX_QUOTED = 80
"""Most characters of a bad value an error message quotes."""
MAX_LISTED_PROBLEMS = 5
"""Most validation problems one error message lists (a file can have thousands)."""


@dataclass(frozen=True)
class FieldSpec:
    key: str  # dotted key, e.g. "optim.lr"
    section: str  # "optim" ("" for top-level fields such as seed)
    kind: str  # "int" | "float" | "bool" | "choice" | "int_list" | "float_list" | "choice_list" | "float_pair" | "text"
    default: Any
    help: str
    minimum: float | None = None  # for float_list: the range of each entry
    maximum: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple[str, ...] = ()  # for choice_list: the choices of each entry
    widget: str = ""  # a hint for the panel, e.g. "path" (a file/folder browse button)
    placeholder: str = ""  # the panel's grey text in an empty editor

    @property
    def is_list(self) -> bool:
        """Value is a list, written comma-separated (e.g. 64,32 or 0.5,0)."""
        return self.kind in LIST_KINDS

    def range_text(self) -> str:
        if self.kind == "choice_list":
            return f"comma-separated, each one of {'|'.join(self.choices)}"
        if self.choices:
            return "one of " + "|".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "text":
            return "text (a file or folder path, a column name)"
        lo = "(" if self.min_exclusive else "["
        hi = ")" if self.max_exclusive else "]"
        a = "-inf" if self.minimum is None else _fmt(self.minimum)
        b = "inf" if self.maximum is None else _fmt(self.maximum)
        if self.kind == "int_list":
            return "comma-separated integers"
        if self.kind == "float_list":
            return f"comma-separated numbers, each in {lo}{a}, {b}{hi}"
        if self.kind == "float_pair":
            return "two numbers in [0, 1), comma-separated"
        return f"{lo}{a}, {b}{hi}"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def _kind_of(annotation: Any) -> tuple[str, tuple[str, ...]]:
    origin = get_origin(annotation)
    if origin is Literal:
        return "choice", tuple(str(a) for a in get_args(annotation))
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "float", ()
    if annotation is str:
        return "text", ()
    if origin is list:
        item = get_args(annotation)[0]
        if get_origin(item) is Annotated:
            item = get_args(item)[0]
        if item is int:
            return "int_list", ()
        if item is float:
            return "float_list", ()
        if get_origin(item) is Literal:
            return "choice_list", tuple(str(a) for a in get_args(item))
    if origin is tuple:
        return "float_pair", ()
    raise TypeError(f"unsupported field type {annotation!r}")


def _number(bound: Any) -> float:
    """A field bound as a float (annotated_types types bounds as comparison protocols)."""
    return float(bound)


def _bounds(metadata: Any) -> tuple[float | None, float | None, bool, bool]:
    lo: float | None = None
    hi: float | None = None
    lo_ex = hi_ex = False
    for m in metadata:
        if isinstance(m, Ge):
            lo = _number(m.ge)
        elif isinstance(m, Gt):
            lo, lo_ex = _number(m.gt), True
        elif isinstance(m, Le):
            hi = _number(m.le)
        elif isinstance(m, Lt):
            hi, hi_ex = _number(m.lt), True
    return lo, hi, lo_ex, hi_ex


def _walk(model_cls: type[BaseModel], prefix: str, section: str):
    for name, info in model_cls.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _walk(ann, f"{prefix}{name}.", name if not section else section)
            continue
        kind, choices = _kind_of(ann)
        metadata = info.metadata
        if kind == "float_list":  # the bounds of each entry: list[Annotated[float, Ge(..), Lt(..)]]
            item = get_args(ann)[0]
            metadata = list(getattr(item, "__metadata__", ()))
        lo, hi, lo_ex, hi_ex = _bounds(metadata)
        default = info.get_default(call_default_factory=True)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        yield FieldSpec(
            f"{prefix}{name}",
            section,
            kind,
            default,
            info.description or "",
            lo,
            hi,
            lo_ex,
            hi_ex,
            choices,
            str(extra.get("widget", "")),
            str(extra.get("placeholder", "")),
        )


def field_specs() -> list[FieldSpec]:
    """Every leaf field of the experiment config, in declaration order."""
    return list(_walk(ExperimentConfig, "", ""))


_SPEC_BY_KEY: dict[str, FieldSpec] | None = None


def _spec_by_key() -> dict[str, FieldSpec]:
    global _SPEC_BY_KEY
    if _SPEC_BY_KEY is None:
        _SPEC_BY_KEY = {s.key: s for s in field_specs()}
    return _SPEC_BY_KEY


def field_spec(key: str) -> FieldSpec:
    specs = _spec_by_key()
    try:
        return specs[key]
    except KeyError:
        close = [k for k in specs if k.split(".")[-1] == key.split(".")[-1]]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown config key {quote_value(key)}{hint}") from None


def quote_value(text: str, limit: int = MAX_QUOTED) -> str:
    """A value for an error message: quoted, on one line (control characters escaped) and at
    most `limit` characters long, with the full length said when it was cut."""
    shown = repr(text[: limit + 1])
    if len(text) <= limit and len(shown) <= limit + 2:
        return shown
    return f"{shown[: limit - 3]}... ({len(text)} characters)"


# One rule for every kind: ASCII digits only (int() and float() also read other scripts'
# digits and "1_0"), at most MAX_INT_DIGITS digits for an integer.
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,40}")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class _Unreadable(ValueError):
    """A value parse_value cannot read; the message (possibly empty) says why."""


def _parse_int(t: str) -> int:
    if not _INT_TEXT.fullmatch(t):
        raise _Unreadable
    return int(t)


def _parse_float(t: str) -> float:
    if not _FLOAT_TEXT.fullmatch(t):
        raise _Unreadable
    v = float(t)
    if not math.isfinite(v):
        raise _Unreadable
    return v


def _parse_choice(spec: FieldSpec, t: str) -> str:
    """The choice matching t case-insensitively, in its canonical case."""
    word = t.strip("'\"").strip()
    for c in spec.choices:
        if c.lower() == word.lower():
            return c
    raise ConfigError(
        f"{spec.key}: {quote_value(word)} is not one of {'|'.join(spec.choices)} "
        f"(expected {spec.range_text()}, e.g. {','.join(spec.choices[:2])})"
    )


def _parse_item(spec: FieldSpec, t: str) -> Any:
    """One scalar value or list entry of the field, by the field's kind."""
    if spec.kind in ("int", "int_list"):
        return _parse_int(t)
    if spec.kind in ("float", "float_list", "float_pair"):
        return _parse_float(t)
    if spec.kind in ("choice", "choice_list"):
        return _parse_choice(spec, t)
    if spec.kind == "bool":
        low = t.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise _Unreadable
    return t


def parse_value(spec: FieldSpec, text: str) -> Any:
    """Parse a command-line/panel string for a field; raises ConfigError naming the field.

    The same rule for every kind: surrounding spaces ignored, ASCII digits only, choices
    case-insensitive (stored in their canonical case), lists comma-separated with no empty
    entry (an empty value is an empty list)."""
    t = text.strip()
    try:
        if spec.is_list:
            values = [_parse_item(spec, p) for p in _list_items(t)]
            if spec.kind == "float_pair" and len(values) != 2:
                raise _Unreadable(f"got {len(values)} value{'' if len(values) == 1 else 's'}")
            return values
        return _parse_item(spec, t)
    except _Unreadable as e:
        why = f": {e}" if str(e) else ""
        raise ConfigError(f"{spec.key}: cannot read {quote_value(text)} (expected {spec.range_text()}){why}") from None


def _list_items(text: str) -> list[str]:
    """'[0.5, 0]' / '0.5,0' / '' / '[]' → ['0.5', '0'] / [] / []; an empty entry ('0.5,,0',
    ',') is an error."""
    t = text.strip()
    if len(t) >= 2 and (t[0], t[-1]) in (("[", "]"), ("(", ")")):
        t = t[1:-1].strip()
    if not t:
        return []
    items = [p.strip() for p in t.split(",")]
    if any(not p for p in items):
        raise _Unreadable("an empty entry")
    return items


def _checked_json_value(spec: FieldSpec, value: Any) -> Any:
    """A value from config JSON (a file, a session), under the rule of parse_value: text is
    parsed as on the command line, booleans are not numbers, choices are case-insensitive."""
    if isinstance(value, str) and spec.kind != "text":
        return parse_value(spec, value)
    if isinstance(value, list) and spec.is_list:
        return [_checked_json_entry(spec, i, v) for i, v in enumerate(value)]
    if isinstance(value, bool) and spec.kind in ("int", "float"):
        raise ConfigError(f"{spec.key}: {str(value).lower()} is a boolean, expected {spec.range_text()}")
    return value


def _checked_json_entry(spec: FieldSpec, index: int, value: Any) -> Any:
    if isinstance(value, str):
        try:
            return _parse_item(spec, value.strip())
        except _Unreadable:
            raise ConfigError(
                f"{spec.key}: cannot read entry {index + 1} {quote_value(value)} (expected {spec.range_text()})"
            ) from None
    if isinstance(value, bool) and spec.kind != "choice_list":
        raise ConfigError(
            f"{spec.key}: entry {index + 1} is a boolean ({str(value).lower()}), expected {spec.range_text()}"
        )
    return value


def _checked_json(data: Any) -> Any:
    """The config JSON with every known field's value checked by _checked_json_value (a copy;
    anything it cannot walk is left for pydantic to report)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for spec in _spec_by_key().values():
        node: Any = out
        parts = spec.key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                break
            node[part] = child = dict(child)
            node = child
        else:
            if parts[-1] in node:
                node[parts[-1]] = _checked_json_value(spec, node[parts[-1]])
    return out


MAX_MESSAGE_CHARS = 400


def describe_validation_error(err: ValidationError) -> str:
    """One line per problem, naming the dotted field and the allowed range."""
    lines = []
    errors = err.errors()
    for e in errors[:MAX_LISTED_PROBLEMS]:
        key = ".".join(str(p) for p in e["loc"] if not isinstance(p, int))
        if len(key) > MAX_QUOTED or not key.isprintable():  # an unknown key from a file: quoted, cut
            key = quote_value(key)
        msg = " ".join(e["msg"].removeprefix("Value error, ").split())
        index = [p for p in e["loc"] if isinstance(p, int)]
        if index and e["type"] != "extra_forbidden":  # an entry of a list field: say which one
            shown = repr(e.get("input"))
            shown = shown if len(shown) <= MAX_QUOTED else shown[: MAX_QUOTED - 3] + "..."
            msg = f"entry {index[-1] + 1} ({shown}): {msg}"
        if msg.startswith("model.") and key == "model":  # a cross-field check that already names its field
            lines.append(msg)
            continue
        try:
            allowed = f" (allowed: {field_spec(key).range_text()})"
        except ConfigError:
            allowed = ""
        if e["type"] == "extra_forbidden":
            msg, allowed = "unknown config key", ""
        lines.append(f"{key or 'config'}: {msg}{allowed}")
    listed: list[str] = []
    for line in lines:  # the message stays short: the first problems, then how many more
        if listed and len("; ".join([*listed, line])) > MAX_MESSAGE_CHARS:
            break
        listed.append(line)
    more = len(errors) - len(listed)
    if more > 0:
        listed.append(f"and {more} more problem{'s' if more != 1 else ''}")
    return "; ".join(listed)


def validate_config(data: Any) -> ExperimentConfig:
    """A validated config from JSON-like data (a file's, a session's, a dump with updates):
    values are read under parse_value's rule, then by the model; raises ConfigError."""
    try:
        return ExperimentConfig.model_validate(_checked_json(data))
    except ValidationError as e:
        raise ConfigError(describe_validation_error(e)) from None


def parse_set_args(pairs: list[str]) -> dict[str, Any]:
    """Turn ['optim.lr=0.1', ...] into {'optim.lr': 0.1}; raises ConfigError."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects KEY=VALUE, got {quote_value(pair)}")
        key, value = pair.split("=", 1)
        key = key.strip()
        out[key] = parse_value(field_spec(key), value)
    return out


LIVE_KEYS = frozenset({"optim.lr", "optim.momentum", "optim.weight_decay"})
"""Keys whose edits apply to the running optimizer without a restart."""
