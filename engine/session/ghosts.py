"""The Curves' ghosts in a session file: the last runs of a session, faded behind the current
one, kept when the session is saved (format 5; optional members, so older files open
without ghosts).

meta.json "ghosts": a list, oldest first, of {"name", "steps_per_epoch"}; arrays
"ghosts/<i>/<series>" hold each ghost's series under the names a run's series use
("step/loss", "step/wall", "epoch/step", "epoch/val_acc", ...: engine.events.series_events
reads them back into the events that drew them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from engine.session.record import Session

META_KEY = "ghosts"
ARRAY_PREFIX = "ghosts/"
MAX_GHOSTS = 3
_SERIES = re.compile(r"^(step|epoch)/[a-z_]{1,40}$")


class GhostError(ValueError):
    """The session's ghosts are malformed; the message names the problem."""


@dataclass
class Ghost:
    """One earlier run as the Curves view keeps it: its name, its full-resolution series and
    the steps per epoch it estimated before its first epoch ended (0: unknown)."""

    name: str
    series: dict[str, np.ndarray] = field(default_factory=dict)
    steps_per_epoch: float = 0.0


def store_ghosts(session: Session, ghosts: list[Ghost]) -> None:
    """Put the ghosts (oldest first, at most MAX_GHOSTS: the newest) into the session,
    replacing any it held; no ghosts leave it without the members."""
    session.arrays = {k: v for k, v in session.arrays.items() if not k.startswith(ARRAY_PREFIX)}
    session.meta.pop(META_KEY, None)
    kept = ghosts[-MAX_GHOSTS:]
    if not kept:
        return
    meta = []
    for i, g in enumerate(kept):
        meta.append({"name": g.name, "steps_per_epoch": float(g.steps_per_epoch)})
        for name, values in g.series.items():
            if not _SERIES.match(name):
                raise GhostError(f"ghost '{g.name}': series name {name!r} is not step/<name> or epoch/<name>")
            session.arrays[f"{ARRAY_PREFIX}{i}/{name}"] = np.asarray(values, dtype=np.float64).ravel()
    session.meta[META_KEY] = meta


def stored_ghosts(session: Session) -> list[Ghost]:
    """The ghosts a session holds, oldest first ([] for none, as in files before format 5);
    GhostError naming the problem when they are malformed."""
    meta = session.meta.get(META_KEY)
    if meta is None:
        return []
    if not isinstance(meta, list) or len(meta) > MAX_GHOSTS:
        raise GhostError(f"meta 'ghosts' must be a list of at most {MAX_GHOSTS} runs")
    out = []
    for i, m in enumerate(meta):
        if not isinstance(m, Mapping) or not isinstance(m.get("name"), str):
            raise GhostError(f"ghost {i}: expected {{'name': text, 'steps_per_epoch': number}}")
        spe = m.get("steps_per_epoch", 0.0)
        if isinstance(spe, bool) or not isinstance(spe, (int, float)) or not math.isfinite(spe) or spe < 0:
            raise GhostError(f"ghost '{m['name']}': steps_per_epoch must be a number ≥ 0, got {spe!r}")
        prefix = f"{ARRAY_PREFIX}{i}/"
        series = {k.removeprefix(prefix): v for k, v in session.arrays.items() if k.startswith(prefix)}
        for name, v in series.items():
            if not _SERIES.match(name) or v.ndim != 1 or v.dtype.kind not in "fiu":
                raise GhostError(f"ghost '{m['name']}': series {name!r} must be a 1-D numeric array")
        out.append(Ghost(m["name"], {k: v.astype(np.float64) for k, v in series.items()}, float(spe)))
    return out
