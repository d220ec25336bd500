"""Whether switching a model to eval mode can change what it computes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    from torch.nn.modules.batchnorm import _BatchNorm  # the base class of every batch-norm layer

# Every batch-norm class in torch.nn (the lazy ones become their plain class once initialized).
BATCHNORM_TYPES: tuple[type[_BatchNorm], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.LazyBatchNorm1d,
    nn.LazyBatchNorm2d,
    nn.LazyBatchNorm3d,
)

# Every normalization class in torch.nn that keeps running statistics: batch and instance norm.
NORM_TYPES: tuple[type[nn.Module], ...] = (
    *BATCHNORM_TYPES,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.LazyInstanceNorm1d,
    nn.LazyInstanceNorm2d,
    nn.LazyInstanceNorm3d,
)

# Every dropout class in torch.nn.
DROPOUT_TYPES: tuple[type[nn.Module], ...] = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)

# Torch modules whose forward reads `self.training` (dropout, batch/instance norm, RNN
# dropout, RReLU's random slope, attention dropout); transformer layers are caught by module.
_MODE_DEPENDENT: tuple[type, ...] = (
    *DROPOUT_TYPES,
    *NORM_TYPES,
    nn.RNNBase,
    nn.RReLU,
    nn.MultiheadAttention,
)


def mode_dependent(model: nn.Module) -> bool:
    """Whether `model.eval()` can change the model's output: true when any module is of a
    torch type whose forward depends on the training flag, or has a forward written outside
    torch.nn (unknown code: assume it can). Probes and the trainer's evaluation skip the
    eval/train switch otherwise (it walks every module twice)."""
    for m in model.modules():
        if isinstance(m, _MODE_DEPENDENT) or type(m).__module__ == "torch.nn.modules.transformer":
            return True
        owner = next((c for c in type(m).__mro__ if "forward" in c.__dict__), nn.Module)
        if not owner.__module__.startswith("torch.nn."):
            return True
    return False
