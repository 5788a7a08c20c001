"""Counters any thread reads without locks.

The audio callback's counters live in the native core (``sr_stats``: one writer, the
callback; plain 64-bit reads are never torn). The style worker's own timings (its time per
pass and how late it woke) are kept here, written by the worker thread only.
"""

from __future__ import annotations

import numpy as np

from realtime.native import ffi, lib

TIMING_SLOTS = 2048
EVENT_SLOTS = 64  # the first xruns / late blocks are remembered by callback number


def _median_p99(values: np.ndarray) -> tuple[float, float]:
    if len(values) == 0:
        return 0.0, 0.0
    return float(np.median(values)), float(np.percentile(values, 99))


class TimingRing:
    """The last ``TIMING_SLOTS`` durations of one kind, written by one thread."""

    def __init__(self) -> None:
        self._seconds = np.zeros(TIMING_SLOTS, np.float64)
        self.count = 0

    def record(self, seconds: float) -> None:
        self._seconds[self.count % TIMING_SLOTS] = seconds
        self.count += 1

    def median_p99_us(self) -> tuple[float, float]:
        return _median_p99(self._seconds[: min(self.count, TIMING_SLOTS)] * 1e6)


class EngineStats:
    """The engine's counters: the callback's (native) and the worker's (``style``, ``wake``)."""

    def __init__(self, native_engine) -> None:
        self._engine = native_engine  # keeps the native stats alive
        self._native = lib.sr_engine_stats(native_engine)
        self.style = TimingRing()  # style time per pass (direct: per block)
        self.wake = TimingRing()  # worker wake-up delay after the callback's post
        self.retired_non_finite_resets = 0
        self.worker_errors = 0
        _median_p99(np.arange(4.0))  # numpy's first percentile takes ~12 ms of GIL: not while audio runs

    callbacks = property(lambda self: self._native.callbacks)
    xruns = property(lambda self: self._native.xruns)
    late_blocks = property(lambda self: self._native.late_blocks)
    startup_late_blocks = property(lambda self: self._native.startup_late_blocks)
    over_budget_callbacks = property(lambda self: self._native.over_budget)
    callback_errors = property(lambda self: self._native.callback_errors)
    non_finite_inputs = property(lambda self: self._native.non_finite_inputs)
    non_finite_outputs = property(lambda self: self._native.non_finite_outputs)
    tap_dropped_frames = property(lambda self: self._native.tap_dropped_frames)
    input_dropped_frames = property(lambda self: self._native.input_dropped_frames)
    input_peak = property(lambda self: self._native.input_peak)
    input_rms = property(lambda self: self._native.input_rms)
    output_peak = property(lambda self: self._native.output_peak)
    output_rms = property(lambda self: self._native.output_rms)

    @property
    def last_post_ns(self) -> int:
        return self._native.last_post_ns

    def count_callback_error(self) -> None:
        """For the Python side's own refusals (offline blocks only: never while a stream runs)."""
        self._native.callback_errors += 1

    def event_callbacks(self) -> dict[str, list[int]]:
        """Callback numbers of the first xruns and late blocks (to see when they happened)."""
        n = self._native
        return {
            "xrun_callbacks": [n.xrun_at[i] for i in range(min(n.xruns, EVENT_SLOTS))],
            "late_block_callbacks": [n.late_at[i] for i in range(min(n.late_blocks, EVENT_SLOTS))],
        }

    def record_style_time(self, seconds: float) -> None:
        """One writer only: the thread that runs the style."""
        self.style.record(seconds)

    def style_time_us(self) -> tuple[float, float]:
        """(median, 99th percentile) of the last style runs, in microseconds; (0, 0) before any."""
        return self.style.median_p99_us()

    def wake_delay_us(self) -> tuple[float, float]:
        """(median, 99th percentile) of the worker's wake-up delay after the callback's post."""
        return self.wake.median_p99_us()

    def callback_time_us(self) -> tuple[float, float]:
        """(median, 99th percentile) of the native callback's own duration (live streams only)."""
        n = self._native
        count = min(n.timings, TIMING_SLOTS)
        values = np.frombuffer(ffi.buffer(n.callback_ns), np.int64)[:count] / 1e3
        return _median_p99(values)

