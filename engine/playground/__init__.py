"""The optimizer playground: exact 2-parameter surfaces with torch.optim's optimizers racing."""

from engine.playground.config import PlaygroundConfig, Racer, make_config
from engine.playground.functions import FUNCTIONS, TestFunction, get_function
from engine.playground.race import Race, RacerPath, run_race

__all__ = [
    "PlaygroundConfig",
    "Racer",
    "make_config",
    "FUNCTIONS",
    "TestFunction",
    "get_function",
    "Race",
    "RacerPath",
    "run_race",
]
