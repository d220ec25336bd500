"""Network builders and weight initialization."""
from engine.model.mlp import build_model, make_activation
from engine.model.init import initialize

__all__ = ["build_model", "make_activation", "initialize"]
