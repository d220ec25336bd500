"""Comparisons: a base config plus N variants, trained in lockstep with the same init and batches."""

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
