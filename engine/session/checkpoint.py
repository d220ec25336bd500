"""Checkpoints: what a run needs to continue exactly where it stopped, as a file can hold it.

A checkpoint is `Trainer.state_dict()` laid out as plain numeric arrays and JSON (no
pickle): weights and buffers, optimizer state, learning-rate schedule, the batch order
(the epoch's permutation, the position in it and the batch generator's state), the
augmentation and dropout generators, the run's own global random state, the running sums
of the current epoch, the last good weights and every hook's state. The series are not in
it: the session stores them beside it (RunRecord.series). `record_of` is the rest of what
a run produced (series, final metrics, the features' exports).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.session.record import Checkpoint, RunRecord
from engine.states import RunState

if TYPE_CHECKING:
    from engine.events import Event
    from engine.train.trainer import Trainer


class CheckpointError(ValueError):
    """A checkpoint that does not fit the run it should continue."""


def _np(t: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(t, np.ndarray):
        return t.copy()
    return t.detach().cpu().contiguous().numpy().copy()


def _tensor(a: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.uint8 if dtype == torch.uint8 else None))


def _jsonable(obj: Any) -> Any:
    """obj if it survives a JSON round trip, else None (a schedule holding a function)."""
    try:
        return json.loads(json.dumps(obj, allow_nan=True))
    except (TypeError, ValueError):
        return None


def checkpoint_of_state(state: dict[str, Any]) -> Checkpoint:
    """A Trainer.state_dict() as arrays and JSON (its series left out)."""
    ck = Checkpoint()
    for k, v in state["model"].items():
        ck.arrays[f"model/{k}"] = _np(v)
    opt = state["optimizer"]
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in opt["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                ck.arrays[f"optim/{int(idx)}/{k}"] = _np(v)
            else:
                scalars.setdefault(str(int(idx)), {})[k] = v
    rng = state["rng"]
    ck.arrays["rng/batch"] = _np(rng["batch"])
    ck.arrays["rng/global"] = _np(rng["global"])
    if rng.get("augment") is not None:
        ck.arrays["rng/augment"] = _np(rng["augment"])
    if state.get("perm") is not None:
        ck.arrays["perm"] = _np(state["perm"])
    for i, st in enumerate(rng.get("dropout") or []):
        if st is not None:
            ck.arrays[f"rng/dropout/{i}"] = _np(st)
    for i, g in enumerate(state.get("good_params") or []):
        ck.arrays[f"good/{i}"] = _np(g)
    for i, b in enumerate(state.get("good_buffers") or []):
        ck.arrays[f"good_buffers/{i}"] = _np(b)
    hooks_meta: dict[str, dict[str, Any]] = {}
    for name, hs in (state.get("hooks") or {}).items():
        meta = hooks_meta[name] = {}
        for k, v in hs.items():
            if isinstance(v, np.ndarray):
                ck.arrays[f"hooks/{name}/{k}"] = v
            else:
                meta[k] = _jsonable(v)
    ck.meta = {
        "step": int(state["step"]),
        "epoch": int(state["epoch"]),
        "pos": int(state["pos"]),
        "optimizer": {
            "class": opt["class"],
            "param_groups": _jsonable(opt["param_groups"]),
            "scalars": _jsonable(scalars) or {},
        },
        "schedule": _jsonable(state["schedule"]),
        "epoch_sums": dict(state["epoch_sums"]),
        "loss_ref": state.get("loss_ref"),
        "pending_ok": bool(state.get("pending_ok", True)),
        "hooks": hooks_meta,
    }
    return ck


def state_of_checkpoint(ck: Checkpoint) -> dict[str, Any]:
    """The Trainer.state_dict() a checkpoint holds (without series). Checkpoints written
    before hook states and last good weights were saved give the entries they have."""
    m, a = ck.meta, ck.arrays
    model = {k[len("model/") :]: _tensor(v) for k, v in a.items() if k.startswith("model/")}
    opt = m.get("optimizer", {})
    st: dict[int, dict[str, Any]] = {}
    for k, v in a.items():
        if k.startswith("optim/"):
            _, idx, name = k.split("/", 2)
            st.setdefault(int(idx), {})[name] = _tensor(v)
    for idx, sc in (opt.get("scalars") or {}).items():
        st.setdefault(int(idx), {}).update(sc)
    n_drop = 1 + max((int(k.rsplit("/", 1)[1]) for k in a if k.startswith("rng/dropout/")), default=-1)
    good = sorted((int(k[len("good/") :]), v) for k, v in a.items() if k.startswith("good/"))
    good_buffers = sorted((int(k[len("good_buffers/") :]), v) for k, v in a.items() if k.startswith("good_buffers/"))
    hooks: dict[str, dict[str, Any]] = {name: dict(js) for name, js in (m.get("hooks") or {}).items()}
    for k, v in a.items():
        if k.startswith("hooks/"):
            _, name, key = k.split("/", 2)
            hooks.setdefault(name, {})[key] = v
    return {
        "step": int(m["step"]),
        "epoch": int(m["epoch"]),
        "pos": int(m["pos"]),
        "model": model,
        "optimizer": {"class": opt.get("class"), "state": st, "param_groups": opt.get("param_groups")},
        "schedule": m.get("schedule"),
        "perm": _tensor(a["perm"]) if "perm" in a else None,
        "rng": {
            "batch": _tensor(a["rng/batch"], torch.uint8),
            "global": _tensor(a["rng/global"], torch.uint8),
            "augment": _tensor(a["rng/augment"], torch.uint8) if "rng/augment" in a else None,
            "dropout": [
                _tensor(a[f"rng/dropout/{i}"], torch.uint8) if f"rng/dropout/{i}" in a else None for i in range(n_drop)
            ],
        },
        "epoch_sums": m.get("epoch_sums", {}),
        "good_params": [_tensor(v) for _, v in good] if good else None,
        "good_buffers": [_tensor(v) for _, v in good_buffers] if good_buffers else None,
        "loss_ref": m.get("loss_ref"),
        "pending_ok": m.get("pending_ok", True),
        "hooks": hooks,
    }


def capture_checkpoint(trainer: Trainer, rng: torch.Tensor | None = None) -> Checkpoint:
    """Snapshot a trainer between two steps (call on its engine thread). `rng`: the run's
    own global random state where it is kept apart from torch's (a comparison)."""
    state = trainer.state_dict()
    if rng is not None:
        state["rng"]["global"] = rng
    return checkpoint_of_state(state)


