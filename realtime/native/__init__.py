"""The native audio core (C, built with cffi at install): the audio callback, the engine's
mixer, limiter, meters and counters, and the lock-free rings between the callback and the
style worker. ``lib`` holds the C functions, ``ffi`` the types (see core.h)."""

from __future__ import annotations

import numpy as np

from realtime.errors import StyleRackError

try:
    from realtime.native._core import ffi, lib
except ImportError as exc:  # not compiled: say how to build it instead of a bare traceback
    raise StyleRackError(
        f"StyleRack's native core is not built ({exc}); reinstall with 'pip install -e .' "
        "(it needs a C compiler and the Python headers: scripts/setup.sh installs them)"
    ) from None

__all__ = ["ffi", "lib", "float_ptr"]


def float_ptr(array: np.ndarray):
    """A ``float *`` to the first element of a float32 array (the array must stay alive)."""
    if array.dtype != np.float32:
        raise TypeError(f"expected float32 audio, got {array.dtype}")
    return ffi.cast("float *", array.ctypes.data)
