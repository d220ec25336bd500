"""DiagnosticSnapshot: one finding of the diagnostics during a run, both the live event and
what a session stores (the run meta's "diagnostics" list, one JSON object per finding:
kind, level, step, epoch, layer, message, value)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.diagnostics.checks import Diagnostic
from engine.events import Event

if TYPE_CHECKING:
    import numpy as np

    from engine.session.record import RunRecord

KEY = "diagnostics"


@dataclass(frozen=True)
class DiagnosticSnapshot(Event):
    """A finding of the run `run_id` (each kind and layer is reported once)."""

    finding: Diagnostic


def to_record(snaps: Sequence[DiagnosticSnapshot]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The run record's meta entry of these findings (the list, empty without findings)."""
    return {}, {KEY: [s.finding.to_json() for s in snaps]}


def from_record(record: RunRecord) -> list[DiagnosticSnapshot]:
    """A saved run's findings in the order they were raised; a malformed entry raises
    ValueError naming it."""
    found = record.meta.get(KEY, [])
    if not isinstance(found, list):
        raise ValueError(f"meta '{KEY}' is {type(found).__name__}, expected a list")
    out = []
    for i, d in enumerate(found):
        if not isinstance(d, dict):
            raise ValueError(f"'{KEY}[{i}]' is {d!r}, not a finding")
        try:
            out.append(DiagnosticSnapshot(record.name, Diagnostic.from_json(d)))
        except KeyError as e:
            raise ValueError(f"'{KEY}[{i}]' has no {e}") from None
        except (TypeError, ValueError) as e:
            raise ValueError(f"'{KEY}[{i}]' is malformed ({e})") from None
    return out
