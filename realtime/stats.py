"""Counters the audio thread writes and any thread reads, without locks.

Each counter has one writer (the callback, or the worker for its own timings); readers
see plain ints and floats, so a read is never torn and never blocks the audio.
"""

from __future__ import annotations

import numpy as np

TIMING_SLOTS = 2048


class EngineStats:
    def __init__(self) -> None:
        self.callbacks = 0
        self.late_blocks = 0
        self.callback_errors = 0
        self.non_finite_inputs = 0
        self.non_finite_outputs = 0
        self.retired_non_finite_resets = 0
        self.xruns = 0  # set by the device stream from PortAudio's status flags
        self._style_seconds = np.zeros(TIMING_SLOTS, np.float64)
        self._timings = 0

    def record_style_time(self, seconds: float) -> None:
        """One writer only: the thread that runs the style."""
        self._style_seconds[self._timings % TIMING_SLOTS] = seconds
        self._timings += 1

    def style_time_us(self) -> tuple[float, float]:
        """(median, 99th percentile) of the last style runs, in microseconds; (0, 0) before any."""
        count = min(self._timings, TIMING_SLOTS)
        if count == 0:
            return 0.0, 0.0
        recent = self._style_seconds[:count].copy() * 1e6
        return float(np.median(recent)), float(np.percentile(recent, 99))
