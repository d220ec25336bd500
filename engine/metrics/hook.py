"""MetricsHook: the classification metrics on the validation set after every epoch.

The cost is bounded: at most `metrics.max_samples` validation samples (the first ones:
the split is already shuffled, so this is a deterministic random subset), one forward
pass in eval mode, and sklearn on small arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.config import MetricsConfig
from engine.metrics.classification import classification_report
from engine.metrics.snapshot import PREFIX, MetricsSnapshot, read, to_record
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext


class MetricsHook(TrainerHook):
    name = "metrics"

    def __init__(self, cfg: MetricsConfig) -> None:
        self.cfg = cfg
        # One per evaluation; only the last keeps its predictions and curves (what the
        # session stores).
        self.snapshots: list[MetricsSnapshot] = []
        self._run_id = ""

    @property
    def latest(self) -> MetricsSnapshot | None:
        return self.snapshots[-1] if self.snapshots else None

    def setup(self, ctx: RunContext) -> None:
        self._run_id = ctx.run_id

    @torch.no_grad()
    def _predict(self, ctx: RunContext) -> tuple[np.ndarray, np.ndarray]:
        n = self.cfg.max_samples
        x, y = ctx.data.x_val[:n], ctx.data.y_val[:n]
        model = ctx.model
        was = model.training
        model.eval()
        try:
            probs = torch.softmax(model(x).float(), dim=1)
        finally:
            model.train(was)
        return y.cpu().numpy(), probs.cpu().double().numpy()

    def on_epoch_end(self, ctx: RunContext, metrics: Mapping[str, float]) -> None:
        last = ctx.epoch >= ctx.config.train.epochs
        recent = self.snapshots and ctx.step - self.snapshots[-1].step < self.cfg.min_steps
        if not last and (ctx.epoch % self.cfg.every or recent):
            return
        labels, probs = self._predict(ctx)
        if not np.isfinite(probs).all():
            return  # a diverging run: the diagnostics report it; metrics of NaN outputs mean nothing
        import sklearn  # scikit-learn loads on first use, not with the window

        # Inputs are checked finite above: sklearn may skip its own (costly) validation.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            rep = classification_report(labels, probs, ctx.data.n_classes, self.cfg.curve_points)
        snap = MetricsSnapshot(
            ctx.run_id,
            epoch=ctx.epoch,
            step=ctx.step,
            n_classes=ctx.data.n_classes,
            accuracy=float(rep["accuracy"]),
            roc_auc_macro=float(rep["roc_auc_macro"]),
            confusion=rep["confusion"],
            precision=rep["precision"],
            recall=rep["recall"],
            f1=rep["f1"],
            roc_auc=rep["roc_auc"],
            average_precision=rep["average_precision"],
            scored_classes=rep["scored_classes"],
            labels=labels,
            probs=probs.astype(np.float32),
            curves=rep["curves"],
            max_samples=self.cfg.max_samples,
        )
        if self.snapshots:
            self.snapshots[-1] = self.snapshots[-1].without_predictions()
        self.snapshots.append(snap)
        ctx.emit(snap)

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        arrays, meta = to_record(self.snapshots)
        return {**arrays, "meta": meta[PREFIX]} if self.snapshots else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        meta = state.get("meta")
        self.snapshots = read(state, {PREFIX: meta}, self._run_id) if isinstance(meta, dict) else []

    def export(self, record: RunRecord) -> None:
        arrays, meta = to_record(self.snapshots)
        record.arrays.update(arrays)
        record.meta.update(meta)
