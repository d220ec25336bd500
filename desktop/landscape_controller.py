"""Surface jobs for the Landscape tab: the weights to evaluate, the job, the cache.

The Landscape view asks for a surface (`compute`) and draws what comes back through the
signals. Live weights are copied on the engine thread between two steps
(AppController.with_trainer); the job (engine.landscape.analysis.landscape_job) runs on the
app's JobRunner, waits there for that copy, and delivers coarse previews first. A new
request cancels the running one; cancelling keeps whatever the view shows.
"""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from desktop.jobs import runner_for
from engine.jobs import Job, Progress
from engine.states import RunState

if TYPE_CHECKING:  # torch: imported when a surface is asked for, not before the window paints
    from engine.landscape.analysis import LandscapeRequest, LandscapeResult, SurfaceCache

SNAPSHOT_TIMEOUT_S = 5.0
JOB_KEY = "landscape:surface"


class _EngineCopy:
    """A value filled on the engine thread between two steps and awaited on a job's thread."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.value: Any = None
        self.error = ""

    def fill(self, fn) -> None:
        try:
            self.value = fn()
        except Exception as e:  # noqa: BLE001 - reported by the job that waits for it
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.ready.set()

    def wait(self) -> Job[Any]:
        """A job step: wait (cancellably) for the copy; raises LandscapeError on failure."""
        from engine.landscape.params import LandscapeError

        waited = 0.0
        while not self.ready.wait(0.05):
            waited += 0.05
            if waited >= SNAPSHOT_TIMEOUT_S:
                raise LandscapeError("the engine did not hand over the weights in time; try again")
            yield Progress(0.0, "waiting for the engine's weights")
        if self.error:
            raise LandscapeError(self.error)
        return self.value


class LandscapeController(QObject):
    """Computes surfaces for the Landscape view: `compute()`, `cancel()`, `busy`, and the
    signals `preview` (surface so far or None, completed level indices or None, fraction),
    `finished` (LandscapeResult, 1D line init → center or None) and `failed` (message)."""

    preview = Signal(object, object, float)
    finished = Signal(object, object)
    failed = Signal(str)

    def __init__(self, app, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app = app  # the AppController (None: only saved runs)
        self.jobs = runner_for(app)
        self._cache: SurfaceCache | None = None
        self._handle = None

    @property
    def cache(self) -> SurfaceCache:
        """The surfaces computed so far (made on first use)."""
        if self._cache is None:
            from engine.landscape.analysis import SurfaceCache

            self._cache = SurfaceCache()
        return self._cache

    @property
    def busy(self) -> bool:
        return self._handle is not None and self._handle.running

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None

    def shutdown(self) -> None:
        h = self._handle
        self.cancel()
        if h is not None:
            h.wait(5.0)

    def compute(self, request: LandscapeRequest, traj, steps, record=None, eval_samples: int | None = None) -> None:
        """Start a surface around the live run's current weights, or a saved run's (`record`)
        final weights; raises LandscapeError at once when there is nothing to evaluate."""
        self.cancel()
        weights = self._record_weights(record) if record is not None else self._live_weights(eval_samples)
        self._handle = self.jobs.submit(
            JOB_KEY,
            self._surface_job(weights, request, traj, steps),
            on_result=self._on_job_result,
            on_progress=self._on_job_progress,
            on_error=self.failed.emit,
        )

    # -- the weights -----------------------------------------------------------------------
    def _live_weights(self, eval_samples: int | None) -> _EngineCopy:
        import torch

        from engine.landscape.analysis import eval_subset
        from engine.landscape.params import LandscapeError, ParamLayout, flat_params

        app = self.app
        w = app.worker if app is not None else None
        if w is None or w.trainer is None:
            raise LandscapeError("no run yet: start training or open a session")
        n = eval_samples or app.config.landscape.eval_samples
        box = _EngineCopy()

        def grab(t) -> dict:
            if t.state == RunState.DIVERGED:
                raise LandscapeError(
                    "the run diverged: a surface around non-finite weights means nothing — "
                    "lower the learning rate and restart"
                )
            x, y = eval_subset(t.data.x_val, t.data.y_val, n)
            layout = ParamLayout.of(t.model)
            init = (
                torch.cat([t.initial_state[k].reshape(-1).float().cpu() for k in layout.names])
                if all(k in t.initial_state for k in layout.names)
                else None
            )
            return {
                "model": copy.deepcopy(t.model),
                "x": x.clone(),
                "y": y.clone(),
                "center": flat_params(t.model),
                "init": init,
            }

        def on_engine(t) -> None:
            box.fill(lambda: grab(t))

        app.with_trainer(on_engine)
        return box

    @staticmethod
    def _record_weights(rec) -> _EngineCopy:
        from engine.data import load_data
        from engine.landscape.analysis import eval_subset, model_from_record

        data = load_data(rec.config)
        model, final, init = model_from_record(rec, data)
        x, y = eval_subset(data.x_val, data.y_val, rec.config.landscape.eval_samples)
        box = _EngineCopy()
        box.fill(lambda: {"model": model, "x": x, "y": y, "center": final, "init": init})
        return box

    def line_source(self, record, run_name: str):
        """Run A of the line to a saved run: a getter, called on the line's worker thread, of
        (name, config, state, model at its weights, data). Live weights are copied on the
        engine thread now; raises LandscapeError when there is no run."""
        from engine.landscape.params import LandscapeError

        if record is not None:

            def from_record():
                from engine.data import load_data
                from engine.landscape.between import record_weights

                data = load_data(record.config)
                model, _ = record_weights(record, data.n_features, data.n_classes, data.input_shape)
                return record.name, record.config, record.state, model, data

            return from_record
        app = self.app
        w = app.worker if app is not None else None
        if w is None or w.trainer is None:
            raise LandscapeError("no run yet: start training or open a session")
        box = _EngineCopy()
        app.with_trainer(lambda t: box.fill(lambda: (run_name, t.config, t.state, copy.deepcopy(t.model), t.data)))

        def from_engine():
            if not box.ready.wait(SNAPSHOT_TIMEOUT_S):
                raise LandscapeError("the engine did not hand over the weights in time; try again")
            if box.error:
                raise LandscapeError(box.error)
            return box.value

        return from_engine

    # -- the job (worker thread) ---------------------------------------------------------------
    def _surface_job(self, weights: _EngineCopy, request: LandscapeRequest, traj, steps) -> Job[tuple]:
        from engine.landscape.analysis import SurfaceCache, landscape_job, plane_for
        from engine.landscape.interpolation import line_losses
        from engine.landscape.params import LandscapeError, ParamLayout
        from engine.landscape.surface import SurfaceEvaluator

        w = yield from weights.wait()
        model, x, y, center, init = w["model"], w["x"], w["y"], w["center"], w["init"]
        plane = plane_for(request, center, ParamLayout.of(model), traj, init)
        evaluator = SurfaceEvaluator(model, x, y)
        key = SurfaceCache.key(center, request, int(x.shape[0]), 0 if traj is None else len(traj))
        cached = self.cache.get(key)
        if cached is not None:
            return cached, None
        result = yield from landscape_job(evaluator, plane, request, traj, steps)
        line = None
        if init is not None and float((center - init).norm()) > 0:
            yield Progress(1.0, "the line from the initial weights")
            try:
                line = line_losses(evaluator, init, center, n=41)
            except LandscapeError:
                line = None
        self.cache.put(key, result)
        return result, line

    # -- results (GUI thread) ----------------------------------------------------------------
    def _on_job_progress(self, p: Progress) -> None:
        surf, level = p.preview if p.preview is not None else (None, None)
        self.preview.emit(surf, level, p.fraction)

    def _on_job_result(self, value: tuple[LandscapeResult, Any]) -> None:
        self._handle = None
        self.finished.emit(*value)
