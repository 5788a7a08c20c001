"""The master section: the rack's mix (dry/wet against the input aligned with the whole
chain) as a large slider, input and output gain, and the rack's bypass. Each slot's own
mix, bypass and knobs are on its card (``rack_view``)."""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from gui.widgets.controls import quietly, slider


class MixPanel(QWidget):
    mix_changed = pyqtSignal(float)
    input_gain_changed = pyqtSignal(float)
    output_gain_changed = pyqtSignal(float)
    bypass_toggled = pyqtSignal(bool)

    def __init__(self) -> None:
        super().__init__()
        self.mix = slider(0, 100, 100)
        self.mix.setMinimumHeight(40)
        self.mix.setPageStep(5)
        self.mix.setToolTip("Master mix: the whole rack against the input (keyboard: + and -)")
        self.mix_label = QLabel("Mix 100%")
        self.mix_label.setStyleSheet("font-size: 22px; font-weight: bold;")
        self.input_gain = slider(-24, 24, 0)
        self.output_gain = slider(-24, 24, 0)
        self.input_label, self.output_label = QLabel("0.0 dB"), QLabel("0.0 dB")
        self.bypass = QPushButton("Bypass rack (shift+space)")
        self.bypass.setCheckable(True)
        self.bypass.setMinimumHeight(36)
        gains = QFormLayout()
        for title, control, label in (("Input gain", self.input_gain, self.input_label), ("Output gain", self.output_gain, self.output_label)):
            row = QHBoxLayout()
            row.addWidget(control, 1)
            row.addWidget(label)
            gains.addRow(title, row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.mix_label)
        layout.addWidget(self.mix)
        layout.addLayout(gains)
        layout.addWidget(self.bypass)
        layout.addStretch(1)
        self.mix.valueChanged.connect(lambda v: (self._show_mix(v), self.mix_changed.emit(float(v))))
        self.input_gain.valueChanged.connect(lambda v: (self.input_label.setText(f"{v:+.1f} dB"), self.input_gain_changed.emit(float(v))))
        self.output_gain.valueChanged.connect(lambda v: (self.output_label.setText(f"{v:+.1f} dB"), self.output_gain_changed.emit(float(v))))
        self.bypass.toggled.connect(self.bypass_toggled.emit)

    def _show_mix(self, value: int) -> None:
        self.mix_label.setText(f"Mix {value}%")

    def show_mix(self, percent: float) -> None:
        quietly(self.mix, self.mix.setValue, round(percent))
        self._show_mix(round(percent))

    def show_input_gain(self, gain_db: float) -> None:
        quietly(self.input_gain, self.input_gain.setValue, round(gain_db))
        self.input_label.setText(f"{gain_db:+.1f} dB")

    def show_output_gain(self, gain_db: float) -> None:
        quietly(self.output_gain, self.output_gain.setValue, round(max(-24, min(24, gain_db))))
        self.output_label.setText(f"{gain_db:+.1f} dB")

    def show_bypass(self, bypass: bool) -> None:
        quietly(self.bypass, self.bypass.setChecked, bypass)
