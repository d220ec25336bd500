"""The landscape hook: parameter snapshots every K steps and the sharpness every K epochs,
streamed as LandscapeSnapshot events and saved in the run record."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.config import LandscapeConfig
from engine.landscape.params import ParamLayout
from engine.landscape.sharpness import top_hessian_eigenvalue
from engine.landscape.snapshot import LandscapeSnapshot, to_record
from engine.landscape.trajectory import TrajectoryBuffer
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext

EMIT_INTERVAL_S = 0.25
SHARPNESS_SAMPLES = 256  # a fixed training subset: enough for λ_max, cheap on the training thread


class LandscapeHook(TrainerHook):
    """Copies the flat parameters every `landscape.snapshot_every` steps (cheap: one cat of
    the parameters; on a GPU the copies stay on the device until the next epoch end) and
    estimates λ_max of the training-loss Hessian every `landscape.sharpness_every` epochs."""

    name = "landscape"

    def __init__(self, cfg: LandscapeConfig) -> None:
        self.cfg = cfg
        self.layout = ParamLayout((), (), ())
        self.traj: TrajectoryBuffer | None = None
        self._params: list[torch.Tensor] = []
        self._pending: list[tuple[int, torch.Tensor]] = []
        self._new_steps: list[int] = []
        self._new_rows: list[np.ndarray] = []
        self._t_emit = time.perf_counter()
        self.sharpness: list[tuple[int, int, float, float]] = []  # epoch, step, λ_max, lr
        self._eig_vec: torch.Tensor | None = None
        self._sharp_x = self._sharp_y = torch.zeros(0)
        self._finished = False
        self._model: torch.nn.Module | None = None

    def setup(self, ctx: RunContext) -> None:
        cfg = self.cfg
        self.layout = ParamLayout.of(ctx.model)
        self.traj = TrajectoryBuffer(self.layout.size, cfg.snapshot_every, cfg.max_snapshots) if cfg.snapshots else None
        self._params = [dict(ctx.model.named_parameters())[n] for n in self.layout.names]
        n = min(cfg.eval_samples, SHARPNESS_SAMPLES, int(ctx.data.x_train.shape[0]))
        self._sharp_x = ctx.data.x_train[:n]
        self._sharp_y = ctx.data.y_train[:n]
        self._model = ctx.model

    # -- snapshots -------------------------------------------------------------------------
    def _snap(self, ctx: RunContext) -> None:
        with torch.no_grad():
            vec = torch.cat([p.detach().reshape(-1) for p in self._params])
        if vec.device.type == "cpu":
            self._store(ctx.step, vec.float())
        else:
            self._pending.append((ctx.step, vec.float()))

    def _store(self, step: int, vec: torch.Tensor) -> None:
        assert self.traj is not None
        self.traj.add(step, vec)
        self._new_steps.append(step)
        self._new_rows.append(self.traj.params[-1].copy())

    def _drain_pending(self) -> None:
        for step, vec in self._pending:
            self._store(step, vec.cpu())
        self._pending = []

    def _emit_snapshots(self, ctx: RunContext, force: bool = False) -> None:
        if not self._new_steps:
            return
        if not force and time.perf_counter() - self._t_emit < EMIT_INTERVAL_S:
            return
        self._drain_pending()
        steps = np.asarray(self._new_steps, dtype=np.int64)
        ctx.emit(self._snapshot(ctx.run_id, steps, np.stack(self._new_rows), np.zeros((0, 4))))
        self._new_steps, self._new_rows = [], []
        self._t_emit = time.perf_counter()

    def _snapshot(self, run_id: str, steps: np.ndarray, params: np.ndarray, sharpness: np.ndarray) -> LandscapeSnapshot:
        every, thinned = (self.traj.every, self.traj.thinned) if self.traj is not None else (0, 0)
        return LandscapeSnapshot(
            run_id,
            self.layout.names,
            self.layout.size,
            every,
            thinned,
            steps,
            params.astype(np.float32, copy=False),
            sharpness,
        )

    def on_start(self, ctx: RunContext) -> None:
        if self.traj is not None:
            self._snap(ctx)
            self._drain_pending()
            self._emit_snapshots(ctx, force=True)

    def after_step(self, ctx: RunContext) -> None:
        if self.traj is not None and ctx.step % self.traj.every == 0:
            self._snap(ctx)
            if not self._pending:
                self._emit_snapshots(ctx)

    # -- sharpness -------------------------------------------------------------------------
    def measure_sharpness(self, ctx: RunContext) -> float:
        """λ_max on the fixed training subset, warm-started from the last eigenvector."""
        lam, self._eig_vec, _ = top_hessian_eigenvalue(
            ctx.model,
            self._sharp_x,
            self._sharp_y,
            iters=self.cfg.sharpness_iters,
            tol=1e-3,
            v0=self._eig_vec,
            seed=ctx.config.seed,
        )
        lr = ctx.lr
        self.sharpness.append((ctx.epoch, ctx.step, lam, lr))
        row = np.array([[ctx.epoch, ctx.step, lam, lr]], dtype=np.float64)
        ctx.emit(self._snapshot(ctx.run_id, np.zeros(0, np.int64), np.zeros((0, self.layout.size)), row))
        return lam

    def on_epoch_end(self, ctx: RunContext, metrics: Mapping[str, float]) -> None:
        if self.traj is not None:
            self._drain_pending()
            self._emit_snapshots(ctx, force=True)
        k = self.cfg.sharpness_every
        if k and (ctx.epoch % k == 0 or ctx.epoch == 1) and np.isfinite(metrics.get("train_loss", np.nan)):
            self.measure_sharpness(ctx)

    def on_finish(self, ctx: RunContext) -> None:
        if self._finished:
            return
        self._finished = True
        if self.traj is not None:
            self._drain_pending()
            with torch.no_grad():
                vec = torch.cat([p.detach().reshape(-1) for p in self._params]).float().cpu()
            # The path ends at the weights the run ends with (early stopping may have
            # restored earlier, better ones after the last snapshot).
            if self.traj.count == 0 or self.traj.steps[-1] != ctx.step:
                self._store(ctx.step, vec)
            elif not np.array_equal(self.traj.params[-1], vec.numpy()):
                self.traj.add(ctx.step, vec, replace=True)
                self._new_steps.append(ctx.step)
                self._new_rows.append(vec.numpy().copy())
            self._emit_snapshots(ctx, force=True)

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        self._drain_pending()
        out: dict[str, Any] = {"finished": self._finished}
        if self.traj is not None:
            out.update(
                {
                    "trajectory": self.traj.params.copy(),
                    "trajectory_steps": self.traj.steps,
                    "every": self.traj.every,
                    "thinned": self.traj.thinned,
                }
            )
        out["sharpness"] = np.asarray(self.sharpness, dtype=np.float64).reshape(-1, 4)
        if self._eig_vec is not None:  # the warm start of the next λ_max estimate
            out["eig_vec"] = self._eig_vec.detach().cpu().numpy().copy()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._finished = bool(state.get("finished", False))
        traj = self.traj
        if traj is not None and "trajectory" in state:
            params, steps = np.asarray(state["trajectory"]), np.asarray(state["trajectory_steps"])
            traj.count = 0
            for step, row in zip(steps, params):
                traj.add(int(step), row)
            traj.every, traj.thinned = int(state["every"]), int(state["thinned"])
        rows = np.asarray(state.get("sharpness", np.zeros((0, 4))), dtype=np.float64).reshape(-1, 4)
        self.sharpness = [(int(e), int(s), float(lam), float(lr)) for e, s, lam, lr in rows]
        vec = state.get("eig_vec")
        dev = self._sharp_x.device
        self._eig_vec = torch.from_numpy(np.array(vec)).to(dev) if vec is not None else None

    # -- session ---------------------------------------------------------------------------
    def export(self, record: RunRecord) -> None:
        self._drain_pending()
        if self.traj is not None:
            steps, params = self.traj.steps, self.traj.params.copy()
        else:
            steps, params = np.zeros(0, np.int64), np.zeros((0, self.layout.size), np.float32)
        sharpness = np.asarray(self.sharpness, dtype=np.float64).reshape(-1, 4)
        arrays, meta = to_record([self._snapshot(record.name, steps, params, sharpness)])
        record.arrays.update(arrays)
        # (other entries of meta["landscape"], e.g. a surface's, stay)
        record.meta["landscape"] = {**record.meta.get("landscape", {}), **meta["landscape"]}
        if not any(k.startswith("weights/") for k in record.arrays):
            # The weights the record ends with (buffers too: batch norm needs its statistics).
            assert self._model is not None
            for k, v in self._model.state_dict().items():
                record.arrays[f"weights/{k}"] = v.detach().cpu().numpy().copy()
