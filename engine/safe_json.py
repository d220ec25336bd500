"""JSON from untrusted files: size, nesting depth and integer length bounded before parsing.

Python's json module has no limits of its own: deep nesting raises RecursionError, a
5,000-digit integer ValueError from int(), and a few megabytes of ``[[],[],...]`` become
gigabytes of Python objects. `loads_limited` turns all of that into one ValueError
whose message says which limit was exceeded (never quoting the input).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted (a session's deepest JSON is about 6)."""
MAX_INT_DIGITS = 40
"""Longest integer literal accepted, in characters (2**64 has 20 digits)."""

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPEN = (ord("["), ord("{"))
_CLOSE = (ord("]"), ord("}"))


def _bounded_int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS} allowed)")
    return int(text)


def nesting_depth(text: str) -> int:
    """Deepest nesting of [ and { in JSON text, not counting those inside strings."""
    brackets = re.sub(r"[^\[\]{}]+", "", _STRING.sub('""', text)).encode("ascii")
    if not brackets:
        return 0
    a = np.frombuffer(brackets, dtype=np.uint8)
    step = np.isin(a, _OPEN).astype(np.int32) - np.isin(a, _CLOSE).astype(np.int32)
    return int(np.cumsum(step).max())


def loads_limited(data: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON (UTF-8 bytes or text) of at most max_bytes, nested at most max_depth deep,
    with integers of at most MAX_INT_DIGITS digits; NaN and Infinity are accepted (sessions
    store them). Raises ValueError with a one-line message that never quotes the input."""
    if len(data) > max_bytes:
        raise ValueError(f"{len(data)} bytes of JSON, more than the {max_bytes} allowed")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"not UTF-8 text (byte {e.start})") from None
    else:
        text = data
    depth = nesting_depth(text)
    if depth > max_depth:
        raise ValueError(f"JSON nested {depth} levels deep (at most {max_depth} allowed)")
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as e:
        raise ValueError(f"malformed JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:  # the depth check above makes this unreachable in practice
        raise ValueError(f"JSON nested too deeply (at most {max_depth} levels allowed)") from None
