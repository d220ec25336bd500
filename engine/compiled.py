"""numba where it is installed, and the one way the engine's compiled CPU kernels use it.

The kernels (engine/probes/kernels.py, engine/train/kernels.py) are optional speed-ups:
each module keeps a torch or numpy path that computes the same and is used without numba,
or after a kernel failed to compile or run on a machine."""

from __future__ import annotations

try:  # a dependency; without it every kernel's caller takes its plain path, never fails
    import numba
except ImportError:  # pragma: no cover - exercised only without numba
    numba = None

AVAILABLE = numba is not None


def jit(**options):
    """numba.njit without the GIL, cached on disk where a cache location is writable (numba
    refuses to decorate otherwise: then each process compiles its own)."""

    def wrap(fn):
        try:
            return numba.njit(nogil=True, cache=True, **options)(fn)
        except RuntimeError:
            return numba.njit(nogil=True, **options)(fn)

    return wrap
