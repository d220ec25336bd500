"""The MLP builder: Linear layers with the chosen activation, batch norm and dropout between them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from engine.config import ModelConfig
from engine.model.init import initialize
from engine.model.modes import BATCHNORM_TYPES

if TYPE_CHECKING:
    from torch.nn.modules.batchnorm import _BatchNorm


def make_activation(cfg: ModelConfig, name: str | None = None) -> nn.Module:
    """One activation module (`name`, default the model-wide cfg.activation); PReLU has a
    single learnable slope per layer."""
    name = cfg.activation if name is None else name
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(cfg.leaky_slope)
    if name == "prelu":
        return nn.PReLU(num_parameters=1, init=cfg.prelu_init)
    raise ValueError(f"unknown activation '{name}'")


class SeededDropout(nn.Dropout):
    """Inverted dropout (lecture §5): in training each unit is kept with probability 1−p and
    scaled by 1/(1−p), so the expected activation is unchanged; in eval it is the identity.
    Masks come from the layer's own generator (seeded by build_model), so the same seed
    gives the same masks and the same curves, whatever else uses torch's global RNG."""

    def __init__(self, p: float) -> None:
        super().__init__(p)
        self.seed = 0
        self._gen: torch.Generator | None = None
        self._pending_state: torch.Tensor | None = None

    def reseed(self, seed: int) -> None:
        self.seed = int(seed)
        self._gen = None

    def get_rng_state(self) -> torch.Tensor | None:
        """The mask generator's state (None before the first training forward)."""
        return None if self._gen is None else self._gen.get_state()

    def set_rng_state(self, state: torch.Tensor | None) -> None:
        """Continue the mask sequence from a saved state (applied at the next forward)."""
        self._gen = None
        self._pending_state = state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self._gen is None or self._gen.device != x.device:
            self._gen = torch.Generator(device=x.device).manual_seed(self.seed)
            if self._pending_state is not None:
                self._gen.set_state(self._pending_state)
                self._pending_state = None
        keep = 1.0 - self.p
        mask = torch.rand(x.shape, generator=self._gen, device=x.device, dtype=x.dtype) < keep
        return x * mask / keep


def dropout_rng_states(model: nn.Module) -> list[torch.Tensor | None]:
    """Every dropout layer's generator state, input to output (for exact checkpoints)."""
    return [m.get_rng_state() for m in model.modules() if isinstance(m, SeededDropout)]


def set_dropout_rng_states(model: nn.Module, states: list[torch.Tensor | None]) -> None:
    """Restore what dropout_rng_states returned."""
    for m, st in zip([m for m in model.modules() if isinstance(m, SeededDropout)], states):
        m.set_rng_state(st)


def hidden_block(
    layer: nn.Module,
    width: int,
    cfg: ModelConfig,
    conv: bool = False,
    batch_norm: str | None = None,
    dropout: float | None = None,
    activation: str | None = None,
) -> list[nn.Module]:
    """layer → [BN] → activation → [BN] → [dropout]: batch norm before or after the
    activation (lecture §3), inverted dropout (kept units scaled by 1/(1−p)). `batch_norm`,
    `dropout` and `activation` are this layer's settings (default: the model-wide ones)."""
    placement = cfg.batch_norm if batch_norm is None else batch_norm
    p = cfg.dropout if dropout is None else dropout
    if placement not in ("off", "before", "after"):
        raise ValueError(f"batch norm placement must be off, before or after, got '{placement}'")
    bn_cls = nn.BatchNorm2d if conv else nn.BatchNorm1d

    def bn() -> nn.Module:
        return bn_cls(width, eps=cfg.bn_eps, momentum=cfg.bn_momentum)

    out: list[nn.Module] = [layer]
    if placement == "before":
        out.append(bn())
    out.append(make_activation(cfg, activation))
    if placement == "after":
        out.append(bn())
    if p > 0:
        out.append(SeededDropout(p))
    return out


