"""The window's brain, without Qt: what the performer can do and what the window shows.

What the performer builds is a rack (``realtime.format.rack.RackSpec``): slots in chain
order, each a style with its knobs, mix and bypass, plus the master mix, gains and bypass.
One slot is selected; the browser puts styles into it and the keyboard acts on it.

Widgets call the ``Controller``'s methods and listen to its events; the controller talks to
the engine (through ``realtime``) with plain values only. Loading styles runs on a helper
thread; its outcome comes back as an event, which the window delivers on its own thread.
Saved racks (the window's presets) are rack files in the user's config folder.
Everything here can be driven and tested without pixels.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

from realtime.errors import StyleRackError
from realtime.format.catalog import discover, user_styles_dir
from realtime.format.rack import RACK_SUFFIX, RackSpec, SlotSpec, file_sha256, read_rack, write_rack
from realtime.format.style import Style, load_style
from realtime.live import LiveHost, LiveSettings
from realtime.live.devices import looks_like_feedback
from realtime.live.lateness import LateBlockWatch
from realtime.live.remote import RemoteHost

Listener = Callable[[str, object], None]
#: a progress line of ``stylerack train match`` (not on a terminal): "... [####......] stage"
#: the files ``stylerack train match --name NAME`` writes (models.match_run.MATCH_FILES; the
#: window does not import models, which would load torch)
MATCH_FILES = ("onnx", "json", "png")
PROGRESS_LINE = re.compile(r"\[([#.]{10,})\] (.+)$")


def racks_dir() -> Path:
    """Where the window keeps saved racks (one rack file each)."""
    return Path(platformdirs.user_config_dir("stylerack", appauthor=False)) / "racks"


def settings_path() -> Path:
    """The window's settings (QSettings, INI format), beside the racks."""
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


@dataclass(frozen=True)
class SlotView:
    """What a slot card shows."""

    number: int
    name: str
    style: Style | None  # None: the style is not installed (the slot passes its input through)
    mix_percent: float
    bypass: bool
    params: dict[str, float]

    @property
    def latency_ms(self) -> float:
        m = self.style.manifest if self.style else None
        return 1000.0 * m.latency_samples / m.sample_rate if m else 0.0


