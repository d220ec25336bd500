"""Training: the trainer, its hooks and their run context, and the engine thread."""

from engine.train.context import RunContext
from engine.train.device import resolve_device
from engine.train.hooks import TrainerHook
from engine.train.trainer import Trainer
from engine.train.worker import EngineWorker

__all__ = ["Trainer", "TrainerHook", "RunContext", "EngineWorker", "resolve_device"]
