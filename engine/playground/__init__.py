"""The optimizer playground: exact 2-parameter surfaces with torch.optim's optimizers racing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.playground.config import PlaygroundConfig, Racer, make_config
    from engine.playground.functions import FUNCTIONS, TestFunction, get_function
    from engine.playground.race import Race, RacerPath, run_race

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "PlaygroundConfig": "engine.playground.config",
        "Racer": "engine.playground.config",
        "make_config": "engine.playground.config",
        "FUNCTIONS": "engine.playground.functions",
        "TestFunction": "engine.playground.functions",
        "get_function": "engine.playground.functions",
        "Race": "engine.playground.race",
        "RacerPath": "engine.playground.race",
        "run_race": "engine.playground.race",
    },
)

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
