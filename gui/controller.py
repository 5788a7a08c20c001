"""The window's brain, without Qt: what the performer can do and what the window shows.

Widgets call the ``Controller``'s methods and listen to its events; the controller talks to
the engine (through ``realtime``) with plain values only. Style loading runs on a helper
thread; its outcome comes back as an event, which the window delivers on its own thread.
Everything here can be driven and tested without pixels.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import platformdirs

from realtime.format.catalog import discover, user_styles_dir
from realtime.live.devices import looks_like_feedback
from realtime.errors import StyleRackError
from realtime.live import LiveHost, LiveSettings
from realtime.live.remote import RemoteHost
from realtime.format.style import Style, load_style

Listener = Callable[[str, object], None]
PRESETS_FILE = "presets.json"


@dataclass
class Performance:
    """What a preset recalls: the style and every value the performer set."""

    style: str | None = None
    mix_percent: float = 100.0
    input_gain_db: float = 0.0
    output_gain_db: float = 0.0
    bypass: bool = False
    params: dict[str, float] = field(default_factory=dict)


def presets_path() -> Path:
    return Path(platformdirs.user_config_dir("stylerack", appauthor=False)) / PRESETS_FILE


def settings_path() -> Path:
    """The window's settings (QSettings, INI format), beside the presets."""
    return Path(platformdirs.user_config_dir("stylerack", appauthor=False)) / "window.ini"


def matching_styles(styles: list[Style], text: str = "", category: str | None = None) -> list[Style]:
    """The styles whose name or description contains ``text``, in ``category`` if given."""
    text = text.lower().strip()
    return [
        s
        for s in styles
        if (not category or s.manifest.category == category)
        and (not text or text in s.name.lower() or text in s.manifest.description.lower())
    ]


