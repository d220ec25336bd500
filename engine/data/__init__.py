"""Data sets: generation/loading, splitting and preprocessing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.data.datasets import DataBundle, load_data

__all__ = ["DataBundle", "load_data"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DataBundle": "engine.data.datasets",
        "load_data": "engine.data.datasets",
    },
)
