"""The live host: the engine on a real duplex device stream (python-sounddevice / PortAudio).

``LiveHost`` resolves and checks the devices, builds the engine for them, warms the style,
opens one duplex stream and watches it. The stream's callback is the native core's
``sr_callback`` (C, handed to PortAudio as a function pointer with the engine as its
userdata): no Python runs on the audio thread. The styles run on the engine's worker
thread. A stream that stops by itself (a device unplugged, the audio server gone) is
reported by ``poll()``, never silently.
"""

from __future__ import annotations

import gc
import math
import os
import struct
import sys
import threading
import time
from dataclasses import dataclass


from realtime.live.demo import load_demo_clip
from realtime.live.devices import DeviceChoice, check_rate, import_sounddevice, resolve_devices
from realtime.engine import Engine, EngineConfig
from realtime.errors import DeviceError
from realtime.native import ffi, lib
from realtime.engine.worker import HELPER_PRIORITY, try_realtime_priority

#: no callback for this long while the stream claims to run means the device is gone
STALL_SECONDS = 1.0
#: the worker's first passes after a stream starts are slow (about 0.8 ms, cold): a late block
#: in this time is counted apart, as startup_late_blocks (it is crossfaded like any other)
STARTUP_GRACE_SECONDS = 0.02
MCL_CURRENT = 1


