"""Training: the trainer, its hooks and their run context, and the engine thread.

The names are imported on first use (engine/lazy.py): the engine thread (EngineWorker) can
be created without importing torch, which the trainer then imports on that thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.train.context import RunContext
    from engine.train.device import resolve_device
    from engine.train.hooks import TrainerHook
    from engine.train.trainer import Trainer
    from engine.train.worker import EngineWorker

__all__ = ["Trainer", "TrainerHook", "RunContext", "EngineWorker", "resolve_device"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "RunContext": "engine.train.context",
        "resolve_device": "engine.train.device",
        "TrainerHook": "engine.train.hooks",
        "Trainer": "engine.train.trainer",
        "EngineWorker": "engine.train.worker",
    },
)
