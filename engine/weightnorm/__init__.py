"""Weight norm per layer: ‖W‖ of every weight matrix or kernel over the run (how weight
decay and the learning rate shape the weights' scale)."""

from engine.weightnorm.hook import WeightNormHook
from engine.weightnorm.snapshot import WeightNormSnapshot, from_record, to_record

__all__ = ["WeightNormHook", "WeightNormSnapshot", "from_record", "to_record"]
