"""Regularization (lecture §5): explicit L1/L2 penalties and early stopping, as trainer hooks."""

from engine.regularization.early_stopping import EarlyStoppingHook
from engine.regularization.penalty import PenaltyHook, penalized_weights, penalty_value

__all__ = ["EarlyStoppingHook", "PenaltyHook", "penalized_weights", "penalty_value"]
