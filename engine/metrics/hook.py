"""MetricsHook: the classification metrics on the validation set after every epoch.

The cost is bounded: at most `metrics.max_samples` validation samples (the first ones:
the split is already shuffled, so this is a deterministic random subset), one forward
pass in eval mode, and sklearn on small arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import sklearn
import torch

from engine.config import MetricsConfig
from engine.events import Payload
from engine.metrics.classification import classification_report
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext

PER_EPOCH = ("precision", "recall", "f1", "roc_auc", "average_precision")


class MetricsHook(TrainerHook):
    name = "metrics"

    def __init__(self, cfg: MetricsConfig) -> None:
        self.cfg = cfg
        self.epochs: list[int] = []
        self.steps: list[int] = []
        self.history: dict[str, list[np.ndarray]] = {
            k: [] for k in PER_EPOCH + ("confusion", "accuracy", "roc_auc_macro")
        }
        self.latest: dict[str, Any] | None = None
        self.labels: np.ndarray | None = None
        self.probs: np.ndarray | None = None

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
        if not last and (ctx.epoch % self.cfg.every or (self.steps and ctx.step - self.steps[-1] < self.cfg.min_steps)):
            return
        labels, probs = self._predict(ctx)
        if not np.isfinite(probs).all():
            return  # a diverging run: the diagnostics report it; metrics of NaN outputs mean nothing
        # Inputs are checked finite above: sklearn may skip its own (costly) validation.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            rep = classification_report(labels, probs, ctx.data.n_classes, self.cfg.curve_points)
        self.labels, self.probs = labels, probs.astype(np.float32)
        self.epochs.append(ctx.epoch)
        self.steps.append(ctx.step)
        for k in PER_EPOCH + ("confusion",):
            self.history[k].append(rep[k])
        self.history["accuracy"].append(np.float64(rep["accuracy"]))
        self.history["roc_auc_macro"].append(np.float64(rep["roc_auc_macro"]))
        self.latest = rep
        data = {
            "epoch": ctx.epoch,
            "step": ctx.step,
            "n_classes": ctx.data.n_classes,
            "labels": labels,
            "probs": self.probs,
        }
        data.update({k: v for k, v in rep.items() if k != "curves"})
        data["curves"] = rep["curves"]
        ctx.emit(Payload(ctx.run_id, "metrics", data, droppable=True))

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        if not self.epochs:
            return {}
        assert self.latest is not None and self.labels is not None and self.probs is not None
        curves = self.latest["curves"]
        out: dict[str, Any] = {
            "epochs": np.array(self.epochs, dtype=np.int64),
            "steps": np.array(self.steps, dtype=np.int64),
            "labels": self.labels,
            "probs": self.probs,
            "curve_names": list(curves),
            "scored_classes": [int(c) for c in self.latest["scored_classes"]],
        }
        for k, v in self.history.items():
            out[f"history/{k}"] = np.stack(v)
        for i, curve in enumerate(curves.values()):
            out[f"curve/{i}"] = np.asarray(curve)
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "epochs" not in state:
            return
        self.epochs = [int(e) for e in state["epochs"]]
        self.steps = [int(s) for s in state["steps"]]
        for k in self.history:
            self.history[k] = list(np.asarray(state[f"history/{k}"]))
        self.labels, self.probs = np.asarray(state["labels"]), np.asarray(state["probs"])
        # The last report as export reads it: its per-epoch values, curves and scored classes.
        latest: dict[str, Any] = {k: v[-1] for k, v in self.history.items()}
        latest["curves"] = {name: np.asarray(state[f"curve/{i}"]) for i, name in enumerate(state["curve_names"])}
        latest["scored_classes"] = list(state["scored_classes"])
        self.latest = latest

    def export(self, record: RunRecord) -> None:
        if not self.epochs:
            return
        record.arrays["metrics/epochs"] = np.array(self.epochs, dtype=np.int64)
        record.arrays["metrics/steps"] = np.array(self.steps, dtype=np.int64)
        for k, v in self.history.items():
            record.arrays[f"metrics/{k}"] = np.stack(v)
        assert self.latest is not None
        for name, curve in self.latest["curves"].items():
            record.arrays[f"metrics/curves/{name.replace('/', '_')}"] = curve
        record.arrays["metrics/labels"] = self.labels
        record.arrays["metrics/probs"] = self.probs
        record.meta["metrics"] = {
            "n_classes": int(self.probs.shape[1]),
            "scored_classes": [int(c) for c in self.latest["scored_classes"]],
            "max_samples": self.cfg.max_samples,
        }