NUMERIC = "biuf"  # numpy dtype kinds a checkpoint array may hold
INDEXED = ("good/", "good_buffers/", "rng/dropout/")  # <prefix><int>


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_checkpoint(ck: Checkpoint) -> None:
    """Raise CheckpointError naming the member when the checkpoint's arrays or meta are not
    of the types `checkpoint_of_state` writes (what the Trainer checks is left to it)."""
    a, m = ck.arrays, ck.meta
    if not isinstance(a, dict) or not isinstance(m, dict):
        raise CheckpointError("the checkpoint's arrays or meta are not mappings")
    for k, v in a.items():
        if not isinstance(v, np.ndarray) or v.dtype.kind not in NUMERIC:
            raise CheckpointError(f"checkpoint member '{k}' is not a numeric array")
        index = next((k[len(p) :] for p in INDEXED if k.startswith(p)), None)
        if index is not None and not index.isdigit():
            raise CheckpointError(f"checkpoint member '{k}' has no layer index")
        parts = k.split("/")
        if k.startswith("optim/") and (len(parts) != 3 or not parts[1].isdigit()):
            raise CheckpointError(f"checkpoint member '{k}' is not optim/<parameter index>/<name>")
        if k.startswith("hooks/") and len(parts) < 3:
            raise CheckpointError(f"checkpoint member '{k}' is not hooks/<hook>/<name>")
    for k in ("rng/batch", "rng/global"):
        if k not in a:
            raise CheckpointError(f"checkpoint member '{k}' is missing")
        if a[k].dtype != np.uint8 or a[k].ndim != 1:
            raise CheckpointError(f"checkpoint member '{k}' is not a random state (1-D uint8)")

    def meta(key: str, ok: Callable[[Any], bool], what: str, where: dict[str, Any] = m, name: str = "") -> None:
        if key in where and not ok(where[key]):
            raise CheckpointError(f"checkpoint meta '{name or key}' is {where[key]!r:.60}, not {what}")

    for key in ("step", "epoch", "pos"):
        if key not in m:
            raise CheckpointError(f"checkpoint meta '{key}' is missing")
        meta(key, lambda v: _is_int(v) and v >= 0, "a count")
    meta("optimizer", lambda v: isinstance(v, dict), "a JSON object")
    opt = m.get("optimizer", {})
    meta("class", lambda v: isinstance(v, str), "a name", opt, "optimizer.class")
    meta("param_groups", lambda v: v is None or isinstance(v, list), "a list", opt, "optimizer.param_groups")
    if isinstance(opt.get("param_groups"), list) and not all(isinstance(g, dict) for g in opt["param_groups"]):
        raise CheckpointError("checkpoint meta 'optimizer.param_groups' holds an entry that is not a JSON object")
    meta("scalars", lambda v: v is None or isinstance(v, dict), "a JSON object", opt, "optimizer.scalars")
    for idx, sc in (opt.get("scalars") or {}).items():
        if not idx.isdigit() or not isinstance(sc, dict):
            raise CheckpointError(f"checkpoint meta 'optimizer.scalars.{idx:.20}' is not a parameter's scalars")
    meta("schedule", lambda v: v is None or isinstance(v, dict), "a JSON object")
    meta("epoch_sums", lambda v: isinstance(v, dict), "a JSON object")
    for key in ("loss", "correct", "seen"):
        meta(key, _is_number, "a number", m.get("epoch_sums", {}), f"epoch_sums.{key}")
    meta("loss_ref", lambda v: v is None or _is_number(v), "a number")
    meta("pending_ok", lambda v: isinstance(v, bool), "true or false")
    meta("hooks", lambda v: isinstance(v, dict) and all(isinstance(h, dict) for h in v.values()), "hook states")


