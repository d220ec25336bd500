"""Diagnostics: sanity checks and automatic flags raised during a run (lecture §7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.diagnostics.checks import (
        Diagnostic,
        check_initial_loss,
        is_overfitting,
        is_underfitting,
        layer_findings,
        loss_too_slow,
        lr_verdict,
        near_chance,
        rank,
        top_finding,
    )
    from engine.diagnostics.hook import DiagnosticsHook, initial_loss
    from engine.diagnostics.sanity import SanityResult, overfit_tiny_subset

_CHECKS = (
    "Diagnostic",
    "check_initial_loss",
    "is_overfitting",
    "is_underfitting",
    "layer_findings",
    "loss_too_slow",
    "lr_verdict",
    "near_chance",
    "rank",
    "top_finding",
)
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(_CHECKS, "engine.diagnostics.checks"),
        "DiagnosticsHook": "engine.diagnostics.hook",
        "initial_loss": "engine.diagnostics.hook",
        "SanityResult": "engine.diagnostics.sanity",
        "overfit_tiny_subset": "engine.diagnostics.sanity",
    },
)

__all__ = [
    "Diagnostic",
    "check_initial_loss",
    "is_overfitting",
    "is_underfitting",
    "layer_findings",
    "loss_too_slow",
    "lr_verdict",
    "near_chance",
    "rank",
    "top_finding",
    "DiagnosticsHook",
    "initial_loss",
    "SanityResult",
    "overfit_tiny_subset",
]
