"""Buffered mode's worker thread: runs the styles so that the callback only copies.

The callback writes input and calls ``wake()`` (an Event set: it never waits). The worker
pumps every active strip and goes back to sleep. ``drain()`` lets an offline render wait
until everything written so far has gone through, so files render the same in both modes.
"""

from __future__ import annotations

import os
import threading
import time

WAKE_TIMEOUT_S = 0.05
#: real-time priority for the worker where the system allows it (below JACK's usual 70+)
REALTIME_PRIORITY = 60


def try_realtime_priority(priority: int = REALTIME_PRIORITY) -> bool:
    """Ask for SCHED_FIFO for the calling thread (Linux); False where not permitted."""
    if not hasattr(os, "sched_setscheduler"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError:  # PermissionError included
        return False
    return True


class StyleWorker:
    def __init__(self, engine) -> None:
        self._engine = engine
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0  # completed pump passes (written by the worker only)
        self.errors = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="stylerack-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5.0)
        self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def drain(self, timeout_s: float = 10.0) -> None:
        """Wait until a whole pass has started after this call (so it saw all input so far)."""
        if self._thread is None:
            raise RuntimeError("the worker is not running")
        target = self.passes + 2
        deadline = time.monotonic() + timeout_s
        while self.passes < target:
            self._wake.set()
            if time.monotonic() > deadline:
                raise TimeoutError("the style worker did not keep up")
            time.sleep(0.0002)

    def _loop(self) -> None:
        stats = self._engine.stats
        try_realtime_priority()  # where not permitted, the worker runs at normal priority
        while not self._stop.is_set():
            self._wake.wait(WAKE_TIMEOUT_S)
            self._wake.clear()
            started = time.perf_counter()
            worked = 0
            try:
                for strip in self._engine.active_strips():
                    if strip is not None:
                        worked += strip.wet.pump()
            except Exception:
                self.errors += 1
            if worked:
                stats.record_style_time(time.perf_counter() - started)
            self.passes += 1