def start_state(ck: Checkpoint) -> dict[str, Any]:
    """The Trainer.state_dict a checkpoint holds, checked (CheckpointError naming the problem):
    what a job that starts from a run's weights (the lr range test) is given."""
    return _state(ck)


def _state(ck: Checkpoint) -> dict[str, Any]:
    check_checkpoint(ck)
    try:
        return state_of_checkpoint(ck)
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"the checkpoint is incomplete or corrupt ({e})") from None


def restore_checkpoint(
    trainer: Trainer,
    ck: Checkpoint | dict[str, Any],
    series: dict[str, np.ndarray] | None = None,
) -> torch.Tensor:
    """Put a fresh trainer (same config apart from train.epochs) in the saved state (a
    checkpoint, or the state_of_checkpoint it holds).

    Returns the run's global random state (to set before its next step). Raises
    CheckpointError naming what does not match."""
    state = _state(ck) if isinstance(ck, Checkpoint) else ck
    if series:
        state["series"] = series
    try:
        trainer.load_state_dict(state, restore_global_rng=False)
    except ValueError as e:
        raise CheckpointError(str(e)) from None
    except (AttributeError, IndexError, KeyError, TypeError, RuntimeError) as e:
        text = " ".join(str(e).split())[:120]
        raise CheckpointError(f"the checkpoint does not fit the run ({type(e).__name__}: {text})") from None
    return state["rng"]["global"]


def _all_finite(tensors: list[Any]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors if isinstance(t, torch.Tensor) and t.is_floating_point())


def continue_run(
    record: RunRecord,
    epochs: int | None = None,
    emit: Callable[[Event], None] | None = None,
    run_id: str | None = None,
    trainer_factory: Callable[..., Trainer] | None = None,
    config_updates: dict[str, Any] | None = None,
) -> tuple[Trainer, torch.Tensor]:
    """A trainer that continues a saved run (optionally with more epochs in total), with
    the features its config enables (engine.experiment.build_trainer) unless
    `trainer_factory` says otherwise.

    `config_updates` (key -> value, as ExperimentConfig.with_updates takes them) changes
    the run's config; optimizer settings that differ from the saved ones replace the saved
    optimizer groups. A diverged run continues from its last good parameters and buffers;
    a diverged run, or one whose optimizer state holds Inf/NaN, starts a fresh optimizer
    state. Each of these is said in a Notice (through `emit`).

    Returns the trainer and its global random state; set it with torch.set_rng_state
    before stepping to get exactly the steps the run would have taken. Raises
    CheckpointError naming the run and what does not fit (ConfigError for a bad update)."""
    if trainer_factory is None:
        from engine.experiment import build_trainer

        trainer_factory = build_trainer
    if record.checkpoint is None:
        raise CheckpointError(f"run '{record.name}' was saved without weights; it cannot be continued")
    try:
        return _continue_run(record, epochs, emit, run_id, trainer_factory, config_updates)
    except CheckpointError as e:
        raise CheckpointError(f"run '{record.name}': {e}") from None


