"""Fuzzed feature data: a valid saved run with every feature on, its feature arrays and meta
mutated (members dropped, shapes and dtypes changed, NaN/Inf injected, wrong JSON types,
steps truncated), saved and opened again. Every feature's decoder and `describe` then give a
result or a ValueError/SessionError naming the member — never another exception.
FEATURE_FUZZ_EXAMPLES sets the number of examples (300 here, ~10 s; 5000 for a nightly run)."""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_fuzzing import DECODERS, decode_all

from engine.commands import info as info_command
from engine.config import ExperimentConfig
from engine.experiment import build_trainer
from engine.session import RunRecord, Session, SessionError, load_session, record_of, save_session

FEATURE_PREFIXES = (
    "probes/",
    "metrics/",
    "batchnorm/",
    "decision_boundary/",
    "landscape/",
    "network/",
    "gradient_noise/",
    "updates/",
)


@pytest.fixture(scope="module")
def every_feature_record() -> RunRecord:
    """A small 2-D run (200 samples, 2 epochs) with every feature on, as its record."""
    config = ExperimentConfig().with_updates(
        {
            "device": "cpu",
            "train.threads": 1,
            "data.n_samples": 200,
            "model.hidden": [8, 8],
            "model.batch_norm": "after",
            "train.batch_size": 50,
            "train.epochs": 2,
            "probes.every": 2,
            "landscape.snapshots": True,
            "landscape.snapshot_every": 2,
            "landscape.sharpness_every": 1,
            "probes.gradient_noise": True,
            "probes.gradient_noise_every": 2,
            "probes.gradient_noise_batch_sizes": [4, 16],
            "probes.gradient_noise_draws": 2,
        }
    )
    trainer = build_trainer(config)
    trainer.run()
    record = record_of(trainer)
    for key in DECODERS:  # the fuzzing starts from a run that has every feature
        assert record.meta.get(key), key
    return record


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feature_fuzz")


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.sampled_from([10**9, -(10**6)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.lists(st.one_of(st.integers(-2, 4), st.text(max_size=2), st.none()), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(-2, 4), max_size=2),
)
DTYPES = (np.int64, np.int8, np.uint8, np.bool_, np.float16, np.float32, np.complex64)


def _resize(a: np.ndarray, axis: int, size: int) -> np.ndarray:
    """`a` with `axis` truncated or padded (with its first slice, or zeros) to `size`."""
    if a.ndim == 0:
        return a.reshape(1)
    if size <= a.shape[axis]:
        return np.take(a, np.arange(size), axis=axis)
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, size - a.shape[axis])
    return np.pad(a, pad)


@st.composite
def array_mutation(draw: st.DrawFn, names: list[str]) -> tuple[str, Any]:
    name = draw(st.sampled_from(names))
    kind = draw(st.sampled_from(["drop", "resize", "ndim+", "ndim-", "scalar", "dtype", "nonfinite", "truncate"]))
    if kind == "resize":
        return name, ("resize", draw(st.integers(0, 3)), draw(st.integers(0, 6)))
    if kind == "dtype":
        return name, ("dtype", draw(st.sampled_from(DTYPES)))
    if kind == "nonfinite":
        return name, ("nonfinite", draw(st.sampled_from([np.nan, np.inf, -np.inf])), draw(st.integers(0, 10**6)))
    if kind == "truncate":
        return name, ("truncate", draw(st.integers(0, 3)))
    return name, (kind,)


