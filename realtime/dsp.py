"""Small allocation-free building blocks of the audio callback: smoothed values, channel
mapping, non-finite cleanup and the output safety limiter. All work in place on
preallocated ``[channels, frames]`` float32 arrays.
"""

from __future__ import annotations

import math

import numpy as np

#: the safety limiter is transparent below this level (about -1 dBFS) ...
LIMITER_KNEE = 0.891
#: ... and bends every louder sample smoothly towards +-1.0, which it never exceeds.
LIMITER_CEILING = 1.0


class SmoothedValue:
    """A value that glides to its target (one-pole, ``time_constant_s``), ramped per sample.

    The control side sets ``target``; the audio side calls ``ramp(n)`` once per block and
    gets either a float (settled) or an ``[n]`` ramp view from the previous value to the next."""

    def __init__(self, value: float, sample_rate: int, max_frames: int, time_constant_s: float = 0.01) -> None:
        self.target = float(value)
        self.value = float(value)
        self._frames_per_tau = sample_rate * time_constant_s
        self._steps = np.arange(1, max_frames + 1, dtype=np.float32)
        self._ramp = np.zeros(max_frames, np.float32)

    def jump(self, value: float) -> None:
        """Set value and target at once (before audio runs, or for an offline start)."""
        self.target = self.value = float(value)

    def settled(self) -> bool:
        return self.value == self.target

    def ramp(self, frames: int) -> float | np.ndarray:
        start, target = self.value, self.target
        if start == target:
            return start
        end = target + (start - target) * math.exp(-frames / self._frames_per_tau)
        if abs(end - target) < 1e-5:
            end = target
        self.value = end
        ramp = self._ramp[:frames]
        np.multiply(self._steps[:frames], (end - start) / frames, out=ramp)
        ramp += start
        return ramp


def map_channels(src: np.ndarray, dst: np.ndarray) -> None:
    """Copy ``src: [a, n]`` into ``dst: [b, n]``: equal counts copy, many-to-one averages
    (downmix), one-to-many duplicates; otherwise the first channels pair up and any
    extra output channels are silent."""
    a, b = src.shape[0], dst.shape[0]
    if a == b:
        dst[...] = src
    elif b == 1:
        np.sum(src, axis=0, out=dst[0])
        dst *= 1.0 / a
    elif a == 1:
        dst[...] = src
    else:
        shared = min(a, b)
        dst[:shared] = src[:shared]
        dst[shared:] = 0.0


class SafetyLimiter:
    """Makes a block safe to play: non-finite samples become 0 and every sample lands in
    [-1, 1]. Below ``LIMITER_KNEE`` it is transparent; above, a tanh curve bends the
    excess into the remaining headroom (memoryless, so it adds no latency)."""

    def __init__(self, channels: int, max_frames: int) -> None:
        self._magnitude = np.zeros((channels, max_frames), np.float32)
        self._mask = np.zeros((channels, max_frames), bool)
        self.peak = 0.0  # the last processed block's peak, after limiting

    def process(self, block: np.ndarray) -> int:
        """Limit ``block: [channels, n]`` in place; returns how many samples were non-finite.
        ``peak`` is then the block's peak (the output meter reads it instead of measuring again)."""
        channels, frames = block.shape
        mask = self._mask[:channels, :frames]
        magnitude = self._magnitude[:channels, :frames]
        non_finite = sanitize(block, mask)
        np.abs(block, out=magnitude)
        self.peak = float(magnitude.max(initial=0.0))
        if self.peak <= LIMITER_KNEE:
            return non_finite
        np.greater(magnitude, LIMITER_KNEE, out=mask)
        headroom = LIMITER_CEILING - LIMITER_KNEE
        magnitude -= LIMITER_KNEE
        magnitude *= 1.0 / headroom
        np.tanh(magnitude, out=magnitude)
        magnitude *= headroom
        magnitude += LIMITER_KNEE
        np.copysign(magnitude, block, out=magnitude)
        np.copyto(block, magnitude, where=mask)
        np.clip(block, -LIMITER_CEILING, LIMITER_CEILING, out=block)
        self.peak = max(float(block.max()), -float(block.min()))
        return non_finite


def sanitize(block: np.ndarray, mask: np.ndarray) -> int:
    """Zero every NaN or Inf in ``block`` in place (``mask``: scratch of the same shape);
    returns how many there were. Cheap when all is finite."""
    if math.isfinite(float(block.sum())):
        return 0
    np.isfinite(block, out=mask)
    np.logical_not(mask, out=mask)
    count = int(np.count_nonzero(mask))
    np.copyto(block, 0.0, where=mask)
    return count
