"""Checkpoints: what a run needs to continue exactly where it stopped.

Weights (model state dict), optimizer state, learning-rate schedule state, the batch
order (the epoch's permutation, the position in it and the batch generator's state), the
running sums of the current epoch and the run's own global random state (dropout). All
arrays are plain numeric .npy members and everything else is JSON: no pickle.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from engine.events import Event
    from engine.session.record import RunRecord
    from engine.train.trainer import Trainer


class CheckpointError(ValueError):
    """A checkpoint that does not fit the run it should continue."""


@dataclass
class Checkpoint:
    """`arrays`: model/<key>, optim/<param index>/<key>, rng/batch, rng/global, rng/dropout/<i>, perm;
    `meta`: step, epoch, position in the epoch, optimizer groups, schedule, epoch sums."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().contiguous().numpy().copy()


def _jsonable(obj: Any) -> Any:
    """obj if it survives a JSON round trip, else None (a schedule holding a function)."""
    try:
        return json.loads(json.dumps(obj, allow_nan=True))
    except (TypeError, ValueError):
        return None


def _dropout_states(model: torch.nn.Module) -> list:
    """The model's dropout generators' states (models with seeded dropout layers), else []."""
    try:
        from engine.model.mlp import dropout_rng_states
    except ImportError:
        return []
    return dropout_rng_states(model)


def capture_checkpoint(trainer: Trainer, rng: torch.Tensor | None = None) -> Checkpoint:
    """Snapshot a trainer between two steps (call on its engine thread, after a flush)."""
    ck = Checkpoint()
    for k, v in trainer.model.state_dict().items():
        ck.arrays[f"model/{k}"] = _np(v)
    sd = trainer.optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                ck.arrays[f"optim/{int(idx)}/{k}"] = _np(v)
            else:
                scalars.setdefault(str(int(idx)), {})[k] = v
    ck.arrays["rng/batch"] = _np(trainer.batch_generator.get_state())
    ck.arrays["rng/global"] = _np(rng if rng is not None else torch.get_rng_state())
    aug = getattr(trainer, "augment", None)
    if aug is not None and hasattr(aug, "generator"):
        ck.arrays["rng/augment"] = _np(aug.generator.get_state())
    if trainer._perm is not None:
        ck.arrays["perm"] = _np(trainer._perm)
    for i, st in enumerate(_dropout_states(trainer.model)):
        if st is not None:
            ck.arrays[f"rng/dropout/{i}"] = _np(st)
    ck.meta = {
        "step": int(trainer.step),
        "epoch": int(trainer.epoch),
        "pos": int(trainer._pos),
        "optimizer": {
            "class": type(trainer.optimizer).__name__,
            "param_groups": _jsonable(sd["param_groups"]),
            "scalars": _jsonable(scalars) or {},
        },
        "schedule": _jsonable(trainer.schedule.state_dict()),
        "epoch_sums": {
            "loss": float(trainer._epoch_loss_sum),
            "correct": int(trainer._epoch_correct),
            "seen": int(trainer._epoch_seen),
        },
    }
    return ck


