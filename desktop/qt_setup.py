"""Process-wide Qt set-up that must happen before the QApplication exists.

Called first by desktop/app.py and by the test suite's conftest.
"""

from __future__ import annotations

import ctypes
import sys


def share_gl_contexts() -> None:
    """pyqtgraph compiles each GL shader program once per process, so every GL widget
    after the first must share resources with the first one's context (seen here: a
    second GLViewWidget fails with GLError 1281 'invalid value' in glUseProgram). Qt
    needs the attribute before the QApplication exists."""
    from PySide6.QtCore import QCoreApplication, Qt

    if QCoreApplication.instance() is None:
        QCoreApplication.setAttribute(Qt.AA_ShareOpenGLContexts)


def none_refcount_leaks() -> bool:
    """True when this PySide6 drops a reference to None per void-method call (6.12.0)."""
    from PySide6.QtGui import QMatrix4x4

    m = QMatrix4x4()
    before = sys.getrefcount(None)
    for _ in range(100):
        m.translate(0.0, 0.0, 0.0)
    return sys.getrefcount(None) < before - 50


def pin_none_refcount() -> None:
    """Guard against the PySide6 6.12.0 bug on Python 3.11 (pyproject excludes that
    release, but an environment may still have it): every call of a void-returning method
    drops one reference to None and Python aborts ("none_dealloc") once the count reaches
    0, some 60,000 calls into a session. None is static and never freed, so giving it a
    huge count (what Python 3.12+ does: None is immortal there) is safe."""
    if sys.version_info >= (3, 12) or not none_refcount_leaks():
        return
    ref = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt, the first field of PyObject
    if ref.value < 1 << 40:
        ref.value += 1 << 40


def prepare_qt() -> None:
    """Everything above, in order; safe to call more than once."""
    share_gl_contexts()
    pin_none_refcount()
