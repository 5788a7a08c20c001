"""The live host in a process of its own, for clients that run Python of their own.

The window paints, handles events and collects garbage in its own interpreter: sharing one
GIL with the style worker made the worker late (measured in the README, Performance). So
the window drives a ``RemoteHost``: the same interface as ``LiveHost``, served by a child
process that owns the devices, the native callback and the style worker, and does nothing
else. Requests go over a pipe and are answered in order; errors come back as the same
``StyleRackError`` leaves with the same one-line messages.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

from realtime import errors
from realtime.errors import DeviceError, StyleRackError
from realtime.live import LiveHost, LiveSettings

#: how long a request may take (opening devices and preparing a style included)
REPLY_TIMEOUT_S = 60.0


def _as_path(style) -> str:
    return str(getattr(style, "path", style))


class _Server:
    """What runs in the engine process: a LiveHost, driven by requests from the pipe."""

    def __init__(self, host: LiveHost) -> None:
        self.host = host
        self.recorder = None

    def load(self, style: str, params: dict | None) -> None:
        self.host.engine.load(style, params)

    def set_rack(self, data: dict) -> None:
        from realtime.format.rack import RackSpec, SlotSpec

        master = data["master"]
        self.host.engine.set_rack(RackSpec([SlotSpec(**slot) for slot in data["slots"]], **master))

    def engine_call(self, name: str, *args):
        if name not in {"set_mix", "set_bypass", "set_input_gain_db", "set_output_gain_db", "set_param",
                        "jump_to_targets", "set_slot_mix", "set_slot_bypass"}:
            raise errors.ConfigError(f"the engine has no control '{name}'")
        return getattr(self.host.engine, name)(*args)

    def set_demo_input(self, enabled: bool) -> None:
        self.host.set_demo_input(enabled)

    def start(self) -> None:
        self.host.start()

    def poll(self):
        return self.host.poll()

    def report(self) -> dict:
        return self.host.report()

    def start_recording(self, path: str, overwrite: bool) -> None:
        from realtime.live.recorder import Recorder

        if self.recorder is not None:
            raise errors.ConfigError("a recording is already running")
        self.recorder = Recorder(self.host.engine, path, overwrite=overwrite)

    def recording_seconds(self) -> float:
        return self.recorder.seconds if self.recorder else 0.0

    def stop_recording(self) -> str | None:
        recorder, self.recorder = self.recorder, None
        return str(recorder.stop()) if recorder else None


def serve(conn, settings: LiveSettings) -> None:
    """The engine process's main loop (its entry point)."""
    try:
        host = LiveHost(settings)
    except StyleRackError as exc:
        conn.send(("error", (type(exc).__name__, str(exc))))
        return
    conn.send(("ok", {"devices": host.devices, "sample_rate": host.sample_rate, "block_frames": host.block_frames}))
    server = _Server(host)
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, OSError):  # the client is gone: stop the audio with it
            name, args = "stop", ()
        if name == "stop":
            server.stop_recording()
            host.stop()
            try:
                conn.send(("ok", host.report()))
            except (OSError, ValueError):
                pass
            if host.device_lost:  # PortAudio cannot be shut down over a dead device (see LiveHost.stop)
                os._exit(0)
            return
        try:
            conn.send(("ok", getattr(server, name)(*args)))
        except StyleRackError as exc:
            conn.send(("error", (type(exc).__name__, str(exc))))
        except Exception as exc:  # a bug: say so, keep the audio running
            conn.send(("error", ("StyleRackError", f"engine process: {type(exc).__name__}: {exc}")))


class RemoteEngine:
    """The controls of the engine in the engine process (the subset clients use)."""

    def __init__(self, host: RemoteHost) -> None:
        self._host = host

    def load(self, style, params=None) -> None:
        """Prepare and switch to ``style`` (a Style or a path) in the engine process."""
        self._host.call("load", _as_path(style), dict(params or {}))

    def set_rack(self, rack) -> None:
        """Play ``rack`` (a RackSpec whose styles are paths or names) in the engine process."""
        self._host.call("set_rack", rack.to_json())

    def _control(name: str):
        def control(self, *args):
            return self._host.call("engine_call", name, *args)

        control.__name__ = name
        return control

    set_mix = _control("set_mix")
    set_bypass = _control("set_bypass")
    set_input_gain_db = _control("set_input_gain_db")
    set_output_gain_db = _control("set_output_gain_db")
    set_param = _control("set_param")
    set_slot_mix = _control("set_slot_mix")
    set_slot_bypass = _control("set_slot_bypass")
    jump_to_targets = _control("jump_to_targets")
    del _control


class RemoteRecording:
    def __init__(self, host: RemoteHost, path: str | Path, overwrite: bool) -> None:
        self._host = host
        host.call("start_recording", str(path), overwrite)

    @property
    def seconds(self) -> float:
        return self._host.call("recording_seconds")

    def stop(self) -> Path:
        return Path(self._host.call("stop_recording"))


class RemoteHost:
    """``LiveHost``'s interface; the host itself runs in a child process."""

    def __init__(self, settings: LiveSettings) -> None:
        self.settings = settings
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._lock = threading.Lock()  # one request at a time, answered in order
        self._process = context.Process(target=serve, args=(child, settings), name="stylerack-engine", daemon=True)
        self._process.start()
        child.close()
        self._final_report: dict | None = None
        info = self._reply()
        self.devices = info["devices"]
        self.sample_rate = info["sample_rate"]
        self.block_frames = info["block_frames"]
        self.engine = RemoteEngine(self)
        self.failure: str | None = None

    def call(self, name: str, *args):
        with self._lock:
            if self._final_report is not None:
                raise DeviceError("the audio engine has stopped")
            try:
                self._conn.send((name, args))
            except (OSError, ValueError):
                raise self._gone() from None
            return self._reply()

    def _reply(self):
        if not self._conn.poll(REPLY_TIMEOUT_S):
            self._process.kill()
            raise DeviceError(f"the audio engine process did not answer in {REPLY_TIMEOUT_S:.0f} s (stopped it)")
        try:
            kind, value = self._conn.recv()
        except (EOFError, OSError):
            raise self._gone() from None
        if kind == "error":
            name, message = value
            raise getattr(errors, name, StyleRackError)(message)
        return value

    def _gone(self) -> DeviceError:
        self._process.join(timeout=5)
        return DeviceError(f"the audio engine process exited unexpectedly (exit code {self._process.exitcode})")

    def set_demo_input(self, enabled: bool) -> None:
        self.call("set_demo_input", bool(enabled))

    def start(self) -> None:
        self.call("start")

    def poll(self) -> str | None:
        try:
            self.failure = self.call("poll")
        except DeviceError as exc:
            self.failure = str(exc)
        return self.failure

    def report(self) -> dict:
        return self._final_report if self._final_report is not None else self.call("report")

    def start_recording(self, path: str | Path, overwrite: bool = False) -> RemoteRecording:
        return RemoteRecording(self, path, overwrite)

    def stop(self) -> None:
        """Stop the audio and the engine process; safe to call twice."""
        if self._final_report is None:
            try:
                self._final_report = self.call("stop")
            except DeviceError:
                self._final_report = {}
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()

    @property
    def device_lost(self) -> bool:
        return self.failure is not None
