"""The StyleRack window: style browser, the rack's slot cards, master mix, audio setup, meters,
recording and saved racks. It never touches the audio thread: a 30 Hz timer polls the
controller's numbers."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from PyQt6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from gui.controller import Controller, settings_path
from gui.widgets.device_panel import DevicePanel
from gui.widgets.meters import LevelMeter, Readouts
from gui.widgets.match_dialog import MatchDialog
from gui.widgets.mix_panel import MixPanel
from gui.widgets.rack_view import RackView
from gui.widgets.session_bar import SessionBar
from gui.widgets.style_browser import StyleBrowser
from realtime.errors import StyleRackError
from realtime.format.rack import RackSpec, SlotSpec, rack_from_json

POLL_MS = 33


class _Bridge(QObject):
    """Carries controller events (some from helper threads) onto the Qt thread."""

    event = pyqtSignal(str, object)


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.addWidget(widget)
    return box


class MainWindow(QMainWindow):
    def __init__(self, controller: Controller, device_lister=None, settings_file: Path | None = None) -> None:
        super().__init__()
        self.controller = controller
        self._device_lister = device_lister
        self._settings = QSettings(str(settings_file or settings_path()), QSettings.Format.IniFormat)
        self.setWindowTitle("StyleRack")
        self.resize(1280, 860)
        self.browser = StyleBrowser()
        self.rack = RackView()
        self.mix = MixPanel()
        self.devices = DevicePanel()
        self.session = SessionBar()
        self.input_meter, self.output_meter = LevelMeter("Input"), LevelMeter("Output")
        self.readouts = Readouts()
        meters = QWidget()
        meter_layout = QVBoxLayout(meters)
        meter_layout.addWidget(self.input_meter)
        meter_layout.addWidget(self.output_meter)
        meter_layout.addWidget(self.readouts)
        right = QVBoxLayout()
        right.addWidget(_group("Audio", self.devices))
        right.addWidget(_group("Levels and numbers", meters), 1)
        top = QHBoxLayout()
        top.addWidget(_group("Styles (into the selected slot)", self.browser), 3)
        top.addWidget(_group("Master", self.mix), 3)
        top.addLayout(right, 3)
        body = QVBoxLayout()
        body.addLayout(top, 1)
        body.addWidget(_group("Rack (space: bypass the selected slot; drag a card to reorder)", self.rack))
        body.addWidget(self.session)
        root = QWidget()
        root.setLayout(body)
        self.setCentralWidget(root)
        self.latency = QLabel("latency: -")
        self.statusBar().addPermanentWidget(self.latency)

        self._bridge = _Bridge()
        self._bridge.event.connect(self._on_event)
        controller.subscribe(lambda name, value: self._bridge.event.emit(name, value))
        self._wire()
        self._shortcuts()
        self.browser.set_styles(controller.styles, controller.categories())
        self.session.set_racks(controller.saved_racks())
        self.rack.set_slots(controller.slots(), controller.selected)
        self.refresh_devices()
        self._restore_settings()
        if controller.styles and not controller.rack.slots:
            controller.select_style(controller.styles[0].name)
        self._last_poll = time.monotonic()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.poll)
        self.timer.start(POLL_MS)
        self.browser.list.setFocus()  # space, arrows and numbers work at once

    def _wire(self) -> None:
        c = self.controller
        self.browser.chosen.connect(c.select_style)
        self.browser.add_requested.connect(self.add_styles)
        self.browser.match_requested.connect(self.match_reference)
        self.mix.mix_changed.connect(c.set_mix_percent)
        self.mix.input_gain_changed.connect(c.set_input_gain_db)
        self.mix.output_gain_changed.connect(c.set_output_gain_db)
        self.mix.bypass_toggled.connect(c.set_bypass)
        self.rack.slot_selected.connect(c.select_slot)
        self.rack.slot_mix_changed.connect(c.set_slot_mix_percent)
        self.rack.slot_bypass_toggled.connect(c.set_slot_bypass)
        self.rack.slot_param_changed.connect(lambda number, name, value: c.set_param(name, value, number))
        self.rack.slot_removed.connect(c.remove_slot)
        self.rack.slot_moved.connect(c.move_slot)
        self.rack.add_requested.connect(self.add_slot)
        self.devices.start_requested.connect(self.start_audio)
        self.devices.stop_requested.connect(c.stop)
        self.devices.refresh_requested.connect(self.refresh_devices)
        self.devices.demo_toggled.connect(c.set_demo_input)
        self.session.record_requested.connect(self.record)
        self.session.stop_record_requested.connect(c.stop_recording)
        self.session.save_rack_requested.connect(self.save_rack)
        self.session.rack_chosen.connect(lambda name: c.recall_rack(name, wait=False))

    def _shortcuts(self) -> None:
        """Space: bypass the selected slot (shift+space: the whole rack); up/down: previous/next
        style in the selected slot; 1-9: the nth visible style; +/-: master mix. Handled before
        any widget (list views would take them for their type-ahead), except while typing in
        a text field."""
        c = self.controller
        self._keys = {
            Qt.Key.Key_Space: lambda shift=False: c.toggle_bypass() if shift else c.toggle_slot_bypass(),
            Qt.Key.Key_Up: lambda: c.step_style(-1, self._visible()),
            Qt.Key.Key_Down: lambda: c.step_style(1, self._visible()),
            Qt.Key.Key_Plus: lambda: c.set_mix_percent(c.mix_percent + 5),
            Qt.Key.Key_Equal: lambda: c.set_mix_percent(c.mix_percent + 5),
            Qt.Key.Key_Minus: lambda: c.set_mix_percent(c.mix_percent - 5),
        }
        for number in range(1, 10):
            self._keys[Qt.Key(Qt.Key.Key_0.value + number)] = lambda n=number: self._choose_nth(n)
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        mine = isinstance(watched, QWidget) and watched.window() is self
        if event.type() == QEvent.Type.KeyPress and mine:
            action = self._keys.get(Qt.Key(event.key())) if event.key() in {k.value for k in self._keys} else None
            typing = isinstance(QApplication.focusWidget(), (QLineEdit, QAbstractSpinBox))
            if action is not None and not typing and not event.isAutoRepeat():
                if event.key() == Qt.Key.Key_Space:
                    action(bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
                else:
                    action()
                return True
        return super().eventFilter(watched, event)

    def _visible(self):
        names = self.browser.visible_names()
        return [s for s in self.controller.styles if s.name in names]

    def _choose_nth(self, number: int) -> None:
        names = self.browser.visible_names()
        if number <= len(names):
            self.controller.select_style(names[number - 1])

    # ---- actions -----------------------------------------------------------------------

    def refresh_devices(self) -> None:
        if self.controller.host is not None:
            return
        try:
            if self._device_lister is None:
                from realtime.live.devices import list_devices, refresh_devices

                refresh_devices()
                devices = list_devices()
            else:
                devices = self._device_lister()
        except StyleRackError as exc:
            self.devices.show_message(str(exc))
            return
        self.devices.set_devices(devices)
        self.devices.show_message(f"{len(devices)} devices" if devices else "no audio devices found")

    def start_audio(self) -> None:
        self.controller.set_settings(**self.devices.settings())
        if self.controller.start():
            note = self.controller.host.report().get("block_note")
            self.devices.show_message(f"running; {note}" if note else "running")

    def add_slot(self) -> None:
        """'+': a new slot at the end holding the style highlighted in the browser."""
        item = self.browser.list.currentItem()
        names = self.browser.visible_names()
        name = item.data(Qt.ItemDataRole.UserRole) if item is not None else (names[0] if names else None)
        if name is None:
            self.statusBar().showMessage("no style to add: install one first", 6000)
            return
        self.controller.add_slot(name)

    def match_reference(self) -> MatchDialog:
        dialog = MatchDialog(self.controller, self)
        dialog.show()
        return dialog

    def save_rack(self, name: str) -> None:
        c = self.controller
        overwrite = False
        if c.rack_path(name).exists():
            answer = QMessageBox.question(self, "Save rack", f"A rack named '{name}' exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
            overwrite = True
        if c.save_rack(name, overwrite=overwrite):
            self.statusBar().showMessage(f"rack saved: {c.rack_path(name)}", 6000)

    def record(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Record to", str(Path.home() / "stylerack-take.wav"), "WAV (*.wav)")
        if not path or not self.controller.start_recording(path):
            self.session.show_recording(None)

    def add_styles(self) -> None:
        folder = self.controller.add_styles_folder()
        paths, _ = QFileDialog.getOpenFileNames(self, "Add styles", str(Path.home()), "Styles (*.onnx)")
        for source in map(Path, paths):
            target = folder / source.name
            if target.exists():
                self.devices.show_message(f"{target}: a style file of that name is already installed")
                continue
            shutil.copy2(source, target)
        self.controller.refresh_styles()

    # ---- controller -> widgets ---------------------------------------------------------

    def _on_event(self, name: str, value) -> None:
        c = self.controller
        current = c.selected_slot()
        if name == "styles":
            self.browser.set_styles(c.styles, c.categories())
            self.browser.show_current(current.name if current else None)
        elif name == "rack":
            self.rack.set_slots(value, c.selected)
            self.browser.show_current(current.name if current else None)
            chain = " > ".join(v.name for v in value) or "empty"
            self.statusBar().showMessage(f"rack: {chain}", 4000)
        elif name == "selected":
            self.rack.select(value)
            self.browser.show_current(current.name if current else None)
        elif name == "slot":
            self.rack.show_slot(value)
        elif name == "param":
            self.rack.show_param(*value)
        elif name == "mix":
            self.mix.show_mix(value)
        elif name == "input_gain":
            self.mix.show_input_gain(value)
        elif name == "output_gain":
            self.mix.show_output_gain(value)
        elif name == "bypass":
            self.mix.show_bypass(value)
        elif name == "running":
            self.devices.show_running(value)
            if not value:
                self.readouts.show_report(None)
                self.latency.setText("latency: -")
        elif name == "error":
            self.devices.show_message(str(value))
            self.statusBar().showMessage(str(value), 8000)
        elif name == "warning":
            self.statusBar().showMessage(str(value), 15000)
        elif name == "recording":
            self.session.show_recording(value)
        elif name == "racks":
            self.session.set_racks(value)
        elif name == "feedback":
            self._confirm_feedback(*value)

    def _confirm_feedback(self, input_name: str, output_name: str) -> None:
        answer = QMessageBox.question(
            self, "Feedback risk",
            f"'{input_name}' may hear '{output_name}': that can howl.\n\nStyleRack started muted. "
            "Unmute now (only with headphones, or when the speakers cannot reach the microphone)?",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.controller.confirm_feedback()

    def poll(self) -> None:
        now = time.monotonic()
        dt, self._last_poll = now - self._last_poll, now
        report = self.controller.poll()
        if report is None:
            self.input_meter.set_levels(0.0, 0.0, dt)
            self.output_meter.set_levels(0.0, 0.0, dt)
            return
        self.input_meter.set_levels(report["input_peak"], report["input_rms"], dt)
        self.output_meter.set_levels(report["output_peak"], report["output_rms"], dt)
        self.readouts.show_report(report)
        self.rack.show_peaks(report.get("slot_peaks", []), dt)
        self.latency.setText(latency_text(report))
        if report["recording_seconds"] is not None:
            self.session.show_recording(None, report["recording_seconds"])

    def _restore_settings(self) -> None:
        """Audio setup and the last rack, as the window was closed (QSettings)."""
        stored = self._settings.value("state", "")
        try:
            state = json.loads(stored) if stored else {}
        except ValueError:
            state = {}
        audio = state.get("audio", {})
        for combo, key in ((self.devices.rate, "rate"), (self.devices.block, "block"), (self.devices.margin, "margin")):
            if audio.get(key) and combo.findText(audio[key]) >= 0:
                combo.setCurrentText(audio[key])
        if self.devices.resampler.findData(audio.get("resampler")) >= 0:
            self.devices.resampler.setCurrentIndex(self.devices.resampler.findData(audio["resampler"]))
        for combo, key in ((self.devices.input, "input"), (self.devices.output, "output")):
            index = combo.findText(audio.get(key, ""))
            if index >= 0:
                combo.setCurrentIndex(index)
        self.devices.demo.setChecked(audio.get("demo", True))
        rack = None
        try:
            rack = rack_from_json(state["rack"]) if "rack" in state else None
        except ValueError:
            pass
        old = state.get("performance")  # a window of StyleRack 0.1 kept one style
        if rack is None and isinstance(old, dict) and old.get("style"):
            rack = RackSpec([SlotSpec(old["style"], dict(old.get("params", {})))], old.get("mix_percent", 100.0) / 100.0,
                            False, old.get("input_gain_db", 0.0), old.get("output_gain_db", 0.0))
        if rack is not None:
            self.controller.set_rack(rack)

    def save_settings(self) -> None:
        d = self.devices
        audio = {
            "rate": d.rate.currentText(), "block": d.block.currentText(), "margin": d.margin.currentText(),
            "input": d.input.currentText(), "output": d.output.currentText(), "demo": d.demo.isChecked(),
            "resampler": d.resampler.currentData(),
        }
        rack = self.controller.rack.to_json()
        self._settings.setValue("state", json.dumps({"audio": audio, "rack": rack}))
        self._settings.sync()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.save_settings()
        QApplication.instance().removeEventFilter(self)
        self.timer.stop()
        self.controller.stop()
        super().closeEvent(event)


def latency_text(report: dict) -> str:
    """The status bar's latency: the total, then its parts (device, each slot, buffering)."""
    rate = report["sample_rate"]
    parts = report.get("latency_parts", [])
    slots_ms = sum(ms for _, ms in parts)
    buffering_ms = 1000.0 * report["algorithmic_latency_samples"] / rate - slots_ms
    device_ms = 1000.0 * report["device_latency_samples"] / rate
    pieces = [f"device {device_ms:.1f}", *(f"{name} {ms:.1f}" for name, ms in parts), f"buffering {buffering_ms:.1f}"]
    return f"latency {report['total_latency_ms']:.1f} ms = " + " + ".join(pieces)
