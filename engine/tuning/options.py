"""The search's choices the window offers before the engine has loaded (no torch or
scikit-learn here): the pruners and the cores trials may run on."""

from __future__ import annotations

import os

PRUNERS = ("none", "median", "asha", "hyperband")


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
