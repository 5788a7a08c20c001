"""The style worker: a thread that runs the styles so that the audio callback only copies.

The native callback writes each block into every playing style's input ring and posts a
semaphore (it never waits). This thread sleeps on that semaphore with the GIL released,
runs every style on what has arrived (ONNX Runtime releases the GIL while it computes) and
writes the wet audio into the styles' output rings. When it is late, the callback plays the
aligned dry signal instead (a short crossfade) and counts it. ``drain()`` lets an offline
render wait until everything written so far has gone through.
"""

from __future__ import annotations

import os
import threading
import time

from realtime.native import lib

WAKE_TIMEOUT_US = 50_000
#: real-time priority for the worker where the system allows it (below JACK's usual 70+)
REALTIME_PRIORITY = 60
#: for the other threads of a live host that take the GIL (control, recorder): a thread that
#: holds the GIL must not be preempted by ordinary processes while the worker waits for it
HELPER_PRIORITY = 50


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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0  # completed pump passes (written by the worker only)
        self.realtime = False

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
        self.wake()
        self._thread.join(timeout=5.0)
        self._thread = None

    def wake(self) -> None:
        lib.sr_engine_wake_worker(self._engine.native)

    def drain(self, timeout_s: float = 10.0) -> None:
        """Wait until a whole pass has started after this call (so it saw all input so far)."""
        if self._thread is None:
            raise RuntimeError("the worker is not running")
        target = self.passes + 2
        deadline = time.monotonic() + timeout_s
        while self.passes < target:
            self.wake()
            if time.monotonic() > deadline:
                raise TimeoutError("the style worker did not keep up")
            time.sleep(0.0002)

    def _loop(self) -> None:
        engine = self._engine
        stats = engine.stats
        native = engine.native
        self.realtime = try_realtime_priority()  # where not permitted, it runs at normal priority
        engine.warm_up()  # a style's first run on a new thread is slow: not with audio waiting
        while not self._stop.is_set():
            woke = lib.sr_engine_wait_work(native, WAKE_TIMEOUT_US)  # the GIL is released while waiting
            if woke:
                stats.wake.record(max(0, time.monotonic_ns() - stats.last_post_ns) * 1e-9)
            started = time.perf_counter()
            worked = engine.pump()
            if worked:
                stats.record_style_time(time.perf_counter() - started)
            self.passes += 1
