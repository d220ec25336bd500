"""Training: the trainer, its hooks, and the engine thread."""

from engine.train.hooks import TrainerHook
from engine.train.trainer import Trainer, resolve_device
from engine.train.worker import EngineWorker

__all__ = ["Trainer", "TrainerHook", "EngineWorker", "resolve_device"]
