"""Comparisons: a base config plus N variants, trained in lockstep with the same init and batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.compare.lockstep import LockstepRunner
    from engine.compare.spec import (
        ComparisonSpec,
        Variant,
        config_differences,
        flatten_config,
        grid_variants,
        optimizer_variants,
        parse_vary,
    )
    from engine.compare.worker import ComparisonWorker

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "LockstepRunner": "engine.compare.lockstep",
        "ComparisonSpec": "engine.compare.spec",
        "Variant": "engine.compare.spec",
        "config_differences": "engine.compare.spec",
        "flatten_config": "engine.compare.spec",
        "grid_variants": "engine.compare.spec",
        "optimizer_variants": "engine.compare.spec",
        "parse_vary": "engine.compare.spec",
        "ComparisonWorker": "engine.compare.worker",
    },
)

__all__ = [
    "ComparisonSpec",
    "Variant",
    "config_differences",
    "flatten_config",
    "grid_variants",
    "optimizer_variants",
    "parse_vary",
    "LockstepRunner",
    "ComparisonWorker",
]