def restore_checkpoint(trainer: Trainer, ck: Checkpoint, series: dict[str, np.ndarray] | None = None) -> torch.Tensor:
    """Put a fresh trainer (same config apart from train.epochs) in the saved state.

    Returns the run's global random state (to set before its next step). Raises
    CheckpointError naming what does not match."""
    m = ck.meta
    model_sd = trainer.model.state_dict()
    saved = {k[len("model/") :]: v for k, v in ck.arrays.items() if k.startswith("model/")}
    if set(saved) != set(model_sd):
        raise CheckpointError(
            "the saved weights do not match the model built from the config "
            f"({len(saved)} tensors saved, {len(model_sd)} expected)"
        )
    for k, v in saved.items():
        if tuple(v.shape) != tuple(model_sd[k].shape):
            raise CheckpointError(
                f"weight '{k}' has shape {tuple(v.shape)}, the model expects {tuple(model_sd[k].shape)}"
            )
    dev = trainer.device
    trainer.model.load_state_dict({k: torch.from_numpy(np.array(v)).to(dev) for k, v in saved.items()})
    opt = m.get("optimizer", {})
    if opt.get("class") != type(trainer.optimizer).__name__:
        raise CheckpointError(
            f"the optimizer state is for {opt.get('class')}, the config builds {type(trainer.optimizer).__name__}"
        )
    state: dict[int, dict[str, Any]] = {}
    for k, v in ck.arrays.items():
        if k.startswith("optim/"):
            _, idx, name = k.split("/", 2)
            # CPU tensors: load_state_dict moves them to the parameters' device (and keeps `step` where torch wants it)
            state.setdefault(int(idx), {})[name] = torch.from_numpy(np.array(v))
    for idx, sc in (opt.get("scalars") or {}).items():
        state.setdefault(int(idx), {}).update(sc)
    groups = opt.get("param_groups")
    if groups is not None:
        try:
            trainer.optimizer.load_state_dict({"state": state, "param_groups": groups})
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"the optimizer state does not fit: {e}") from None
    if m.get("schedule") is not None:
        trainer.schedule.load_state_dict(m["schedule"])
    trainer.batch_generator.set_state(torch.from_numpy(np.array(ck.arrays["rng/batch"], dtype=np.uint8)))
    aug = getattr(trainer, "augment", None)
    if aug is not None and "rng/augment" in ck.arrays:
        aug.generator.set_state(torch.from_numpy(np.array(ck.arrays["rng/augment"], dtype=np.uint8)))
    if "perm" in ck.arrays:
        trainer._perm = torch.from_numpy(np.array(ck.arrays["perm"])).to(dev)
    n_drop = len(_dropout_states(trainer.model))
    if n_drop:
        from engine.model.mlp import set_dropout_rng_states

        set_dropout_rng_states(
            trainer.model,
            [
                torch.from_numpy(np.array(ck.arrays[f"rng/dropout/{i}"], dtype=np.uint8))
                if f"rng/dropout/{i}" in ck.arrays
                else None
                for i in range(n_drop)
            ],
        )
    trainer.step, trainer.epoch, trainer._pos = int(m["step"]), int(m["epoch"]), int(m["pos"])
    trainer.schedule.step_count = int((m.get("schedule") or {}).get("step_count", trainer.step))
    sums = m.get("epoch_sums", {})
    trainer._epoch_loss_sum = float(sums.get("loss", 0.0))
    trainer._epoch_correct = int(sums.get("correct", 0))
    trainer._epoch_seen = int(sums.get("seen", 0))
    with torch.no_grad():
        torch._foreach_copy_(trainer._good_params, [p.detach() for p in trainer.model.parameters()])
    if series:
        from engine.train.trainer import Series

        trainer.series = {}
        for k, v in series.items():
            s = Series()
            s.extend(v)
            trainer.series[k] = s
    return torch.from_numpy(np.array(ck.arrays["rng/global"], dtype=np.uint8))


def continue_run(
    record: RunRecord,
    epochs: int | None = None,
    emit: Callable[[Event], None] | None = None,
    run_id: str | None = None,
) -> tuple[Trainer, torch.Tensor]:
    """A trainer that continues a saved run (optionally with more epochs in total).

    Returns the trainer and its global random state; set it with torch.set_rng_state
    before stepping to get exactly the steps the run would have taken."""
    from engine.train.trainer import Trainer

    if record.checkpoint is None:
        raise CheckpointError(f"run '{record.name}' was saved without weights; it cannot be continued")
    cfg = record.config
    done = int(record.checkpoint.meta.get("epoch", 0))
    if epochs is not None:
        if epochs <= done:
            raise CheckpointError(f"run '{record.name}' already has {done} epochs; ask for more than that")
        cfg = cfg.with_updates({"train.epochs": epochs})
    t = Trainer(cfg, emit=emit, run_id=run_id or record.name)
    rng = restore_checkpoint(t, record.checkpoint, record.series)
    return t, rng
