"""Optimizers and learning-rate schedules, all from torch.optim."""

from engine.optim.factory import apply_live_edit, build_optimizer, optimizer_state_summary
from engine.optim.schedules import LRSchedule, build_schedule, preview_schedule

__all__ = [
    "build_optimizer",
    "apply_live_edit",
    "optimizer_state_summary",
    "LRSchedule",
    "build_schedule",
    "preview_schedule",
]
