"""Mix (dry/wet) as a large slider, input and output gain, bypass, and the style's own knobs
generated from its manifest."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

KNOB_STEPS = 200


def _steps(spec) -> int:
    """Slider positions for a knob: its own steps (a transpose in semitones), else KNOB_STEPS."""
    return max(1, round((spec.max - spec.min) / spec.step)) if spec.step else KNOB_STEPS


def _slider(low: int, high: int, value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    slider.setValue(value)
    return slider


class MixPanel(QWidget):
    mix_changed = pyqtSignal(float)
    input_gain_changed = pyqtSignal(float)
    output_gain_changed = pyqtSignal(float)
    bypass_toggled = pyqtSignal(bool)
    param_changed = pyqtSignal(str, float)

    def __init__(self) -> None:
        super().__init__()
        self.mix = _slider(0, 100, 100)
        self.mix.setMinimumHeight(40)
        self.mix.setPageStep(5)
        self.mix.setToolTip("Dry/wet mix (keyboard: left/right, page up/down)")
        self.mix_label = QLabel("Mix 100%")
        self.mix_label.setStyleSheet("font-size: 22px; font-weight: bold;")
        self.input_gain = _slider(-24, 24, 0)
        self.output_gain = _slider(-24, 24, 0)
        self.input_label, self.output_label = QLabel("0.0 dB"), QLabel("0.0 dB")
        self.bypass = QPushButton("Bypass (space)")
        self.bypass.setCheckable(True)
        self.bypass.setMinimumHeight(36)
        self.knobs_box = QGroupBox("Style knobs")
        self.knobs_layout = QFormLayout(self.knobs_box)
        self.knobs: dict[str, tuple[QSlider, QLabel, object]] = {}
        gains = QFormLayout()
        for title, slider, label in (("Input gain", self.input_gain, self.input_label), ("Output gain", self.output_gain, self.output_label)):
            row = QHBoxLayout()
            row.addWidget(slider, 1)
            row.addWidget(label)
            gains.addRow(title, row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.mix_label)
        layout.addWidget(self.mix)
        layout.addLayout(gains)
        layout.addWidget(self.bypass)
        layout.addWidget(self.knobs_box)
        layout.addStretch(1)
        self.mix.valueChanged.connect(lambda v: (self._show_mix(v), self.mix_changed.emit(float(v))))
        self.input_gain.valueChanged.connect(lambda v: (self.input_label.setText(f"{v:+.1f} dB"), self.input_gain_changed.emit(float(v))))
        self.output_gain.valueChanged.connect(lambda v: (self.output_label.setText(f"{v:+.1f} dB"), self.output_gain_changed.emit(float(v))))
        self.bypass.toggled.connect(self.bypass_toggled.emit)

    def _show_mix(self, value: int) -> None:
        self.mix_label.setText(f"Mix {value}%")

    @staticmethod
    def _quiet(widget, setter, value) -> None:
        widget.blockSignals(True)
        setter(value)
        widget.blockSignals(False)

    def show_mix(self, percent: float) -> None:
        self._quiet(self.mix, self.mix.setValue, round(percent))
        self._show_mix(round(percent))

    def show_input_gain(self, gain_db: float) -> None:
        self._quiet(self.input_gain, self.input_gain.setValue, round(gain_db))
        self.input_label.setText(f"{gain_db:+.1f} dB")

    def show_output_gain(self, gain_db: float) -> None:
        self._quiet(self.output_gain, self.output_gain.setValue, round(max(-24, min(24, gain_db))))
        self.output_label.setText(f"{gain_db:+.1f} dB")

    def show_bypass(self, bypass: bool) -> None:
        self._quiet(self.bypass, self.bypass.setChecked, bypass)

    def build_knobs(self, specs, values: dict[str, float]) -> None:
        while self.knobs_layout.rowCount():
            self.knobs_layout.removeRow(0)
        self.knobs.clear()
        for spec in specs:
            slider = _slider(0, _steps(spec), 0)
            label = QLabel()
            row = QHBoxLayout()
            row.addWidget(slider, 1)
            row.addWidget(label)
            self.knobs_layout.addRow(spec.name, row)
            self.knobs[spec.name] = (slider, label, spec)
            slider.valueChanged.connect(lambda v, s=spec: self._knob_moved(s, v))
            self.show_param(spec.name, values.get(spec.name, spec.default))
        self.knobs_box.setVisible(bool(specs))

    def _knob_moved(self, spec, step: int) -> None:
        value = spec.min + (spec.max - spec.min) * step / _steps(spec)
        self.knobs[spec.name][1].setText(f"{value:.2f} {spec.unit}".strip())
        self.param_changed.emit(spec.name, value)

    def show_param(self, name: str, value: float) -> None:
        if name not in self.knobs:
            return
        slider, label, spec = self.knobs[name]
        self._quiet(slider, slider.setValue, round((value - spec.min) / (spec.max - spec.min) * _steps(spec)))
        label.setText(f"{value:.2f} {spec.unit}".strip())
