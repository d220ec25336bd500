"""A race in a session file: `meta["playground"]` describes it, `arrays["playground/<racer>/<series>"]`
hold the paths. Replay reads them back; `summarize_playground` is what `descent info` prints."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.config import ConfigError
from engine.playground.config import PlaygroundConfig, validate_playground
from engine.playground.functions import get_function
from engine.session import Session
from engine.states import parse_state

if TYPE_CHECKING:
    from engine.playground.race import Race, RacerPath

KEY = "playground"


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(float(x)) else None


def racer_summary(cfg: PlaygroundConfig, i: int, path: RacerPath) -> dict[str, Any]:
    """JSON description of one racer's result (legend table, session meta, info --json)."""
    from engine.playground.race import nearest_minimum_distance  # torch: not needed to summarize a file

    fn = get_function(cfg.function)
    r = cfg.racers[i]
    last = path.positions[-1]
    return {
        "label": r.label,
        "color": r.color,
        "optimizer": r.optim.name,
        "lr": r.optim.lr,
        "schedule": r.schedule.name,
        "status": path.status,
        "message": path.message,
        "steps_taken": path.steps_taken,
        "final_loss": _finite(path.losses[-1]),
        "final_position": [_finite(last[0]), _finite(last[1])],
        "distance_to_minimum": _finite(nearest_minimum_distance(fn, cfg.params, last)),
    }


def race_to_session(race: Race, session: Session | None = None) -> Session:
    """Add the race (its computed steps) to a session (a new one by default)."""
    return paths_to_session(race.cfg, race.paths(), race.done, session)


def paths_to_session(
    cfg: PlaygroundConfig, paths: list[RacerPath], steps_done: int, session: Session | None = None
) -> Session:
    """Add a race's config and recorded paths (live or replayed) to a session."""
    from engine.playground.race import SERIES

    session = session if session is not None else Session()
    fn = get_function(cfg.function)
    for k in [k for k in session.arrays if k.startswith(f"{KEY}/")]:
        del session.arrays[k]
    racers = []
    for i, path in enumerate(paths):
        racers.append(racer_summary(cfg, i, path))
        for name in SERIES:
            session.arrays[f"{KEY}/{path.label}/{name}"] = np.ascontiguousarray(getattr(path, name))
    session.meta[KEY] = {
        "config": cfg.model_dump(mode="json"),
        "function": {
            "name": fn.name,
            "title": fn.title,
            "lesson": fn.lesson,
            "domain": [list(fn.domain[0]), list(fn.domain[1])],
            "minima": [list(m) for m in fn.minima(cfg.params)],
        },
        "start": list(cfg.start_point),
        "steps_done": int(steps_done),
        "series": list(SERIES),
        "racers": racers,
    }
    return session


def has_playground(session: Session) -> bool:
    return isinstance(session.meta.get(KEY), dict)


def playground_from_session(session: Session) -> tuple[PlaygroundConfig, list[RacerPath]]:
    """The race's config and recorded paths; ValueError naming the problem if malformed."""
    from engine.playground.race import SERIES, RacerPath

    meta = session.meta.get(KEY)
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise ValueError("the session holds no playground race")
    try:
        cfg = validate_playground(meta["config"])
    except ConfigError as e:
        raise ValueError(f"the session's playground config is invalid: {e}") from None
    info = {r.get("label"): r for r in meta.get("racers", []) if isinstance(r, dict)}
    paths = []
    for r in cfg.racers:
        arrays: dict[str, Any] = {}  # the RacerPath fields named in SERIES
        for name in SERIES:
            a = session.arrays.get(f"{KEY}/{r.label}/{name}")
            if a is None:
                raise ValueError(f"the session's playground racer '{r.label}' has no '{name}' array")
            arrays[name] = np.asarray(a, dtype=np.float64)
        k = len(arrays["positions"]) - 1
        shapes_ok = (
            k >= 0
            and arrays["positions"].shape == (k + 1, 2)
            and arrays["losses"].shape == (k + 1,)
            and all(arrays[n].shape == (k, 2) for n in ("gradients", "updates", "velocities", "step_sizes"))
            and arrays["lrs"].shape == (k,)
        )
        if not shapes_ok:
            raise ValueError(f"the session's playground racer '{r.label}' has arrays of inconsistent shapes")
        extra = info.get(r.label, {})
        paths.append(
            RacerPath(r.label, **arrays, status=parse_state(extra.get("status")), message=str(extra.get("message", "")))
        )
    return cfg, paths


def summarize_playground(session: Session) -> dict[str, Any] | None:
    """The playground part of a session as JSON (None when there is none): function,
    settings, racers with their results, and the stored arrays with shapes."""
    meta = session.meta.get(KEY)
    if not isinstance(meta, dict):
        return None
    cfg = meta.get("config", {}) if isinstance(meta.get("config"), dict) else {}
    arrays = {
        k[len(KEY) + 1 :]: list(np.shape(v)) for k, v in sorted(session.arrays.items()) if k.startswith(f"{KEY}/")
    }
    return {
        "function": cfg.get("function"),
        "settings": {k: cfg.get(k) for k in ("condition", "rotation", "sigma", "seed", "steps", "exact")},
        "start": meta.get("start"),
        "steps_done": meta.get("steps_done"),
        "minima": meta.get("function", {}).get("minima") if isinstance(meta.get("function"), dict) else None,
        "racers": meta.get("racers", []),
        "arrays": arrays,
    }
