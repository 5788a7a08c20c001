"""Audio setup: input and output device, sample rate, block size, style margin, demo input,
start/stop and refresh; failures in plain words."""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

RATES = ("device default", "44100", "48000", "88200", "96000")
BLOCKS = ("0 (device chooses)", "32", "64", "128", "256", "512", "1024")


class DevicePanel(QWidget):
    start_requested = pyqtSignal()
    stop_requested = pyqtSignal()
    refresh_requested = pyqtSignal()
    demo_toggled = pyqtSignal(bool)

    def __init__(self) -> None:
        super().__init__()
        self.input = QComboBox()
        self.output = QComboBox()
        self.rate = QComboBox()
        self.rate.addItems(RATES)
        self.block = QComboBox()
        self.block.addItems(BLOCKS)
        self.block.setCurrentText("128")
        self.margin = QComboBox()  # blocks the style worker runs ahead of the audio callback
        self.margin.addItems(["1 block", "2 blocks", "3 blocks"])
        self.margin.setToolTip("How far ahead the style runs: more is safer against glitches and adds latency")
        self.resampler = QComboBox()  # used only when the device rate differs from a style's
        self.resampler.addItem("low latency (1.7 ms)", "low-latency")
        self.resampler.addItem("soxr HQ (steeper, ~40 ms)", "soxr-hq")
        self.resampler.setToolTip(
            "When the device runs at another rate than a style: the low-latency filter is flat to 18 kHz at "
            "44.1 kHz and 90+ dB clean; soxr HQ keeps more of the top octave but buffers about 40 ms"
        )
        self.demo = QCheckBox("Play the demo clip instead of the input")
        self.demo.setChecked(True)
        self.start = QPushButton("Start")
        self.start.setMinimumHeight(34)
        self.refresh = QPushButton("Refresh devices")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setObjectName("deviceMessage")
        form = QFormLayout()
        form.addRow("Input", self.input)
        form.addRow("Output", self.output)
        form.addRow("Sample rate", self.rate)
        form.addRow("Block", self.block)
        form.addRow("Style margin", self.margin)
        form.addRow("Resampler", self.resampler)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start, 2)
        buttons.addWidget(self.refresh, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.demo)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.running = False
        self.start.clicked.connect(lambda: (self.stop_requested if self.running else self.start_requested).emit())
        self.refresh.clicked.connect(self.refresh_requested.emit)
        self.demo.toggled.connect(self.demo_toggled.emit)

    def set_devices(self, devices: list[dict]) -> None:
        for combo, key in ((self.input, "inputs"), (self.output, "outputs")):
            keep = combo.currentData()
            combo.clear()
            combo.addItem("default", None)
            for d in devices:
                if d[key] > 0:
                    combo.addItem(f"{d['name']} ({d['host_api']})", d["index"])
            if keep is not None and combo.findData(keep) >= 0:
                combo.setCurrentIndex(combo.findData(keep))

    def settings(self) -> dict:
        rate = self.rate.currentText()
        return {
            "input": self.input.currentData(),
            "output": self.output.currentData(),
            "sample_rate": None if not rate.isdigit() else int(rate),
            "block_frames": int(self.block.currentText().split()[0]),
            "margin_blocks": int(self.margin.currentText().split()[0]),
            "resampler": self.resampler.currentData(),
        }

    def show_running(self, running: bool) -> None:
        self.running = running
        self.start.setText("Stop" if running else "Start")
        for widget in (self.input, self.output, self.rate, self.block, self.margin, self.resampler, self.refresh):
            widget.setEnabled(not running)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
