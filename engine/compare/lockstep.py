"""N trainers stepped in lockstep on one thread: one minibatch each per round.

Every run of a comparison gets the same data bundle (loaded once per distinct data set-up)
and keeps its own copy of torch's global random state, swapped in around its steps, so
nothing random (dropout layers have their own seeded generators; anything else that draws
from the global generator) depends on how many other runs share the thread: a run in a
comparison computes exactly what it computes alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import torch

from engine.config import ExperimentConfig
from engine.data import DataBundle, load_data
from engine.events import Event, RunFinished
from engine.experiment import build_trainer
from engine.session.checkpoint import capture_checkpoint, record_of
from engine.session.record import RunRecord
from engine.states import RunState
from engine.train.trainer import Trainer

RNG_OFFSET = 3  # the per-run global RNG is seeded with config.seed + 3 (model: seed, batches: +1, augment: +2)


def _data_key(cfg: ExperimentConfig) -> str:
    return json.dumps([cfg.data.model_dump(mode="json"), cfg.train.val_fraction, cfg.seed], sort_keys=True)


class LockstepRunner:
    """Owns the runs of a comparison; `step()` advances every unfinished run by one minibatch."""

    def __init__(
        self, emit: Callable[[Event], None] | None = None, trainer_factory: Callable[..., Trainer] = build_trainer
    ) -> None:
        self.emit = emit or (lambda e: None)
        self.trainer_factory = trainer_factory
        self.trainers: dict[str, Trainer] = {}
        self.removed: dict[str, RunRecord] = {}
        self._rng: dict[str, torch.Tensor] = {}
        self._data: dict[str, DataBundle] = {}
        self._reported: set[str] = set()

    # -- membership ----------------------------------------------------------------------
    def data_for(self, config: ExperimentConfig) -> DataBundle:
        key = _data_key(config)
        if key not in self._data:
            self._data[key] = load_data(config)
        return self._data[key]

    def add(self, name: str, config: ExperimentConfig) -> Trainer:
        """Build a run (same seed → same init and batches as its siblings) and start it."""
        if name in self.trainers:
            raise ValueError(f"a run named '{name}' is already in the comparison")
        t = self.trainer_factory(config, emit=self.emit, run_id=name, data=self.data_for(config))
        self._rng[name] = torch.Generator().manual_seed(config.seed + RNG_OFFSET).get_state()
        self._with_rng(name, t.start)
        t.state = RunState.RUNNING
        self.trainers[name] = t
        self._reported.discard(name)
        return t

    def remove(self, name: str) -> RunRecord:
        """Take a run out (the others keep going); returns what it recorded so far."""
        t = self.trainers.pop(name)
        t.stop()
        rec = record_of(t, name)
        rec.checkpoint = capture_checkpoint(t, rng=self._rng.pop(name, None))  # it can be continued later
        self.removed[name] = rec
        return rec

    @property
    def names(self) -> list[str]:
        return list(self.trainers)

    @property
    def active(self) -> list[str]:
        return [n for n, t in self.trainers.items() if not t.finished]

    # -- stepping ------------------------------------------------------------------------
    def _with_rng(self, name: str, fn: Callable[[], object]) -> object:
        saved = torch.get_rng_state()
        torch.set_rng_state(self._rng[name])
        try:
            return fn()
        finally:
            self._rng[name] = torch.get_rng_state()
            torch.set_rng_state(saved)

    def step(self) -> bool:
        """One minibatch for every unfinished run; True while any run is still going."""
        alive = False
        for name, t in list(self.trainers.items()):
            if t.finished:
                continue
            if self._with_rng(name, t.train_step):
                alive = True
            else:
                self._finish(name, t)
        return alive

    def _finish(self, name: str, t: Trainer) -> None:
        if name in self._reported:
            return
        self._reported.add(name)
        t.flush()
        self.emit(RunFinished(name, t.final_metrics(), t.state))

    def flush(self) -> None:
        for t in self.trainers.values():
            t.flush()

    def stop(self) -> None:
        """Stop every run still going (each reports RunFinished once)."""
        for name in self.active:
            t = self.trainers[name]
            t.stop()
            self._finish(name, t)

    def run(self, max_rounds: int | None = None, on_round: Callable[[int], None] | None = None) -> int:
        """Step until every run is over (or max_rounds rounds); returns the rounds taken."""
        n = 0
        while self.step():
            n += 1
            if on_round is not None:
                on_round(n)
            if max_rounds is not None and n >= max_rounds:
                self.flush()
                break
        return n

    def records(self, checkpoints: bool = True) -> list[RunRecord]:
        """Every run (removed ones last) as a RunRecord, with weights and optimizer state."""
        out = []
        for name, t in self.trainers.items():
            rec = record_of(t, name)
            if checkpoints:
                rec.checkpoint = capture_checkpoint(t, rng=self._rng.get(name))
            out.append(rec)
        out.extend(self.removed.values())
        return out