class Controller:
    def __init__(self, styles_dirs: list[str] | None = None, host_factory=RemoteHost) -> None:
        self.styles_dirs = list(styles_dirs or [])
        self.styles: list[Style] = []
        self.performance = Performance()
        self.settings = LiveSettings()
        self.demo_input = True
        self.host: LiveHost | RemoteHost | None = None
        self.recorder: Recorder | None = None
        self._host_factory = host_factory
        self._listeners: list[Listener] = []
        self.refresh_styles()

    # ---- events ------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: str, value: object = None) -> None:
        for listener in list(self._listeners):
            listener(event, value)

    # ---- styles ------------------------------------------------------------------------

    def refresh_styles(self) -> None:
        self.styles, _ = discover(self.styles_dirs)
        self._emit("styles", self.styles)

    def categories(self) -> list[str]:
        return sorted({s.manifest.category for s in self.styles})

    def style_named(self, name: str) -> Style | None:
        return next((s for s in self.styles if s.name == name), None)

    def select_style(self, name_or_path: str, wait: bool = False) -> None:
        """Switch to a style: prepared on a helper thread, then crossfaded in. A refused
        style emits 'error' and the current one keeps playing."""
        style = self.style_named(name_or_path)
        target = style if style is not None else name_or_path
        if self.host is None:
            try:
                chosen = style or _load(target)
            except StyleRackError as exc:
                self._emit("error", str(exc))
                return
            self.performance.style = chosen.name
            self.performance.params = {p.name: p.default for p in chosen.manifest.params}
            self._emit("style", chosen)
            return
        thread = threading.Thread(target=self._prepare_and_switch, args=(target,), daemon=True)
        thread.start()
        if wait:
            thread.join()

    def _prepare_and_switch(self, target) -> None:
        host = self.host
        if host is None:
            return
        try:
            style = _load(target)
            host.engine.load(style)
        except StyleRackError as exc:
            self._emit("error", str(exc))
            return
        self.performance.style = style.name
        self.performance.params = {p.name: p.default for p in style.manifest.params}
        self._emit("style", style)

    def current_style(self) -> Style | None:
        return self.style_named(self.performance.style) if self.performance.style else None

    def add_styles_folder(self) -> Path:
        """The user styles folder (created if needed), for 'Add styles...'."""
        folder = user_styles_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # ---- the performer's values --------------------------------------------------------

    def set_mix_percent(self, percent: float) -> None:
        percent = min(100.0, max(0.0, float(percent)))
        if percent == self.performance.mix_percent:
            return
        self.performance.mix_percent = percent
        if self.host:
            self.host.engine.set_mix(percent / 100.0)
        self._emit("mix", percent)

    def set_input_gain_db(self, gain_db: float) -> None:
        self.performance.input_gain_db = float(gain_db)
        if self.host:
            self.host.engine.set_input_gain_db(gain_db)
        self._emit("input_gain", float(gain_db))

    def set_output_gain_db(self, gain_db: float) -> None:
        self.performance.output_gain_db = float(gain_db)
        if self.host:
            self.host.engine.set_output_gain_db(gain_db)
        self._emit("output_gain", float(gain_db))

    def set_bypass(self, bypass: bool) -> None:
        self.performance.bypass = bool(bypass)
        if self.host:
            self.host.engine.set_bypass(bypass)
        self._emit("bypass", bool(bypass))

    def toggle_bypass(self) -> None:
        self.set_bypass(not self.performance.bypass)

    def set_param(self, name: str, value: float) -> None:
        self.performance.params[name] = float(value)
        if self.host:
            try:
                self.host.engine.set_param(name, value)
            except StyleRackError as exc:
                self._emit("error", str(exc))
                return
        self._emit("param", (name, float(value)))

    def step_style(self, offset: int, visible: list[Style] | None = None) -> None:
        """Next/previous style (keyboard up/down), among the visible ones."""
        pool = visible if visible is not None else self.styles
        if not pool:
            return
        names = [s.name for s in pool]
        index = names.index(self.performance.style) if self.performance.style in names else -1
        self.select_style(names[(index + offset) % len(names)])

    # ---- audio -------------------------------------------------------------------------

    def set_settings(self, **changes) -> None:
        self.settings = replace(self.settings, **changes)

    def start(self) -> bool:
        """Open the devices and play; failures become an 'error' event, never an exception."""
        if self.host is not None:
            return True
        if self.performance.style is None:
            self._emit("error", "choose a style first")
            return False
        host = None
        try:
            host = self._host_factory(self.settings)
            style = self.current_style() or _load(self.performance.style)
            host.engine.load(style, self.performance.params)
            self._apply_performance(host)
            host.set_demo_input(self.demo_input)
            risky = looks_like_feedback(host.devices.input_name, host.devices.output_name)
            if risky:
                host.engine.set_output_gain_db(float("-inf"))  # muted until the performer confirms
            host.engine.jump_to_targets()
            host.start()
        except StyleRackError as exc:
            if host is not None:  # release the devices (and the engine process) it holds
                host.stop()
            self._emit("error", str(exc))
            return False
        self.host = host
        self._emit("running", True)
        if risky:
            self._emit("feedback", (host.devices.input_name, host.devices.output_name))
        return True

    def confirm_feedback(self) -> None:
        """The performer says the output cannot reach the microphone: unmute."""
        if self.host:
            self.host.engine.set_output_gain_db(self.performance.output_gain_db)

    def _apply_performance(self, host) -> None:
        p = self.performance
        host.engine.set_mix(p.mix_percent / 100.0)
        host.engine.set_input_gain_db(p.input_gain_db)
        host.engine.set_output_gain_db(p.output_gain_db)
        host.engine.set_bypass(p.bypass)

    def stop(self) -> None:
        self.stop_recording()
        host, self.host = self.host, None
        if host is not None:
            host.stop()
        self._emit("running", False)

    def set_demo_input(self, enabled: bool) -> None:
        self.demo_input = bool(enabled)
        if self.host:
            try:
                self.host.set_demo_input(enabled)
            except StyleRackError as exc:
                self._emit("error", str(exc))
        self._emit("demo", self.demo_input)

    def poll(self) -> dict | None:
        """About 30 times a second: the numbers to show, and a failure if the stream died."""
        if self.host is None:
            return None
        failure = self.host.poll()
        report = dict(self.host.report(), recording_seconds=self.recorder.seconds if self.recorder else None)
        if failure:
            self._emit("error", failure)
            self.stop()
        return report

    # ---- recording ---------------------------------------------------------------------

    def start_recording(self, path: str | Path) -> bool:
        if self.host is None:
            self._emit("error", "start the audio before recording")
            return False
        try:
            self.recorder = self.host.start_recording(path)
        except StyleRackError as exc:
            self._emit("error", str(exc))
            return False
        self._emit("recording", str(path))
        return True

    def stop_recording(self) -> Path | None:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        path = recorder.stop()
        self._emit("recording", None)
        return path

    # ---- presets -----------------------------------------------------------------------

    def load_presets(self, path: Path | None = None) -> dict[str, dict]:
        path = path or presets_path()
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            self._emit("error", f"{path}: presets unreadable ({exc})")
            return {}

    def save_preset(self, name: str, path: Path | None = None) -> None:
        path = path or presets_path()
        presets = self.load_presets(path)
        presets[name] = asdict(self.performance)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(presets, indent=2) + "\n")
        self._emit("presets", sorted(presets))

    def recall_preset(self, name: str, path: Path | None = None) -> None:
        preset = self.load_presets(path).get(name)
        if preset is None:
            self._emit("error", f"no preset named '{name}'")
            return
        wanted = Performance(**preset)
        if wanted.style and wanted.style != self.performance.style:
            self.select_style(wanted.style, wait=True)
        self.set_mix_percent(wanted.mix_percent)
        self.set_input_gain_db(wanted.input_gain_db)
        self.set_output_gain_db(wanted.output_gain_db)
        self.set_bypass(wanted.bypass)
        for knob, value in wanted.params.items():
            self.set_param(knob, value)


def _load(target) -> Style:
    return target if isinstance(target, Style) else load_style(target)
