"""The StyleRack window: style browser, mix and knobs, audio setup, meters, recording and
presets. It never touches the audio thread: a 30 Hz timer polls the controller's numbers."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from PyQt6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from gui.controller import Controller, settings_path
from gui.widgets.device_panel import DevicePanel
from gui.widgets.meters import LevelMeter, Readouts
from gui.widgets.mix_panel import MixPanel
from gui.widgets.session_bar import SessionBar
from gui.widgets.style_browser import StyleBrowser
from realtime.errors import StyleRackError

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
        self.resize(1280, 720)
        self.browser = StyleBrowser()
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
        center = QVBoxLayout()
        center.addWidget(_group("Mix", self.mix), 1)
        center.addWidget(self.session)
        body = QHBoxLayout()
        body.addWidget(_group("Styles", self.browser), 3)
        body.addLayout(center, 4)
        body.addLayout(right, 3)
        root = QWidget()
        root.setLayout(body)
        self.setCentralWidget(root)

        self._bridge = _Bridge()
        self._bridge.event.connect(self._on_event)
        controller.subscribe(lambda name, value: self._bridge.event.emit(name, value))
        self._wire()
        self._shortcuts()
        self.browser.set_styles(controller.styles, controller.categories())
        self.session.set_presets(sorted(controller.load_presets()))
        self.refresh_devices()
        self._restore_settings()
        if controller.styles and controller.performance.style is None:
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
        self.mix.mix_changed.connect(c.set_mix_percent)
        self.mix.input_gain_changed.connect(c.set_input_gain_db)
        self.mix.output_gain_changed.connect(c.set_output_gain_db)
        self.mix.bypass_toggled.connect(c.set_bypass)
        self.mix.param_changed.connect(c.set_param)
        self.devices.start_requested.connect(self.start_audio)
        self.devices.stop_requested.connect(c.stop)
        self.devices.refresh_requested.connect(self.refresh_devices)
        self.devices.demo_toggled.connect(c.set_demo_input)
        self.session.record_requested.connect(self.record)
        self.session.stop_record_requested.connect(c.stop_recording)
        self.session.save_preset_requested.connect(c.save_preset)
        self.session.preset_chosen.connect(c.recall_preset)

    def _shortcuts(self) -> None:
        """Space: bypass; up/down: previous/next style; 1-9: the nth visible style; +/-: mix.
        Handled before any widget (list views would take them for their type-ahead), except
        while typing in a text field."""
        c = self.controller
        self._keys = {
            Qt.Key.Key_Space: c.toggle_bypass,
            Qt.Key.Key_Up: lambda: c.step_style(-1, self._visible()),
            Qt.Key.Key_Down: lambda: c.step_style(1, self._visible()),
            Qt.Key.Key_Plus: lambda: c.set_mix_percent(c.performance.mix_percent + 5),
            Qt.Key.Key_Equal: lambda: c.set_mix_percent(c.performance.mix_percent + 5),
            Qt.Key.Key_Minus: lambda: c.set_mix_percent(c.performance.mix_percent - 5),
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
            self.devices.show_message("running")

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
        if name == "styles":
            self.browser.set_styles(c.styles, c.categories())
            self.browser.show_current(c.performance.style)
        elif name == "style":
            self.browser.show_current(value.name)
            self.mix.build_knobs(value.manifest.params, c.performance.params)
            self.statusBar().showMessage(f"style: {value.name}", 4000)
        elif name == "mix":
            self.mix.show_mix(value)
        elif name == "input_gain":
            self.mix.show_input_gain(value)
        elif name == "output_gain":
            self.mix.show_output_gain(value)
        elif name == "bypass":
            self.mix.show_bypass(value)
        elif name == "param":
            self.mix.show_param(*value)
        elif name == "running":
            self.devices.show_running(value)
            if not value:
                self.readouts.show_report(None)
        elif name == "error":
            self.devices.show_message(str(value))
            self.statusBar().showMessage(str(value), 8000)
        elif name == "recording":
            self.session.show_recording(value)
        elif name == "presets":
            self.session.set_presets(value)
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
        if report["recording_seconds"] is not None:
            self.session.show_recording(None, report["recording_seconds"])

    def _restore_settings(self) -> None:
        """Audio setup and the last performance, as the window was closed (QSettings)."""
        stored = self._settings.value("state", "")
        try:
            state = json.loads(stored) if stored else {}
        except ValueError:
            state = {}
        audio = state.get("audio", {})
        for combo, key in ((self.devices.rate, "rate"), (self.devices.block, "block"), (self.devices.margin, "margin")):
            if audio.get(key) and combo.findText(audio[key]) >= 0:
                combo.setCurrentText(audio[key])
        for combo, key in ((self.devices.input, "input"), (self.devices.output, "output")):
            index = combo.findText(audio.get(key, ""))
            if index >= 0:
                combo.setCurrentIndex(index)
        self.devices.demo.setChecked(audio.get("demo", True))
        performance = state.get("performance", {})
        c = self.controller
        if performance.get("style") and c.style_named(performance["style"]):
            c.select_style(performance["style"])
        c.set_mix_percent(performance.get("mix_percent", 100.0))
        c.set_input_gain_db(performance.get("input_gain_db", 0.0))
        c.set_output_gain_db(performance.get("output_gain_db", 0.0))
        for name, value in performance.get("params", {}).items():
            c.set_param(name, value)

    def save_settings(self) -> None:
        d = self.devices
        audio = {
            "rate": d.rate.currentText(), "block": d.block.currentText(), "margin": d.margin.currentText(),
            "input": d.input.currentText(), "output": d.output.currentText(), "demo": d.demo.isChecked(),
        }
        self._settings.setValue("state", json.dumps({"audio": audio, "performance": asdict(self.controller.performance)}))
        self._settings.sync()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.save_settings()
        QApplication.instance().removeEventFilter(self)
        self.timer.stop()
        self.controller.stop()
        super().closeEvent(event)
