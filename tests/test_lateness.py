"""The live host's warning when the style worker keeps missing its margin."""

from __future__ import annotations

from realtime.live.lateness import QUIET_S, WINDOW_S, LateBlockWatch


def reports(*counts):
    """report() callables for (late blocks, xruns) totals, with a style needing 2.2 ms (p99)
    and 0.4 ms to wake."""
    return [lambda late=late, xruns=xruns: {"late_blocks": late, "xruns": xruns, "style_time_p99_us": 2200.0,
                                            "worker_wake_p99_us": 400.0} for late, xruns in counts]


def test_late_blocks_beyond_the_xruns_are_named_with_a_margin_that_fits():
    watch = LateBlockWatch(margin_blocks=1, block_frames=128, sample_rate=48000, started_s=0.0)
    assert watch.check(lambda: (_ for _ in ()).throw(AssertionError("read too early")), WINDOW_S / 2) is None
    first, = reports((10, 1))
    warning = watch.check(first, WINDOW_S)
    assert warning is not None and warning.startswith("10 late blocks in the last 5 s (1 xruns)")
    assert "2.2 ms a block (p99)" in warning and "margin of 2.7 ms" in warning and "--margin 2" in warning


def test_a_stall_now_and_then_is_not_warned_about_and_a_warning_is_not_repeated_at_once():
    watch = LateBlockWatch(margin_blocks=1, block_frames=128, sample_rate=48000, started_s=0.0)
    stalls, pattern, again, later = reports((4, 3), (20, 3), (40, 3), (60, 3))
    assert watch.check(stalls, WINDOW_S) is None  # 4 late blocks beside 3 xruns: stalls of the machine
    assert watch.check(pattern, 2 * WINDOW_S) is not None  # 16 late, no new xrun
    assert watch.check(again, 3 * WINDOW_S) is None  # within QUIET_S of the last warning
    assert watch.check(later, 3 * WINDOW_S + QUIET_S) is not None


def test_a_margin_that_needs_several_blocks_is_suggested_whole():
    """3.5 ms of style and 0.4 ms of wake-up at 64-frame blocks (1.33 ms): 3 blocks, not 2."""
    watch = LateBlockWatch(margin_blocks=1, block_frames=64, sample_rate=48000, started_s=0.0)
    report = {"late_blocks": 30, "xruns": 0, "style_time_p99_us": 3500.0, "worker_wake_p99_us": 400.0}
    warning = watch.check(lambda: report, WINDOW_S)
    assert "try --margin 3 (+1.3 ms latency a block)" in warning
