"""Early stopping with patience: keep the weights of the best validation epoch and put
them back when the validation loss has not improved for `patience` epochs (or when the
run reaches its last epoch), so the model the run ends with is the best one seen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.events import Notice
from engine.train.hooks import TrainerHook

if TYPE_CHECKING:
    from engine.session.record import RunRecord
    from engine.train.context import RunContext


class EarlyStoppingHook(TrainerHook):
    """Watches epoch/val_loss; restores the best state_dict (weights and BN buffers)."""

    name = "early_stopping"

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.best_loss = float("inf")
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.wait = 0
        self.stopped_epoch = 0
        self.restored = False

    @torch.no_grad()
    def on_epoch_end(self, ctx: RunContext, metrics: Mapping[str, float]) -> None:
        loss = metrics["val_loss"]
        if loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = loss, ctx.epoch, 0
            self.best_state = {k: v.detach().clone() for k, v in ctx.model.state_dict().items()}
        else:
            self.wait += 1
        ctx.record_epoch("best_epoch", float(self.best_epoch), series=False)
        last = ctx.epoch >= ctx.config.train.epochs
        if self.wait >= self.patience and not last:
            self.stopped_epoch = ctx.epoch
            self._restore(ctx)
            ctx.request_stop(
                f"early stopping at epoch {ctx.epoch}: no val-loss improvement for "
                f"{self.patience} epochs; restored the weights of epoch {self.best_epoch} "
                f"(val loss {self.best_loss:.4g})"
            )
        elif last and self.best_epoch != ctx.epoch:
            self.stopped_epoch = ctx.epoch
            self._restore(ctx)
            ctx.emit(
                Notice(
                    ctx.run_id,
                    f"restored the weights of the best epoch {self.best_epoch} (val loss {self.best_loss:.4g})",
                )
            )

    def _restore(self, ctx: RunContext) -> None:
        if self.best_state is not None:
            ctx.model.load_state_dict(self.best_state)
            self.restored = True

    def export(self, record: RunRecord) -> None:
        record.meta["early_stopping"] = self.summary()

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "best_loss": self.best_loss,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "restored": self.restored,
        }
        for k, v in (self.best_state or {}).items():
            out[f"best_state/{k}"] = v.detach().cpu().numpy().copy()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_loss = float(state.get("best_loss", self.best_loss))
        self.best_epoch = int(state.get("best_epoch", self.best_epoch))
        self.wait = int(state.get("wait", self.wait))
        self.stopped_epoch = int(state.get("stopped_epoch", self.stopped_epoch))
        self.restored = bool(state.get("restored", self.restored))
        head = "best_state/"
        best = {k[len(head) :]: torch.from_numpy(np.array(v)) for k, v in state.items() if k.startswith(head)}
        self.best_state = best or None

    def summary(self) -> dict[str, Any]:
        return {
            "best_epoch": self.best_epoch,
            "best_val_loss": self.best_loss,
            "stopped_epoch": self.stopped_epoch,
            "restored": self.restored,
            "patience": self.patience,
        }