def _mutate_array(a: np.ndarray, how: tuple) -> np.ndarray | None:
    kind = how[0]
    if kind == "drop":
        return None
    if kind == "resize":
        axis = how[1] % max(1, a.ndim)
        return _resize(a, axis, how[2])
    if kind == "ndim+":
        return a[..., None]
    if kind == "ndim-":
        return a.reshape(-1) if a.ndim > 1 else a.reshape(()) if a.size == 1 else a[:0].reshape(0, 0)
    if kind == "scalar":
        return np.asarray(a.reshape(-1)[0] if a.size else 0)
    if kind == "dtype":
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            return a.astype(how[1])
    if kind == "nonfinite":
        if a.dtype.kind != "f" or a.size == 0:
            return a
        out = a.copy()
        out.reshape(-1)[how[2] % a.size] = how[1]
        return out
    if kind == "truncate":
        return a[: min(how[1], max(0, len(a) - 1))] if a.ndim else a
    raise AssertionError(kind)


@st.composite
def meta_mutation(draw: st.DrawFn, sections: dict[str, Any]) -> tuple[list[Any], Any]:
    """A path into the run meta's feature sections and what to put there ("drop": delete)."""
    key = draw(st.sampled_from(sorted(sections)))
    path: list[Any] = [key]
    node = sections[key]
    while draw(st.booleans()) and isinstance(node, (dict, list)) and node:
        step = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
        path.append(step)
        node = node[step]
    value = draw(st.one_of(st.just("drop"), JSON_VALUES))
    return path, value


def _set_meta(meta: dict[str, Any], path: list[Any], value: Any) -> None:
    node: Any = meta
    for step in path[:-1]:
        node = node[step]
    last = path[-1]
    if isinstance(node, dict) != isinstance(last, str):
        raise TypeError("the path no longer fits the meta")  # an earlier change replaced a container
    if isinstance(value, str) and value == "drop":
        if isinstance(node, dict):
            node.pop(last, None)
        else:
            del node[last]
    else:
        node[last] = value


@st.composite
def mutations(draw: st.DrawFn, record: RunRecord) -> list[tuple[str, Any, Any]]:
    names = sorted(n for n in record.arrays if n.startswith(FEATURE_PREFIXES))
    sections = {k: record.meta[k] for k in DECODERS}
    steps = [n for n in names if n.endswith(("steps", "epochs"))]
    one = st.one_of(
        array_mutation(names).map(lambda m: ("array", *m)),
        array_mutation(steps).map(lambda m: ("array", m[0], ("truncate", m[1][1]) if m[1][0] == "truncate" else m[1])),
        meta_mutation(sections).map(lambda m: ("meta", *m)),
    )
    return draw(st.lists(one, min_size=1, max_size=3))


def _mutated(record: RunRecord, changes: list[tuple[str, Any, Any]]) -> RunRecord:
    out = copy.deepcopy(record)
    for where, target, how in changes:
        if where == "array":
            if target not in out.arrays:
                continue
            new = _mutate_array(out.arrays[target], how)
            if new is None:
                del out.arrays[target]
            else:
                out.arrays[target] = new
        else:
            try:
                _set_meta(out.meta, target, how)
            except (KeyError, IndexError, TypeError):
                pass  # an earlier change removed or replaced the path
    return out


def test_the_unmutated_run_decodes(every_feature_record: RunRecord, fuzz_dir: Path) -> None:
    path = save_session(Session(runs=[every_feature_record]), fuzz_dir / "valid.descent")
    record = load_session(path).runs[0]
    for feature, from_record in DECODERS.items():
        assert len(from_record(record)) >= 1, feature
    info = info_command.describe(load_session(path))
    assert info["runs"][0]["name"] == every_feature_record.name


def test_mutated_feature_data_decodes_or_names_the_member(every_feature_record: RunRecord, fuzz_dir: Path) -> None:
    @settings(
        max_examples=int(os.environ.get("FEATURE_FUZZ_EXAMPLES", "300")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(changes=mutations(every_feature_record))
    def check(changes: list[tuple[str, Any, Any]]) -> None:
        record = _mutated(every_feature_record, changes)
        path = fuzz_dir / "mutated.descent"
        try:
            save_session(Session(runs=[record]), path)
            session = load_session(path)
        except (SessionError, ValueError):
            return
        decode_all(session)

    check()
