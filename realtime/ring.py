"""Preallocated audio rings: a single-producer/single-consumer FIFO and a delay line.

Both hold ``[channels, capacity]`` float32 and never allocate after construction. The
FIFO's positions are plain integers that only their own side writes, and data is copied
before the position moves, so one producer thread and one consumer thread can share it
without a lock.
"""

from __future__ import annotations

import numpy as np


def _spans(position: int, frames: int, capacity: int) -> tuple[int, int]:
    """Where ``frames`` starting at absolute ``position`` lie: (start index, frames before the wrap)."""
    start = position % capacity
    return start, min(frames, capacity - start)


def _put(data: np.ndarray, position: int, block: np.ndarray | float, frames: int) -> None:
    start, first = _spans(position, frames, data.shape[1])
    if isinstance(block, np.ndarray):
        data[:, start : start + first] = block[:, :first]
        if first < frames:
            data[:, : frames - first] = block[:, first:]
    else:
        data[:, start : start + first] = block
        if first < frames:
            data[:, : frames - first] = block


def _get(data: np.ndarray, position: int, out: np.ndarray) -> None:
    frames = out.shape[1]
    start, first = _spans(position, frames, data.shape[1])
    out[:, :first] = data[:, start : start + first]
    if first < frames:
        out[:, first:] = data[:, : frames - first]


class AudioFifo:
    """SPSC FIFO of ``[channels, frames]`` float32 audio."""

    def __init__(self, channels: int, capacity_frames: int) -> None:
        if channels < 1 or capacity_frames < 1:
            raise ValueError("a FIFO needs at least one channel and one frame")
        self.channels = channels
        self.capacity_frames = capacity_frames
        self._data = np.zeros((channels, capacity_frames), np.float32)
        self._written = 0  # total frames ever written (producer only)
        self._read = 0  # total frames ever read or skipped (consumer only)

    def available(self) -> int:
        """Frames that can be read now."""
        return self._written - self._read

    def free(self) -> int:
        return self.capacity_frames - (self._written - self._read)

    def write(self, block: np.ndarray | float, frames: int | None = None) -> None:
        """Append ``block: [channels, n]``, or ``frames`` copies of a constant such as 0.0.

        Raises OverflowError when it does not fit."""
        frames = block.shape[1] if isinstance(block, np.ndarray) else int(frames or 0)
        if frames > self.free():
            raise OverflowError(f"FIFO overflow: {frames} frames into {self.free()} free")
        _put(self._data, self._written, block, frames)
        self._written += frames

    def read_into(self, out: np.ndarray) -> None:
        """Fill ``out: [channels, n]`` with the oldest n frames; raises when fewer are there."""
        if out.shape[1] > self.available():
            raise ValueError(f"FIFO underflow: {out.shape[1]} frames wanted, {self.available()} available")
        _get(self._data, self._read, out)
        self._read += out.shape[1]

    def skip(self, frames: int) -> int:
        """Drop up to ``frames`` of the oldest frames; returns how many were dropped."""
        dropped = min(frames, self.available())
        self._read += dropped
        return dropped


class DelayLine:
    """Keeps the last ``capacity_frames`` of a signal and reads it back at any delay up to that."""

    def __init__(self, channels: int, capacity_frames: int) -> None:
        self.channels = channels
        self.capacity_frames = capacity_frames
        self._data = np.zeros((channels, capacity_frames), np.float32)
        self._written = 0

    def write(self, block: np.ndarray) -> None:
        """Append ``block: [channels, n]`` (n <= capacity)."""
        _put(self._data, self._written, block, block.shape[1])
        self._written += block.shape[1]

    def read_into(self, out: np.ndarray, delay_frames: int) -> None:
        """Fill ``out: [channels, n]`` with the last-written n frames as they were
        ``delay_frames`` ago; frames from before the first write read as zeros."""
        frames = out.shape[1]
        if delay_frames + frames > self.capacity_frames:
            raise ValueError(f"delay {delay_frames} + block {frames} exceeds capacity {self.capacity_frames}")
        begin = self._written - delay_frames - frames
        silent = min(frames, max(0, -begin))
        if silent:
            out[:, :silent] = 0.0
        if silent < frames:
            _get(self._data, begin + silent, out[:, silent:])
