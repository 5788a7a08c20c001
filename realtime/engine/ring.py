"""A preallocated single-producer/single-consumer FIFO of ``[channels, frames]`` float32 audio.

The ring lives in the native core, so the audio callback (C) and a Python thread can share
it: positions are atomics that only their own side moves, and data is copied before the
position moves. It never allocates after construction.
"""

from __future__ import annotations

import numpy as np

from realtime.native import ffi, float_ptr, lib


class AudioFifo:
    """SPSC FIFO of ``[channels, frames]`` float32 audio."""

    def __init__(self, channels: int, capacity_frames: int) -> None:
        if channels < 1 or capacity_frames < 1:
            raise ValueError("a FIFO needs at least one channel and one frame")
        ring = lib.sr_ring_new(channels, capacity_frames)
        if ring == ffi.NULL:
            raise MemoryError(f"cannot allocate a FIFO of {channels} x {capacity_frames} frames")
        self.ring = ffi.gc(ring, lib.sr_ring_delete)
        self.channels = channels
        self.capacity_frames = capacity_frames

    def available(self) -> int:
        """Frames that can be read now."""
        return lib.sr_ring_available(self.ring)

    def free(self) -> int:
        return lib.sr_ring_free(self.ring)

    def write(self, block: np.ndarray | float, frames: int | None = None) -> None:
        """Append ``block: [channels, n]``, or ``frames`` copies of a constant such as 0.0.

        Raises OverflowError when it does not fit."""
        if isinstance(block, np.ndarray):
            frames = self._check(block)
            status = lib.sr_ring_write(self.ring, float_ptr(block), block.strides[0] // 4, frames)
        else:
            frames = int(frames or 0)
            status = lib.sr_ring_write_value(self.ring, float(block), frames)
        if status != 0:
            raise OverflowError(f"FIFO overflow: {frames} frames into {self.free()} free")

    def read_into(self, out: np.ndarray) -> None:
        """Fill ``out: [channels, n]`` with the oldest n frames; raises when fewer are there."""
        frames = self._check(out)
        if lib.sr_ring_read(self.ring, float_ptr(out), out.strides[0] // 4, frames) != 0:
            raise ValueError(f"FIFO underflow: {frames} frames wanted, {self.available()} available")

    def skip(self, frames: int) -> int:
        """Drop up to ``frames`` of the oldest frames; returns how many were dropped."""
        return lib.sr_ring_skip(self.ring, frames)

    def _check(self, block: np.ndarray) -> int:
        if block.ndim != 2 or block.shape[0] != self.channels or block.dtype != np.float32 or block.strides[1] != 4:
            raise ValueError(f"expected float32 [{self.channels}, n] with contiguous rows, got {block.dtype} {block.shape}")
        return block.shape[1]
