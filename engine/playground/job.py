"""A playground race as a job (engine/jobs.py): it advances in chunks and yields progress.

The race's arrays are preallocated, so the GUI reads `race.done` / `race.path(i)` on its
frame timer while the job runs on a worker thread: the steps already computed never move
while later ones are written. A chunk is short (a few ms), so a cancel takes effect almost
at once.
"""

from __future__ import annotations

from engine.jobs import Job, Progress
from engine.playground.race import Race

CHUNK = 250


def race_job(race: Race, chunk: int = CHUNK) -> Job[Race]:
    """Advance `race` to its end, `chunk` steps at a time; returns the race."""
    while not race.finished:
        race.advance(chunk)
        yield Progress(race.done / max(1, race.total), f"step {race.done}/{race.total}")
    return race
