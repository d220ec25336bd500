"""Work-arounds for bugs in the Qt bindings, applied once per process.

PySide6 6.12 on Python 3.11 drops one reference to True on every `Signal.emit()` (it
returns True without a new reference; measured: −1.000 per emit, and pyqtgraph emits on
every `setData`) and, per desktop/views/playground_plots.py, to None on void calls. Python
aborts with "bool_dealloc: deallocating True or False" (or "none_dealloc") once the count
reaches zero: ~600 emits in a bare script, minutes into a GUI session or a test run.
None, True and False are static objects that CPython never frees, so a huge reference
count (what Python 3.12+ does: they are immortal there) is safe.
"""
from __future__ import annotations

import ctypes
import sys

_PIN = 1 << 40


def pin_immortal_refcounts() -> None:
    """Give None, True and False a reference count no binding bug can exhaust (Python < 3.12)."""
    if sys.version_info >= (3, 12):
        return
    for obj in (None, True, False):
        ref = ctypes.c_ssize_t.from_address(id(obj))     # ob_refcnt, the first field of PyObject
        if ref.value < _PIN:
            ref.value += _PIN


pin_immortal_refcounts()