def _continue_run(
    record: RunRecord,
    epochs: int | None,
    emit: Callable[[Event], None] | None,
    run_id: str | None,
    trainer_factory: Callable[..., Trainer],
    config_updates: dict[str, Any] | None,
) -> tuple[Trainer, torch.Tensor]:
    from engine.events import Notice

    assert record.checkpoint is not None
    cfg = record.config.with_updates(config_updates) if config_updates else record.config
    state = _state(record.checkpoint)
    done = state["epoch"]
    if epochs is not None:
        if epochs <= done:
            raise CheckpointError(f"it already has {done} epochs; ask for more than that")
        cfg = cfg.with_updates({"train.epochs": epochs})
    run_id = run_id or record.name
    say = emit or (lambda e: None)
    notes = []
    diverged = record.state == RunState.DIVERGED
    if diverged:
        notes.append("from its last good weights and buffers (the run diverged)")
    opt = state["optimizer"]
    moments = [v for st in opt["state"].values() for v in st.values()]
    if diverged or not _all_finite(moments):
        opt["state"] = {}
        notes.append("with a fresh optimizer state")
    saved_optim = record.config.optim
    t = trainer_factory(cfg, emit=emit, run_id=run_id)
    other_optimizer = cfg.optim.name != saved_optim.name
    if other_optimizer:  # none of the saved optimizer state fits: the one built from cfg is used
        state["optimizer"] = {"class": type(t.optimizer).__name__, "state": {}, "param_groups": None}
    rng = restore_checkpoint(t, state, record.series)
    if diverged:
        t.reset_to_good_state()
        if t.fresh_buffer_names:
            notes.append(
                f"with fresh values for {len(t.fresh_buffer_names)} buffer"
                f"{'s' if len(t.fresh_buffer_names) != 1 else ''} that held Inf/NaN "
                f"({', '.join(t.fresh_buffer_names[:4])}{', …' if len(t.fresh_buffer_names) > 4 else ''}; "
                "this file kept no last good copy of them)"
            )
    if cfg.optim != saved_optim:
        if other_optimizer:
            t.schedule.rebase(cfg.optim.lr)
        t.use_optim_config(running=cfg.optim if other_optimizer else saved_optim, fresh_state=False)
        changed = [k for k in type(cfg.optim).model_fields if getattr(cfg.optim, k) != getattr(saved_optim, k)]
        notes.append(
            "with your optimizer settings instead of the saved ones: "
            + ", ".join(f"optim.{k} = {getattr(cfg.optim, k)} (was {getattr(saved_optim, k)})" for k in changed)
        )
    if notes:
        say(Notice(run_id, f"continuing '{record.name}' " + "; ".join(notes)))
    return t, rng


def record_of(trainer: Trainer, name: str | None = None) -> RunRecord:
    """What a run produced so far as a RunRecord (series, final metrics, every hook's export);
    a running run is recorded as stopped. Call on its engine thread (it reports the buffered
    steps first). The weights to continue it are `capture_checkpoint`'s."""
    trainer.flush()
    record = RunRecord(
        name=name or trainer.run_id,
        config=trainer.config,
        series={k: s.array().copy() for k, s in trainer.series.items()},
        final=trainer.final_metrics(),
        state=RunState.STOPPED if trainer.state == RunState.RUNNING else RunState(trainer.state),
        meta={
            "message": trainer.message,
            "device": str(trainer.device),
            "n_train": trainer.n_train,
            "n_val": int(trainer.data.x_val.shape[0]),
            "n_classes": trainer.data.n_classes,
            "steps_per_epoch": trainer.steps_per_epoch,
        },
    )
    for h in trainer.hooks:
        h.export(record)
    return record
