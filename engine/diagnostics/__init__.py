"""Diagnostics: sanity checks and automatic flags raised during a run (lecture §7)."""

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
