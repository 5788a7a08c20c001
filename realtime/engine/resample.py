"""Sample-rate conversion between the device and a style, with a small, exactly known delay.

``low-latency`` (the default): a polyphase windowed-sinc in the native core
(``sr_resampler_*``). The rate pair is reduced to up/down (L/M, 44.1 -> 48 kHz is 160/147),
and one Kaiser-windowed sinc prototype at the common rate L * input rate serves every phase
exactly: no interpolation between phases. Passband flat to 83% of the lower rate's Nyquist
(18.3 kHz at 44.1 kHz), at least ``STOPBAND_DB`` down from that Nyquist on. Output is made as
soon as input arrives (no look-ahead, no bursts); the delay is the filter's own, and the
prototype's length is chosen so that a device -> style -> device round trip is a whole
number of device frames (78 at 48 kHz with a 44.1 kHz style: 1.6 ms).

``soxr-hq``: libsoxr's "HQ" in streaming mode, for those who prefer its steeper filter over
latency; it delivers output in bursts, which costs buffering (39 ms at 128-frame blocks).
It is also what a rate pair whose prototype would be impractically long falls back to.
"""

from __future__ import annotations

import math

import numpy as np
import soxr

from realtime.errors import ConfigError
from realtime.native import ffi, float_ptr, lib

RESAMPLERS = ("low-latency", "soxr-hq")
DEFAULT_RESAMPLER = "low-latency"
PASSBAND = 0.83  # of the lower rate's Nyquist
STOPBAND_DB = 100.0  # Kaiser design target (the measured floor is reported by the benchmark)
MAX_PROTOTYPE_TAPS = 400_000  # beyond this (rates with a tiny common divisor) soxr takes over


def check_resampler(name: str) -> str:
    if name not in RESAMPLERS:
        raise ConfigError(f"unknown resampler '{name}' (choose from: {', '.join(RESAMPLERS)})")
    return name


def ratio(in_rate: int, out_rate: int) -> tuple[int, int]:
    """(up, down) in lowest terms."""
    g = math.gcd(in_rate, out_rate)
    return out_rate // g, in_rate // g


def prototype_taps(device_rate: int, style_rate: int) -> int:
    """The prototype length for a device/style pair: the Kaiser estimate for STOPBAND_DB over
    the transition band, rounded up so that (taps - 1) is a whole number of device frames on
    the common grid (the round trip's delay, two filters of (taps - 1) / 2 each)."""
    g = math.gcd(device_rate, style_rate)
    grid = device_rate * style_rate // g
    nyquist = min(device_rate, style_rate) / 2
    transition = (1 - PASSBAND) * nyquist
    estimate = (STOPBAND_DB - 7.95) / (2.285 * 2 * math.pi * transition / grid) + 1
    device_frame = style_rate // g  # grid samples per device frame
    return math.ceil((estimate - 1) / device_frame) * device_frame + 1


def design_prototype(in_rate: int, out_rate: int, taps: int) -> np.ndarray:
    """Kaiser-windowed sinc at the common rate, gain ``up``, linear phase."""
    up, down = ratio(in_rate, out_rate)
    grid = in_rate * up
    nyquist = min(in_rate, out_rate) / 2
    cutoff = (1 + PASSBAND) / 2 * nyquist  # halfway through the transition band
    beta = 0.1102 * (STOPBAND_DB - 8.7)
    t = (np.arange(taps) - (taps - 1) / 2) / grid
    h = 2 * cutoff / grid * np.sinc(2 * cutoff * t) * np.kaiser(taps, beta)
    return (h * (up / h.sum())).astype(np.float32)


class NativeResampler:
    """One direction, ``[channels, n] -> [channels, m]``, into a buffer of its own (the
    returned view is valid until the next call). Allocation-free after construction."""

    def __init__(self, in_rate: int, out_rate: int, channels: int, max_in_frames: int, taps: int) -> None:
        self.up, self.down = ratio(in_rate, out_rate)
        self.taps = taps
        self.channels = channels
        self.max_in_frames = max_in_frames
        prototype = design_prototype(in_rate, out_rate, taps)
        native = lib.sr_resampler_new(channels, self.up, self.down, float_ptr(prototype), taps, max_in_frames)
        if native == ffi.NULL:
            raise MemoryError("cannot allocate the resampler")
        self._native = ffi.gc(native, lib.sr_resampler_delete)
        self._max_out = int(lib.sr_resampler_output_frames(self._native, max_in_frames)) + 2
        self._out = np.zeros((channels, self._max_out), np.float32)
        self._out_ptr = float_ptr(self._out)

    def process(self, block: np.ndarray) -> np.ndarray:
        """``block: [channels, n]`` float32 with contiguous rows, n <= max_in_frames."""
        frames = block.shape[1]
        made = lib.sr_resampler_process(self._native, ffi.cast("float *", block.ctypes.data), block.strides[0] // 4,
                                        frames, self._out_ptr, self._max_out)
        return self._out[:, :made]

    def reset(self) -> None:
        lib.sr_resampler_reset(self._native)


class SoxrResampler:
    """libsoxr "HQ", streaming: ``[channels, n] -> [channels, m]`` (a new array per call). It holds
    its output back instead of delaying it, so its delay shows as buffering (ring priming)."""

    def __init__(self, in_rate: int, out_rate: int, channels: int, quality: str = "HQ") -> None:
        self._args = (in_rate, out_rate, channels, quality)
        self.reset()

    def process(self, block: np.ndarray) -> np.ndarray:
        return self._stream.resample_chunk(np.ascontiguousarray(block.T)).T

    def reset(self) -> None:
        in_rate, out_rate, channels, quality = self._args
        self._stream = soxr.ResampleStream(in_rate, out_rate, channels, dtype="float32", quality=quality)


def resampler_pair(kind: str, device_rate: int, style_rate: int, channels: int, max_device_frames: int,
                   max_style_frames: int):
    """(device -> style, style -> device, round-trip delay in device frames). ``low-latency``
    falls back to soxr HQ for a rate pair whose prototype would be impractically long."""
    if kind != "soxr-lq":  # (soxr's "LQ" is for the benchmark's comparison only)
        check_resampler(kind)
    taps = prototype_taps(device_rate, style_rate)
    if kind.startswith("soxr") or taps > MAX_PROTOTYPE_TAPS:
        quality = "LQ" if kind == "soxr-lq" else "HQ"
        return (SoxrResampler(device_rate, style_rate, channels, quality),
                SoxrResampler(style_rate, device_rate, channels, quality), 0)
    down = NativeResampler(device_rate, style_rate, channels, max_device_frames, taps)
    up = NativeResampler(style_rate, device_rate, channels, max_style_frames, taps)
    g = math.gcd(device_rate, style_rate)
    return down, up, (taps - 1) // (style_rate // g)
