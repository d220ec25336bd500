"""The base of the views that draw the probes' snapshots (Histograms, Depth profile,
Gradients): they keep the current run's ProbeSnapshots in a ProbeStore, live from the run
or replayed from a session's record, through the same `add`."""

from __future__ import annotations

from desktop.views.base import View
from desktop.views.probe_store import ProbeStore
from engine.events import Event
from engine.probes.snapshot import ProbeSnapshot, from_record


class ProbeView(View):
    MIN_REDRAW_S = 0.5  # probe views: 2 redraws/s at most while training (drawing competes with it)

    def __init__(self, controller, parent=None) -> None:
        super().__init__(controller, parent)
        self.store = ProbeStore()
        self.run_id = ""

    def reset_view(self) -> None:
        """The store was cleared or replaced (a new run, a session): draw it afresh."""
        self.redraw()

    def on_first_probe(self) -> None:
        """The run's first snapshot arrived (its layers are known now)."""

    def on_run_started(self, run_id: str, config) -> None:
        self.run_id = run_id
        self.store.clear()
        self.reset_view()

    def handle_events(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, ProbeSnapshot) and e.run_id == self.run_id:
                first = len(self.store) == 0
                self.store.add(e)
                if first:
                    self.on_first_probe()
                self._dirty = True
        self.redraw_if_due()

    def load_session(self, session) -> None:
        if not session.runs:
            return
        rec = session.runs[0]
        self.store.clear()
        self.run_id = ""
        for s in self.read_saved(rec, "probes", lambda: from_record(rec)) or []:
            self.store.add(s)
        self.reset_view()
