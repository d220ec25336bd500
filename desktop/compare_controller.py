"""The comparison controller: N runs of one experiment on one engine thread, for the Compare tab.

It shares the AppController's event channel (every event names its run), so the bridge
delivers the comparison's events to the views like any other. Colours are assigned once
per run name and never reused while the comparison lives: one colour per run everywhere.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.compare.layout import comparison_meta
from engine.compare.spec import ComparisonSpec, Variant, optimizer_variants
from engine.compare.worker import COMPARISON_ID, ComparisonWorker
from engine.config import ConfigError, ExperimentConfig
from engine.events import ErrorRaised, Event, RunFinished, StateChanged
from engine.session import RunRecord, Session, SessionError
from engine.states import RunState

RUN_PREFIX = "cmp:"  # run ids of comparison runs ("cmp3:adam"): never confused with the single run's "runN"


class CompareController(QObject):
    runs_reset = Signal()  # a new comparison (or a loaded one) replaces the old
    run_added = Signal(str, int, object)  # run id, colour index, ExperimentConfig
    run_removed = Signal(str)  # run id
    run_state = Signal(str, str)  # run id, state
    run_finished = Signal(str, object)  # run id, final metrics
    state_changed = Signal(str)  # the comparison's state

    def __init__(self, app, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app = app  # the AppController: its channel and its current config
        self.worker: ComparisonWorker | None = None
        self.spec: ComparisonSpec | None = None
        self.colors: dict[str, int] = {}  # run id → palette index
        self.configs: dict[str, ExperimentConfig] = {}
        self.states: dict[str, RunState] = {}
        self.finals: dict[str, dict[str, float]] = {}
        self.state: RunState = RunState.IDLE
        self.generation = 0
        self._next_color = 0

    # -- names ---------------------------------------------------------------------------
    def run_id(self, name: str) -> str:
        """The run's event id: `cmp<generation>:<name>`, so late events of a replaced
        comparison are never taken for a new run of the same name."""
        return f"{RUN_PREFIX[:-1]}{self.generation}:{name}"

    @staticmethod
    def name_of(run_id: str) -> str:
        head, sep, rest = run_id.partition(":")
        return rest if sep and head.startswith(RUN_PREFIX[:-1]) else run_id

    # -- commands ------------------------------------------------------------------------
    def start(self, variants: list[Variant], base: ExperimentConfig | None = None, paused: bool = False) -> None:
        """Replace any running comparison by these variants of `base` (the panel's config)."""
        spec = ComparisonSpec(base or self.app.config, variants)
        runs = spec.configs()  # ConfigError names the bad variant before anything stops
        self.shutdown()
        self.generation += 1
        self.spec = spec
        self.colors, self.configs, self.states, self.finals = {}, {}, {}, {}
        self._next_color = 0
        self.worker = ComparisonWorker(self.app.channel)
        self.runs_reset.emit()
        for name, cfg in runs:
            self._announce(self.run_id(name), cfg)
        self.worker.start([(self.run_id(n), c) for n, c in runs], paused=paused)
        self.state = RunState.PAUSED if paused else RunState.RUNNING
        self.state_changed.emit(self.state)

    def compare_optimizers(self, names: list[str], base: ExperimentConfig | None = None) -> None:
        """One variant per optimizer, same seed: the "Compare optimizers" action."""
        if not names:
            raise ConfigError("choose at least one optimizer to compare")
        self.start(optimizer_variants(names), base)

    def add_variant(self, name: str, overrides: dict[str, Any]) -> None:
        """A new run joins the comparison while the others keep going."""
        if self.spec is None or self.worker is None:
            self.start([Variant(name, overrides)])
            return
        rid = self.run_id(name)
        if rid in self.colors and self.states.get(rid) != RunState.REMOVED:
            raise ConfigError(f"a run named '{name}' is already in the comparison")
        v = Variant(name, dict(overrides))
        cfg = self.spec.config_of(v)
        self.spec.variants.append(v)
        self._announce(rid, cfg)
        self.worker.add(rid, cfg)
        if self.state in (RunState.FINISHED, RunState.STOPPED):
            self.worker.resume()

    def remove(self, name_or_id: str) -> None:
        rid = name_or_id if name_or_id in self.colors else self.run_id(name_or_id)
        if self.worker is not None and rid in self.colors:
            self.worker.remove(rid)
        self.run_removed.emit(rid)

    def _announce(self, rid: str, cfg: ExperimentConfig) -> None:
        if rid not in self.colors:
            self.colors[rid] = self._next_color
            self._next_color += 1
        self.configs[rid] = cfg
        self.states[rid] = RunState.BUILDING
        self.run_added.emit(rid, self.colors[rid], cfg)

    def pause(self) -> None:
        if self.worker is not None:
            self.worker.pause()

    def resume(self) -> None:
        if self.worker is not None:
            self.worker.resume()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def shutdown(self, timeout: float = 2.0) -> bool:
        if self.worker is None:
            return True
        ok = self.worker.shutdown(timeout)
        self.worker = None
        return ok

    # -- events (GUI thread) -------------------------------------------------------------
    def process(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, StateChanged):
                if e.run_id == COMPARISON_ID and self.worker is not None:
                    self.state = e.state
                    self.state_changed.emit(e.state)
                elif e.run_id in self.colors:
                    self.states[e.run_id] = e.state
                    self.run_state.emit(e.run_id, e.state)
            elif (
                isinstance(e, ErrorRaised)
                and e.run_id in self.colors
                and self.states.get(e.run_id) == RunState.BUILDING
            ):
                self.states[e.run_id] = RunState.ERROR  # the run could not be built (e.g. a missing data file)
                self.run_state.emit(e.run_id, RunState.ERROR)
            elif isinstance(e, RunFinished) and e.run_id in self.colors:
                self.finals[e.run_id] = dict(e.final)
                self.states[e.run_id] = e.state
                self.run_finished.emit(e.run_id, dict(e.final))

    # -- sessions ------------------------------------------------------------------------
    def records(self, timeout: float = 10.0) -> list[RunRecord]:
        """Every run as a RunRecord with weights and optimizer state, taken on the engine thread."""
        w = self.worker
        if w is None:
            return []
        box: dict[str, Any] = {}
        done = threading.Event()

        def grab(runner) -> None:
            try:
                box["records"] = runner.records()
            finally:
                done.set()

        if w.alive:
            w.call(grab)
            if not done.wait(timeout):
                raise SessionError("the comparison's engine did not answer in time; try again")
        else:
            grab(w.runner)
        recs = box.get("records", [])
        for r in recs:
            r.name = self.name_of(r.name)
        return recs

    def save_into(self, session: Session) -> None:
        """Append the comparison's runs and its layout (order, colours) to a session being saved."""
        recs = self.records()
        if not recs:
            return
        session.runs.extend(recs)
        session.meta["comparison"] = comparison_meta(
            self.spec,
            [r.name for r in recs],
            {self.name_of(k): v for k, v in self.colors.items()},
            hidden=[r.name for r in recs if self.states.get(self.run_id(r.name)) == RunState.REMOVED],
        )
