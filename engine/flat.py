"""Tensors laid out one after the other in one flat buffer (gradients, weight snapshots)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def flat_views(flat: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Views of consecutive parts of a flat tensor, shaped like `like`."""
    views, o = [], 0
    flat = flat.reshape(-1)
    for t in like:
        views.append(flat[o : o + t.numel()].view(t.shape))
        o += t.numel()
    return views


class FlatCopy:
    """A reusable flat copy of a list of tensors, taken with one foreach copy into views of
    a buffer kept between calls."""

    def __init__(self) -> None:
        self.buffer: torch.Tensor | None = None
        self._key: tuple | None = None
        self._views: list[torch.Tensor] = []

    @torch.no_grad()
    def take(self, tensors: list[torch.Tensor]) -> torch.Tensor | None:
        """The tensors' current values, flat (None for no tensors; float32 when their dtypes
        differ); the buffer is reused while their shapes, dtypes and device stay the same."""
        if not tensors:
            return None
        key = (tuple([(t.shape, t.dtype) for t in tensors]), tensors[0].device)
        if key != self._key:
            dtypes = {t.dtype for t in tensors}
            dtype = dtypes.pop() if len(dtypes) == 1 else torch.float32
            self.buffer = torch.empty(sum(t.numel() for t in tensors), dtype=dtype, device=key[1])
            self._views = flat_views(self.buffer, tensors)
            self._key = key
        torch._foreach_copy_(self._views, tensors)
        return self.buffer
