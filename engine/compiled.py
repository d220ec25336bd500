"""numba where it is installed, and the one way the engine's compiled CPU kernels use it.

The kernels (engine/probes/kernels.py, engine/train/kernels.py, engine/updates/kernels.py) are optional speed-ups:
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


if AVAILABLE:
    from numba.extending import intrinsic

    @intrinsic
    def float32_at(typingctx, address):  # pragma: no cover - compiled
        """The float32 pointer at an integer address (a CPU tensor's data_ptr()), for kernels
        that read tensors where they lie: `numba.carray(float32_at(address), (n,))`."""
        if not isinstance(address, numba.types.Integer):
            return None
        ptr = numba.types.CPointer(numba.types.float32)

        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(ptr))

        return ptr(address), codegen
