"""Network builders and weight initialization."""

from engine.model.init import initialize
from engine.model.mlp import build_model, make_activation

__all__ = ["build_model", "make_activation", "initialize"]
