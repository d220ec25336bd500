"""A small CNN for image data: conv blocks, then the same dense layers as the MLP."""

from __future__ import annotations

from torch import nn

from engine.config import ModelConfig
from engine.model.mlp import dense_blocks, hidden_block
from engine.model.modes import BATCHNORM_TYPES


class CNN(nn.Sequential):
    """Unflatten → [3×3 conv → [BN] → activation → [BN] → [dropout] → 2×2 max-pool] × blocks
    → Flatten → dense hidden blocks → Linear (logits). Pooling stops once the image is 1×1.
    The conv blocks take the model-wide model.batch_norm/model.dropout; the dense layers
    take the per-layer settings (model.batch_norm_layers/dropout_layers/activation_layers when given)."""

    def __init__(
        self, input_shape: tuple[int, int, int], channels: list[int], hidden: list[int], n_out: int, cfg: ModelConfig
    ) -> None:
        c, h, w = input_shape
        layers: list[nn.Module] = [nn.Unflatten(1, (c, h, w))]
        for ch in channels:
            layers += hidden_block(nn.Conv2d(c, ch, kernel_size=3, padding=1), ch, cfg, conv=True)
            if h >= 2 and w >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = ch
        layers.append(nn.Flatten())
        width = c * h * w
        layers += dense_blocks(width, hidden, cfg)
        layers.append(nn.Linear(hidden[-1] if hidden else width, n_out))
        super().__init__(*layers)

    def linear_layers(self) -> list[nn.Module]:
        """The weight layers (conv and dense), input to output."""
        return [m for m in self if isinstance(m, (nn.Linear, nn.Conv2d))]

    def batchnorm_layers(self) -> list[nn.Module]:
        return [m for m in self if isinstance(m, BATCHNORM_TYPES)]
