"""Checked access to the members of a RunRecord, for the features' `from_record` functions.

A session file is untrusted input: every array a feature reads back is checked for presence,
numeric type and shape here, and a mismatch raises ValueError naming the member, so a
malformed file gives one clear message instead of an IndexError deep in a view.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

NUMERIC = "biuf"  # numpy dtype kinds: bool, signed, unsigned, float


def read_array(
    arrays: Mapping[str, np.ndarray],
    name: str,
    shape: Sequence[int | None],
    kinds: str = NUMERIC,
) -> np.ndarray:
    """The array `name`, as stored (its dtype unchanged), checked to have len(shape)
    dimensions, each of the given size where one is given (None: any size)."""
    if name not in arrays:
        raise ValueError(f"'{name}' is missing")
    a = np.asarray(arrays[name])
    if a.dtype.kind not in kinds:
        raise ValueError(f"'{name}' holds {a.dtype} values, expected numbers")
    if a.ndim != len(shape) or any(want is not None and got != want for got, want in zip(a.shape, shape)):
        want_text = "(" + ", ".join("·" if n is None else str(n) for n in shape) + ")"
        raise ValueError(f"'{name}' has shape {a.shape}, expected {want_text}")
    return a


def read_meta(meta: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """meta[key], checked to be of `kind`; `where` names the meta entry in the message."""
    if key not in meta:
        raise ValueError(f"'{where}' has no '{key}'")
    value = meta[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ValueError(f"'{where}.{key}' is {value!r}, not {_kind_name(kind)}")
    return value


def meta_section(meta: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The run meta's dict `key` (a feature's JSON), checked to be a dict."""
    value = meta.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"meta '{key}' is {type(value).__name__}, expected a JSON object")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def same_values(a: Any, b: Any) -> bool:
    """Equality for snapshots: arrays equal in dtype, shape and values (NaN equal to NaN),
    dataclasses field by field, mappings and sequences item by item."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.dtype != b.dtype:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        if type(a) is not type(b):
            return False
        return all(same_values(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and a.keys() == b.keys() and all(same_values(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # NaN
    return bool(a == b)
