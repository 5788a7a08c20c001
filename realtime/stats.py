"""Counters the audio thread writes and any thread reads, without locks.

Each counter has one writer (the callback, or the worker for its own timings); readers
see plain ints and floats, so a read is never torn and never blocks the audio.
"""

from __future__ import annotations

import numpy as np

TIMING_SLOTS = 2048
EVENT_SLOTS = 64  # the first xruns / late blocks are remembered by callback number


def block_levels(block: np.ndarray) -> tuple[float, float]:
    """(peak, RMS) of ``block: [channels, n]`` over all channels, without temporaries."""
    if block.shape[1] == 0:
        return 0.0, 0.0
    return max(float(block.max()), -float(block.min())), block_rms(block)


def block_rms(block: np.ndarray) -> float:
    """RMS of ``block: [channels, n]`` over all channels, without temporaries."""
    if block.size == 0:
        return 0.0
    energy = 0.0
    for channel in block:
        energy += float(np.dot(channel, channel))
    return (energy / block.size) ** 0.5


class EngineStats:
    def __init__(self) -> None:
        self.callbacks = 0
        self.late_blocks = 0
        self.callback_errors = 0
        self.non_finite_inputs = 0
        self.non_finite_outputs = 0
        self.retired_non_finite_resets = 0
        self.xruns = 0  # set by the device stream from PortAudio's status flags
        # levels of the last block (linear, 0..): read by meters
        self.input_peak = self.input_rms = self.output_peak = self.output_rms = 0.0
        self.tap_dropped_frames = 0
        self._style_seconds = np.zeros(TIMING_SLOTS, np.float64)
        self._timings = 0
        self._xrun_at = np.zeros(EVENT_SLOTS, np.int64)
        self._late_at = np.zeros(EVENT_SLOTS, np.int64)

    def note_xrun(self) -> None:
        if self.xruns < EVENT_SLOTS:
            self._xrun_at[self.xruns] = self.callbacks
        self.xruns += 1

    def note_late_block(self) -> None:
        if self.late_blocks < EVENT_SLOTS:
            self._late_at[self.late_blocks] = self.callbacks
        self.late_blocks += 1

    def event_callbacks(self) -> dict[str, list[int]]:
        """Callback numbers of the first xruns and late blocks (to see when they happened)."""
        return {
            "xrun_callbacks": self._xrun_at[: min(self.xruns, EVENT_SLOTS)].tolist(),
            "late_block_callbacks": self._late_at[: min(self.late_blocks, EVENT_SLOTS)].tolist(),
        }

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