class Controller:
    def __init__(self, styles_dirs: list[str] | None = None, host_factory=RemoteHost) -> None:
        self.styles_dirs = list(styles_dirs or [])
        self.styles: list[Style] = []
        self.rack = RackSpec()
        self.selected = 0  # the selected slot (1-based); 0: none
        self.settings = LiveSettings()
        self.demo_input = True
        self.host: LiveHost | RemoteHost | None = None
        self._lateness: LateBlockWatch | None = None  # warns while the style keeps missing its margin
        self.recorder = None
        self._host_factory = host_factory
        self._listeners: list[Listener] = []
        self._edits = threading.Lock()  # one rack change at a time (they run on helper threads)
        self._muted = False  # feedback risk: the output stays muted until the performer confirms
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
        return next((s for s in self.styles if s.name == name or str(s.path) == name), None)

    def _find(self, name_or_path: str) -> Style:
        """An installed style by name, or a style file by path (refused in one line)."""
        return self.style_named(name_or_path) or load_style(name_or_path)

    def _style_of(self, slot: SlotSpec) -> Style | None:
        try:
            return self._find(slot.style_name) if not isinstance(slot.style, Style) else slot.style
        except StyleRackError:
            return None

    def match_files_present(self, name: str) -> list[Path]:
        """The files of ``stylerack train match --name NAME`` already in the user styles folder
        (matching would refuse to replace any of them without overwrite)."""
        return [path for suffix in MATCH_FILES if (path := user_styles_dir() / f"{name}.{suffix}").exists()]

    def match_reference(self, references: list[str], source: str | None, name: str, overwrite: bool = False,
                        progress=None) -> dict:
        """Fit a style that moves audio toward ``references`` (``stylerack train match``, run as
        a process of its own: the window never loads torch), save it in the user's styles
        folder and put it into the selected slot. Slow: call it off the window's thread.
        Raises StyleRackError with the command's one-line refusal."""
        folder = self.add_styles_folder()
        command = [sys.executable, "-m", "realtime.cli", "train", "match", "--reference", *references,
                   "--name", name, "--out", str(folder)]
        command += ["--source", source] if source else []
        command += ["--overwrite"] if overwrite else []
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        last = ""
        for line in process.stderr:
            stage = PROGRESS_LINE.search(line)
            if stage and progress:
                progress(stage[2].strip(), stage[1].count("#") / len(stage[1]))
            elif line.strip():
                last = line.strip()
        process.wait()
        if process.returncode != 0:
            raise StyleRackError(last.removeprefix("stylerack: error: ") or f"matching failed (exit {process.returncode})")
        report = json.loads((folder / f"{name}.json").read_text())
        self.refresh_styles()
        self.select_style(report["style"], wait=True)
        return report

    def add_styles_folder(self) -> Path:
        """The user styles folder (created if needed), for 'Add styles...'."""
        folder = user_styles_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # ---- the rack ----------------------------------------------------------------------

    def slots(self) -> list[SlotView]:
        return [
            SlotView(n, s.style_name, self._style_of(s), 100.0 * s.mix, s.bypass, dict(s.params))
            for n, s in enumerate(self.rack.slots, 1)
        ]

    def selected_slot(self) -> SlotView | None:
        slots = self.slots()
        return slots[self.selected - 1] if 1 <= self.selected <= len(slots) else None

    def select_slot(self, number: int) -> None:
        if 1 <= number <= len(self.rack.slots) and number != self.selected:
            self.selected = number
            self._emit("selected", number)

    def select_style(self, name_or_path: str, wait: bool = False) -> None:
        """Put a style into the selected slot (into a first slot when the rack is empty).
        Prepared on a helper thread, then crossfaded in; a refused style emits 'error' and
        the slot keeps playing what it had."""

        def change(rack: RackSpec, style: Style) -> int:
            if not rack.slots:
                rack.slots.append(SlotSpec(style.name if self.style_named(style.name) else str(style.path)))
                return 1
            number = self.selected or 1
            old = rack.slots[number - 1]
            rack.slots[number - 1] = SlotSpec(
                style.name if self.style_named(style.name) else str(style.path), {}, old.mix, old.bypass
            )
            return number

        self._edit(change, name_or_path, wait)

    def add_slot(self, name_or_path: str, position: int | None = None, wait: bool = False) -> None:
        """A new slot holding ``name_or_path`` at ``position`` (1-based; default: the end)."""

        def change(rack: RackSpec, style: Style) -> int:
            where = len(rack.slots) + 1 if position is None else max(1, min(int(position), len(rack.slots) + 1))
            rack.slots.insert(where - 1, SlotSpec(style.name if self.style_named(style.name) else str(style.path)))
            return where

        self._edit(change, name_or_path, wait)

    def remove_slot(self, number: int, wait: bool = False) -> None:
        def change(rack: RackSpec, _) -> int:
            rack.slots.pop(number - 1)
            return min(max(self.selected, 1), len(rack.slots))

        if 1 <= number <= len(self.rack.slots):
            self._edit(change, None, wait)

    def move_slot(self, number: int, position: int, wait: bool = False) -> None:
        count = len(self.rack.slots)
        if not (1 <= number <= count and 1 <= position <= count) or number == position:
            return

        def change(rack: RackSpec, _) -> int:
            rack.slots.insert(position - 1, rack.slots.pop(number - 1))
            return position

        self._edit(change, None, wait)

    def set_rack(self, rack: RackSpec, wait: bool = False) -> None:
        """Replace the whole rack (a saved rack recalled): slots and master settings."""

        def change(current: RackSpec, _) -> int:
            current.slots = copy.deepcopy(rack.slots)
            return 1 if rack.slots else 0

        self._edit(change, None, wait, then=lambda: self._apply_master(rack))

    def _edit(self, change, style_name: str | None, wait: bool, then=None) -> None:
        """Apply ``change(rack, style)`` (which returns the slot to select): at once while
        nothing plays, else on a helper thread (preparing styles is slow), ``wait`` for it."""
        if self.host is None:
            self._apply_edit(change, style_name, then)
            return
        thread = threading.Thread(target=self._apply_edit, args=(change, style_name, then), daemon=True)
        thread.start()
        if wait:
            thread.join()

    def _apply_edit(self, change, style_name: str | None, then) -> None:
        with self._edits:
            try:
                style = self._find(style_name) if style_name is not None else None
                rack = copy.deepcopy(self.rack)
                selected = change(rack, style)
                if self.host is not None:
                    self.host.engine.set_rack(self._engine_rack(rack))
            except StyleRackError as exc:
                self._emit("error", str(exc))
                return
            self.rack = rack
            self.selected = selected
            missing = [f"slot {n} is empty: style '{s.style_name}' is not installed"
                       for n, s in enumerate(rack.slots, 1) if self._style_of(s) is None]
            self._emit("rack", self.slots())
            self._emit("selected", self.selected)
            for note in missing:
                self._emit("error", note)
        if then:
            then()

    def _engine_rack(self, rack: RackSpec) -> RackSpec:
        """The rack as the engine process gets it: style files by path, master settings."""
        slots = []
        for slot in rack.slots:
            style = self._style_of(slot)
            slots.append(SlotSpec(str(style.path) if style else slot.style_name, dict(slot.params), slot.mix, slot.bypass))
        return RackSpec(slots, rack.mix, rack.bypass, rack.input_gain_db, self._output_gain_db(rack))

    def _output_gain_db(self, rack: RackSpec) -> float:
        return float("-inf") if self._muted else rack.output_gain_db

    # ---- the performer's values --------------------------------------------------------

    @property
    def mix_percent(self) -> float:
        return 100.0 * self.rack.mix

    def set_mix_percent(self, percent: float) -> None:
        """The master mix: the whole rack's wet against the input aligned with it."""
        percent = min(100.0, max(0.0, float(percent)))
        if percent == self.mix_percent:
            return
        self.rack.mix = percent / 100.0
        self._engine("set_mix", self.rack.mix)
        self._emit("mix", percent)

    def set_input_gain_db(self, gain_db: float) -> None:
        self.rack.input_gain_db = float(gain_db)
        self._engine("set_input_gain_db", gain_db)
        self._emit("input_gain", float(gain_db))

    def set_output_gain_db(self, gain_db: float) -> None:
        self.rack.output_gain_db = float(gain_db)
        if not self._muted:
            self._engine("set_output_gain_db", gain_db)
        self._emit("output_gain", float(gain_db))

    def set_bypass(self, bypass: bool) -> None:
        """The master bypass: the input, aligned, instead of the whole rack."""
        self.rack.bypass = bool(bypass)
        self._engine("set_bypass", self.rack.bypass)
        self._emit("bypass", self.rack.bypass)

    def toggle_bypass(self) -> None:
        self.set_bypass(not self.rack.bypass)

    def set_slot_mix_percent(self, number: int, percent: float) -> None:
        if not 1 <= number <= len(self.rack.slots):
            return
        slot = self.rack.slots[number - 1]
        slot.mix = min(100.0, max(0.0, float(percent))) / 100.0
        self._engine("set_slot_mix", number, slot.mix)
        self._emit("slot", self.slots()[number - 1])

    def set_slot_bypass(self, number: int, bypass: bool) -> None:
        if not 1 <= number <= len(self.rack.slots):
            return
        self.rack.slots[number - 1].bypass = bool(bypass)
        self._engine("set_slot_bypass", number, bool(bypass))
        self._emit("slot", self.slots()[number - 1])

    def toggle_slot_bypass(self, number: int | None = None) -> None:
        number = number or self.selected
        if 1 <= number <= len(self.rack.slots):
            self.set_slot_bypass(number, not self.rack.slots[number - 1].bypass)

    def set_param(self, name: str, value: float, number: int | None = None) -> None:
        """A knob of slot ``number`` (default: the selected slot)."""
        number = number or self.selected
        if not 1 <= number <= len(self.rack.slots):
            self._emit("error", "add a style to the rack first")
            return
        if self.host:
            try:
                value = self.host.engine.set_param(f"{number}.{name}", value)
            except StyleRackError as exc:
                self._emit("error", str(exc))
                return
        self.rack.slots[number - 1].params[name] = float(value)
        self._emit("param", (number, name, float(value)))

    def _engine(self, control: str, *args) -> None:
        if self.host is None:
            return
        try:
            getattr(self.host.engine, control)(*args)
        except StyleRackError as exc:
            self._emit("error", str(exc))

    def step_style(self, offset: int, visible: list[Style] | None = None) -> None:
        """Next/previous style in the selected slot (keyboard up/down), among the visible ones."""
        pool = visible if visible is not None else self.styles
        if not pool:
            return
        names = [s.name for s in pool]
        current = self.selected_slot()
        index = names.index(current.name) if current and current.name in names else -1
        self.select_style(names[(index + offset) % len(names)])

    # ---- audio -------------------------------------------------------------------------

    def set_settings(self, **changes) -> None:
        self.settings = replace(self.settings, **changes)

    def start(self) -> bool:
        """Open the devices and play; failures become an 'error' event, never an exception."""
        if self.host is not None:
            return True
        if not self.rack.slots:
            self._emit("error", "choose a style first")
            return False
        host = None
        try:
            host = self._host_factory(self.settings)
            risky = looks_like_feedback(host.devices.input_name, host.devices.output_name)
            self._muted = risky  # muted until the performer confirms
            host.engine.set_rack(self._engine_rack(self.rack))
            host.set_demo_input(self.demo_input)
            host.engine.jump_to_targets()
            host.start()
        except StyleRackError as exc:
            self._muted = False
            if host is not None:  # release the devices (and the engine process) it holds
                host.stop()
            self._emit("error", str(exc))
            return False
        self.host = host
        first = host.report()
        self._lateness = LateBlockWatch(self.settings.margin_blocks, first["engine_block_frames"], first["sample_rate"],
                                        time.monotonic(), margin_advice="a style margin of {} blocks (Audio setup)")
        self._emit("running", True)
        if risky:
            self._emit("feedback", (host.devices.input_name, host.devices.output_name))
        return True

    def confirm_feedback(self) -> None:
        """The performer says the output cannot reach the microphone: unmute."""
        self._muted = False
        if self.host:
            self.host.engine.set_output_gain_db(self.rack.output_gain_db)

    def _apply_master(self, rack: RackSpec) -> None:
        self.set_mix_percent(100.0 * rack.mix)
        self.set_input_gain_db(rack.input_gain_db)
        self.set_output_gain_db(rack.output_gain_db)
        self.set_bypass(rack.bypass)

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
        warning = self._lateness.check(lambda: report, time.monotonic()) if self._lateness else None
        if warning:
            self._emit("warning", warning)
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

    # ---- saved racks -------------------------------------------------------------------

    def saved_racks(self, folder: Path | None = None) -> list[str]:
        folder = folder or racks_dir()
        return sorted(p.stem for p in folder.glob(f"*{RACK_SUFFIX}")) if folder.is_dir() else []

    def rack_path(self, name: str, folder: Path | None = None) -> Path:
        return (folder or racks_dir()) / f"{name}{RACK_SUFFIX}"

    def save_rack(self, name: str, overwrite: bool = False, folder: Path | None = None) -> bool:
        """Save the rack under ``name``; an existing one is replaced only with ``overwrite``."""
        try:
            write_rack(self.rack_path(name, folder), self._file_rack(), overwrite=overwrite)
        except StyleRackError as exc:
            self._emit("error", str(exc))
            return False
        self._emit("racks", self.saved_racks(folder))
        return True

    def _file_rack(self) -> RackSpec:
        """The rack with loaded styles (so the file records each style's sha256)."""
        rack = copy.deepcopy(self.rack)
        for slot in rack.slots:
            style = self._style_of(slot)
            if style is not None and not isinstance(slot.style, Style):
                slot.style = style
        return rack

    def recall_rack(self, name_or_path: str, folder: Path | None = None, wait: bool = True) -> None:
        """Load a saved rack (by name) or a rack file (by path); a broken one emits 'error'
        and what plays keeps playing."""
        path = Path(name_or_path) if name_or_path.endswith(RACK_SUFFIX) else self.rack_path(name_or_path, folder)
        try:
            rack = read_rack(path)
        except StyleRackError as exc:
            self._emit("error", str(exc))
            return
        for slot in rack.slots:
            style = self._style_of(slot)
            if style is not None and slot.sha256 and file_sha256(style.path) != slot.sha256:
                self._emit("error", f"{path}: style '{style.name}' has changed since the rack was saved")
        self.set_rack(rack, wait=wait)