def lock_memory() -> bool:
    """Keep this process's pages in RAM (mlockall of what is mapped now: the engine's buffers,
    the style, the code), so the kernel never pages out what the audio thread touches; False
    where not permitted (then the audio runs anyway)."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.mlockall(MCL_CURRENT) == 0  # not MCL_FUTURE: it slows every later allocation
    except (OSError, AttributeError):
        return False


def hold_cpu_wakeup_latency(microseconds: int = 0) -> int | None:
    """Ask the kernel to keep the CPUs out of idle states slower to leave than ``microseconds``
    (PM QoS, /dev/cpu_dma_latency), as low-latency audio hosts do: a worker woken on an idle CPU
    then starts at once. Held while the returned descriptor is open; None where not permitted."""
    try:
        fd = os.open("/dev/cpu_dma_latency", os.O_WRONLY)
    except OSError:
        return None
    try:
        os.write(fd, struct.pack("i", microseconds))
    except OSError:
        os.close(fd)
        return None
    return fd


_ABANDONED: list = []  # (stream, engine) whose device died; never closed (see LiveHost.stop)
#: a short GIL switch interval lets the style worker in sooner when another thread computes
SWITCH_INTERVAL_S = 0.0002


@dataclass(frozen=True)
class LiveSettings:
    input: str | int | None = None
    output: str | int | None = None
    sample_rate: int | None = None  # None: the output device's default rate
    block_frames: int = 128  # 0: the device (or audio server) chooses
    margin_blocks: int = 1  # blocks the style worker runs ahead of the callback
    provider: str = "cpu"
    channels: int = 2  # at most this many per direction, fewer if the device has fewer
    resampler: str = "low-latency"  # when a style's rate differs from the device's


class LiveHost:
    def __init__(self, settings: LiveSettings) -> None:
        self.settings = settings
        self._sd = import_sounddevice()
        self.devices: DeviceChoice = resolve_devices(self._sd, settings.input, settings.output, settings.channels)
        self.sample_rate = int(settings.sample_rate or self.devices.default_rate)
        check_rate(self._sd, self.devices, self.sample_rate)
        #: the block the stream is opened with (0: the device's own)
        self._stream_block = settings.block_frames
        self.block_note: str | None = None
        self.block_frames = settings.block_frames or self._probe_device_block()
        period = self._jack_period() if settings.block_frames else None
        if period:
            # JACK calls a client once per period; a smaller PortAudio block means several
            # callbacks back to back, and the worker's margin cannot be met between them
            if settings.block_frames < period:
                self.block_frames = self._stream_block = period
                self.block_note = (f"block {settings.block_frames} is below the JACK server's period of {period} "
                                   f"frames: using {period}")
        self.engine = Engine(
            EngineConfig(
                sample_rate=self.sample_rate,
                block_frames=self.block_frames,
                in_channels=self.devices.in_channels,
                out_channels=self.devices.out_channels,
                mode="buffered",
                margin_blocks=settings.margin_blocks,
                provider=settings.provider,
                resampler=settings.resampler,
            )
        )
        self._stream = None
        self._stopping = False
        self._finished = threading.Event()
        self._last_callback = 0.0
        self._last_count = 0
        self._started: float | None = None
        self.failure: str | None = None
        self._last_latency = (0.0, 0.0)
        self.memory_locked = False
        self._wakeup_latency_fd: int | None = None

    def _jack_period(self) -> int | None:
        """The JACK server's period in frames, or None when the device is not JACK's. Read from
        the capture latency PortAudio reports for JACK's device (one period), not by opening a
        probe client: a client that comes and goes confuses whatever connects ports by name."""
        sd = self._sd
        try:
            info = sd.query_devices(self.devices.input_index)
            if "JACK" not in sd.query_hostapis(info["hostapi"])["name"]:
                return None
            return max(16, round(float(info["default_low_input_latency"]) * self.sample_rate)) or None
        except Exception:  # a device list that changed under us: assume not JACK
            return None

    def _probe_device_block(self) -> int:
        """With ``--block 0`` the device picks the block: open a silent stream briefly and
        see what it hands over, so the engine plans for the real size (JACK: its period)."""
        seen: list[int] = []

        def probe(indata, outdata, frames, time_info, status) -> None:
            outdata.fill(0.0)
            if not seen:
                seen.append(frames)

        with self._open_stream(0, probe):
            deadline = time.monotonic() + 2.0
            while not seen and time.monotonic() < deadline:
                time.sleep(0.005)
        return seen[0] if seen else self.devices.default_block_frames(self.sample_rate)

    def _open_stream(self, block_frames: int, callback, finished_callback=None, userdata=None):
        """One duplex float32 stream on the chosen devices; DeviceError naming them if it fails.
        ``callback``: a Python function, or a C function pointer (then ``userdata`` is its argument)."""
        sd = self._sd
        native = userdata is not None
        try:
            return sd._StreamBase(
                kind="duplex",
                wrap_callback=None if native else "array",
                samplerate=self.sample_rate,
                blocksize=block_frames,
                device=(self.devices.input_index, self.devices.output_index),
                channels=(self.devices.in_channels, self.devices.out_channels),
                dtype="float32",
                latency="low",
                callback=callback,
                finished_callback=finished_callback,
                userdata=userdata,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(f"cannot open {self.devices.describe()}: {exc}") from None

    def _open_native_stream(self):
        """The live stream: PortAudio calls the native ``sr_callback`` with the engine."""
        sd_ffi = self._sd._ffi
        userdata = sd_ffi.cast("void *", int(ffi.cast("uintptr_t", self.engine.native)))
        return self._open_stream(
            self._stream_block, ffi.addressof(lib, "sr_callback"), self._on_finished, userdata
        )

    def _on_finished(self) -> None:
        self._finished.set()

    # ---- control ---------------------------------------------------------------------

    def set_demo_input(self, enabled: bool) -> None:
        """Play the built-in demo clip in a loop instead of the live input (or go back)."""
        self.engine.set_demo_input(load_demo_clip(self.sample_rate) if enabled else None)

    def start(self) -> None:
        """Open and start the stream (the style must be set on ``engine`` first). The calling
        thread is the host's control thread: it gets a real-time priority below the worker's
        where the system allows, so that it is never preempted while it holds the GIL."""
        self._stopping = False
        self._finished.clear()
        self.failure = None
        self.engine.start()
        try:
            self._stream = self._open_native_stream()
        except DeviceError:
            self.engine.stop()
            raise
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.report()  # its first call runs code for the first time: not while audio waits on the GIL
        try_realtime_priority(HELPER_PRIORITY)  # this (control) thread takes the GIL the worker needs
        gc.collect()
        gc.freeze()  # long-lived objects leave the collector's view: shorter pauses for the worker
        self.memory_locked = lock_memory()
        self._wakeup_latency_fd = hold_cpu_wakeup_latency()
        self._last_callback = self._started = time.monotonic()
        self._last_count = self.engine.stats.callbacks
        lib.sr_engine_set_startup_grace(self.engine.native, math.ceil(STARTUP_GRACE_SECONDS * self.sample_rate / self.block_frames))
        self._stream.start()

    def poll(self) -> str | None:
        """Call a few times a second from the control thread: releases retired styles and
        returns a failure message once the stream has died (None while all is well)."""
        self.engine.collect()
        if self.failure is None and self._stream is not None and not self._stopping:
            count, now = self.engine.stats.callbacks, time.monotonic()
            if count != self._last_count:
                self._last_count, self._last_callback = count, now
            if self._finished.is_set() or not self._stream.active:
                self.failure = f"audio stopped on {self.devices.describe()} (device gone or audio server stopped)"
            elif now - self._last_callback > STALL_SECONDS:
                self.failure = (
                    f"no audio from {self.devices.describe()} for {STALL_SECONDS:.0f} s "
                    "(device gone or audio server stopped)"
                )
        return self.failure

    def stop(self) -> None:
        """Stop and close the stream; safe to call twice, and after a failure."""
        self._stopping = True
        stream, self._stream = self._stream, None
        if stream is not None:
            if self.failure is None:
                try:
                    stream.stop()
                    stream.close()
                except Exception:  # the device went away while stopping: nothing left to stop
                    pass
            else:
                # PortAudio's JACK backend asserts (and aborts the process) when a stream
                # whose server has died is closed; such a stream is left alone.
                _ABANDONED.append((stream, self.engine))  # the callback's engine must outlive it
        self.engine.stop()
        gc.unfreeze()
        if self._wakeup_latency_fd is not None:
            os.close(self._wakeup_latency_fd)
            self._wakeup_latency_fd = None

    def start_recording(self, path, overwrite: bool = False):
        """Record the output to ``path`` (WAV) from a thread of its own; returns the Recorder."""
        from realtime.live.recorder import Recorder

        return Recorder(self.engine, path, overwrite=overwrite)

    @property
    def device_lost(self) -> bool:
        """True once the stream died under us: PortAudio must not be shut down normally
        then (see ``stop``); a command-line process should leave with ``os._exit``."""
        return self.failure is not None

    @property
    def stream_latency_s(self) -> tuple[float, float]:
        """PortAudio's (input, output) latency of the open stream, in seconds."""
        if self._stream is None:
            return self._last_latency
        latency = self._stream.latency
        self._last_latency = (float(latency[0]), float(latency[1]))
        return self._last_latency

    def report(self) -> dict:
        """Plain numbers for ``--stats`` and the window's readouts."""
        engine = self.engine
        stats = engine.stats
        median_us, p99_us = stats.style_time_us()
        _, wake_p99_us = stats.wake_delay_us()
        callback_median_us, callback_p99_us = stats.callback_time_us()
        in_s, out_s = self.stream_latency_s
        device_samples = round((in_s + out_s) * self.sample_rate)
        latency = engine.latency
        algorithmic = latency.total_frames if latency else 0
        total = device_samples + algorithmic
        current = engine.current
        return {
            "style": current.name if current else None,
            "provider": current.chain.provider if current else None,
            "slot_peaks": engine.slot_peaks(),
            "latency_parts": [[name, round(1000.0 * frames / self.sample_rate, 3)] for name, frames in latency.parts]
            if latency else [],
            "margin_blocks": self.settings.margin_blocks,
            "sample_rate": self.sample_rate,
            "block_frames": self.settings.block_frames,
            "engine_block_frames": self.block_frames,
            "block_note": self.block_note,
            "input_device": self.devices.input_name,
            "output_device": self.devices.output_name,
            "callbacks": stats.callbacks,
            "seconds_running": round(time.monotonic() - self._started, 3) if self._started else 0.0,
            "xruns": stats.xruns,
            "late_blocks": stats.late_blocks,
            "startup_late_blocks": stats.startup_late_blocks,
            "over_budget_callbacks": stats.over_budget_callbacks,
            "non_finite_resets": engine.non_finite_resets(),
            "callback_errors": stats.callback_errors,
            "recording_dropped_frames": stats.tap_dropped_frames,
            "style_input_dropped_frames": stats.input_dropped_frames,
            "memory_locked": self.memory_locked,
            "cpu_wakeup_latency_held": self._wakeup_latency_fd is not None,
            "style_time_median_us": round(median_us, 2),
            "style_time_p99_us": round(p99_us, 2),
            "worker_wake_p99_us": round(wake_p99_us, 2),
            "worker_realtime": bool(engine.worker and engine.worker.realtime),
            "callback_time_median_us": round(callback_median_us, 2),
            "callback_time_p99_us": round(callback_p99_us, 2),
            "worker_errors": stats.worker_errors,
            "input_latency_s": in_s,
            "output_latency_s": out_s,
            "device_latency_samples": device_samples,
            "algorithmic_latency_samples": algorithmic,
            "total_latency_samples": total,
            "total_latency_ms": round(1000.0 * total / self.sample_rate, 3),
            "failure": self.failure,
            "input_peak": stats.input_peak,
            "input_rms": stats.input_rms,
            "output_peak": stats.output_peak,
            "output_rms": stats.output_rms,
            **stats.event_callbacks(),
            "switch_callbacks": list(engine.switch_callbacks),
        }
