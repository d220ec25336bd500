"""Per-layer update size and optimizer state (lecture §4, babysitting): what each probed
optimizer step did to every weight layer (‖Δw‖, ‖Δw‖/‖w‖) and what the optimizer carries
for it (momentum velocity, Adam's moments and effective step, RMSprop's and Adagrad's
accumulators), read from torch.optim's own state. Reading a session needs no torch: the
names load lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

if TYPE_CHECKING:
    from engine.updates.hook import UpdateHook
    from engine.updates.measure import state_names, state_stats
    from engine.updates.snapshot import STATE_STATS, UpdateSnapshot, from_record, summarize_updates, updates_csv

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "UpdateHook": "engine.updates.hook",
        "STATE_STATS": "engine.updates.snapshot",
        "state_names": "engine.updates.measure",
        "state_stats": "engine.updates.measure",
        "UpdateSnapshot": "engine.updates.snapshot",
        "from_record": "engine.updates.snapshot",
        "summarize_updates": "engine.updates.snapshot",
        "updates_csv": "engine.updates.snapshot",
    },
)

__all__ = [
    "STATE_STATS",
    "UpdateHook",
    "UpdateSnapshot",
    "from_record",
    "state_names",
    "state_stats",
    "summarize_updates",
    "updates_csv",
]