def dense_blocks(n_in: int, hidden: list[int], cfg: ModelConfig) -> list[nn.Module]:
    """The hidden dense layers, each with its own batch norm, dropout and activation
    (cfg.batch_norm_per_layer(), cfg.dropout_per_layer(), cfg.activation_per_layer())."""
    placements, drops, acts = cfg.batch_norm_per_layer(), cfg.dropout_per_layer(), cfg.activation_per_layer()
    if not len(placements) == len(drops) == len(acts) == len(hidden):
        raise ValueError(
            f"per-layer settings for {len(hidden)} hidden layers expected, got batch norm for "
            f"{len(placements)}, dropout for {len(drops)} and activation for {len(acts)}"
        )
    layers: list[nn.Module] = []
    width = n_in
    for h, placement, p, act in zip(hidden, placements, drops, acts):
        layers += hidden_block(nn.Linear(width, h), h, cfg, batch_norm=placement, dropout=p, activation=act)
        width = h
    return layers


class MLP(nn.Sequential):
    """Flatten → [Linear → [BN] → activation → [BN] → [dropout]] × depth → Linear (logits);
    batch norm and dropout chosen per hidden layer."""

    def __init__(self, n_in: int, hidden: list[int], n_out: int, cfg: ModelConfig) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        layers += dense_blocks(n_in, hidden, cfg)
        layers.append(nn.Linear(hidden[-1] if hidden else n_in, n_out))
        super().__init__(*layers)

    def linear_layers(self) -> list[nn.Linear]:
        return [m for m in self if isinstance(m, nn.Linear)]

    def batchnorm_layers(self) -> list[nn.Module]:
        return [m for m in self if isinstance(m, BATCHNORM_TYPES)]


def batchnorm_labels(model: nn.Module) -> list[tuple[_BatchNorm, str]]:
    """Every batch-norm layer with a label saying where it sits, e.g. 'hidden layer 2, before
    the activation (32 units)' or 'conv block 1, after the activation (16 channels)'."""
    out: list[tuple[_BatchNorm, str]] = []
    n_conv = n_dense = 0
    where, seen_activation = "", False
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            n_conv += 1
            where, seen_activation = f"conv block {n_conv}", False
        elif isinstance(m, nn.Linear):
            n_dense += 1
            where, seen_activation = f"hidden layer {n_dense}", False
        elif isinstance(m, BATCHNORM_TYPES):
            unit = "channels" if isinstance(m, nn.BatchNorm2d) else "units"
            side = "after" if seen_activation else "before"
            out.append((m, f"{where or 'input'}, {side} the activation ({m.num_features} {unit})"))
        elif isinstance(m, (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.PReLU)):
            seen_activation = True
    return out


def build_model(
    cfg: ModelConfig, n_in: int, n_classes: int, seed: int, input_shape: tuple[int, ...] | None = None
) -> nn.Module:
    """Build and initialize the model deterministically from the seed. The CNN needs the
    image shape (C, H, W); its input arrives flat (N, C·H·W) like every data set's."""
    g = torch.Generator().manual_seed(seed)
    if cfg.arch == "cnn":
        from engine.model.cnn import CNN

        if input_shape is None or len(input_shape) != 3:
            raise ValueError(
                f"model.arch=cnn needs image data (digits, an image folder or an NPZ of images); "
                f"this data set has samples of shape {tuple(input_shape or (n_in,))} — use model.arch=mlp"
            )
        c, h, w = input_shape
        model: nn.Module = CNN((c, h, w), list(cfg.conv_channels), list(cfg.hidden), n_classes, cfg)
    else:
        model = MLP(n_in, list(cfg.hidden), n_classes, cfg)
    initialize(model, cfg, g)
    for i, m in enumerate(m for m in model.modules() if isinstance(m, SeededDropout)):
        m.reseed(seed * 1009 + 17 + i)
    return model
