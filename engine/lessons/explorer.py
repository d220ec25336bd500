"""The Init explorer as a lesson's setup: the network it builds at a state (init, activation,
depth, width, data) and its per-layer numbers at init, in a session.

The Init explorer view builds the same network through `explorer_config`, so a lesson's
check reads the numbers the view shows. A session stores them under meta.json's
"explorer" (the state and the layer labels) and the arrays `explorer/std`,
`explorer/saturated`, `explorer/dead`, `explorer/symmetric` (one value per layer, input to
output).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.config import ExperimentConfig
from engine.data.kinds import EXPLORER_DATASETS as EXPLORER_DATASETS  # torch-free, for the explorer's window
from engine.probes.init_study import InitStudy, init_study
from engine.session import Session

"""The data sets the explorer offers (those that need no file)."""

META_KEY = "explorer"
STATS = ("std", "saturated", "dead", "symmetric")


def explorer_config(base: ExperimentConfig, data: str, init_std: float, init_constant: float) -> ExperimentConfig:
    """The config the explorer's network is built from: `base` on `data`, dense layers
    without batch norm, with the init's scale."""
    updates: dict[str, Any] = {"data.name": data, "model.init_std": init_std, "model.init_constant": init_constant}
    fields = type(base.model).model_fields
    if "arch" in fields:  # the study is about dense layers, without batch norm
        updates["model.arch"] = "mlp"
    if "batch_norm" in fields:
        updates["model.batch_norm"] = "off"
    return base.with_updates(updates)


def explore(base: ExperimentConfig, state: dict[str, Any]) -> InitStudy:
    """The explorer's study at `state` (the keys of engine.lessons.schema.Explorer)."""
    cfg = explorer_config(base, state["data"], state["init_std"], state["init_constant"])
    return init_study(cfg, int(state["depth"]), int(state["width"]), state["init"], state["activation"])


def explorer_session(state: dict[str, Any], study: InitStudy, session: Session | None = None) -> Session:
    """The session (a new one by default) holding the explorer's state and numbers."""
    session = session or Session()
    s = study.summary
    session.meta[META_KEY] = {**state, "labels": list(study.labels), "n_samples": int(study.n_samples)}
    session.arrays.update(
        {
            "explorer/std": np.asarray(s.std, dtype=np.float64),
            "explorer/saturated": np.nan_to_num(np.asarray(s.extra["saturated"], dtype=np.float64), nan=0.0),
            "explorer/dead": np.nan_to_num(np.asarray(s.extra["dead"], dtype=np.float64), nan=0.0),
            "explorer/symmetric": np.asarray(study.symmetric, dtype=np.float64),
        }
    )
    return session


def explorer_numbers(session: Session, stat: str) -> np.ndarray:
    """One per-layer statistic of the explorer a session holds; ValueError when it holds none."""
    if stat not in STATS:
        raise ValueError(f"expected a statistic among {'|'.join(STATS)}, got {stat!r}")
    a = session.arrays.get(f"explorer/{stat}")
    if META_KEY not in session.meta or a is None or np.ndim(a) != 1 or np.size(a) == 0:
        raise ValueError("the lesson's result holds no explorer state")
    return np.asarray(a, dtype=float)
