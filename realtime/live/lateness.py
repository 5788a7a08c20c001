"""A one-line warning while the style worker keeps missing its margin, and what to do about it.

A late block is not silent (the callback crossfades to the aligned dry signal) but it is heard
as the style dropping out for a few milliseconds. A stall of the whole machine makes one now
and then, with an xrun beside it; a style that needs more than the margin per block makes them
all the time, and the user should hear why from the host rather than guess.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from realtime.engine.engine import MAX_MARGIN_BLOCKS

#: how often the counters are compared
WINDOW_S = 5.0
#: at most one warning this often
QUIET_S = 30.0
#: late blocks in a window, beyond its xruns, that make a pattern rather than a stall now and then
MIN_LATE_BLOCKS = 3


class LateBlockWatch:
    """Call ``check`` often (from the control thread); it reads the host's report once per
    ``WINDOW_S`` and returns a warning line, or None."""

    def __init__(self, margin_blocks: int, block_frames: int, sample_rate: int, started_s: float,
                 margin_advice: str = "--margin {}") -> None:
        """``margin_advice``: how to say "a margin of N blocks" where the user sets it."""
        self.margin_blocks = margin_blocks
        self.margin_advice = margin_advice
        self.block_us = 1e6 * block_frames / sample_rate
        self._checked_s = started_s
        self._warned_s = -math.inf
        self._late = 0
        self._xruns = 0

    def check(self, report: Callable[[], dict], now_s: float) -> str | None:
        if now_s - self._checked_s < WINDOW_S:
            return None
        window_s, self._checked_s = now_s - self._checked_s, now_s
        numbers = report()
        late, self._late = numbers["late_blocks"] - self._late, numbers["late_blocks"]
        xruns, self._xruns = numbers["xruns"] - self._xruns, numbers["xruns"]
        if late - xruns < MIN_LATE_BLOCKS or now_s - self._warned_s < QUIET_S:
            return None
        self._warned_s = now_s
        needed_us = numbers["style_time_p99_us"] + numbers["worker_wake_p99_us"]
        margin = self.margin_blocks
        fits = min(MAX_MARGIN_BLOCKS, max(margin + 1, math.ceil(needed_us / self.block_us)))
        advice = "try a lighter style or a larger block"
        if margin < MAX_MARGIN_BLOCKS:
            advice = (f"try {self.margin_advice.format(fits)} (+{self.block_us / 1000:.1f} ms latency a block) "
                      "or a lighter style")
        return (
            f"{late} late blocks in the last {window_s:.0f} s ({xruns} xruns): the style needs "
            f"{numbers['style_time_p99_us'] / 1000:.1f} ms a block (p99) and the worker "
            f"{numbers['worker_wake_p99_us'] / 1000:.1f} ms to wake, against a margin of "
            f"{margin * self.block_us / 1000:.1f} ms; each late block plays the dry signal for a moment: {advice}"
        )
