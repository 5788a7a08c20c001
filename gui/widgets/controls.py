"""Small helpers the window's widgets share."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QSlider


def slider(low: int, high: int, value: int) -> QSlider:
    """A horizontal slider over ``low..high`` set at ``value``."""
    control = QSlider(Qt.Orientation.Horizontal)
    control.setRange(low, high)
    control.setValue(value)
    return control


def quietly(widget, setter, value) -> None:
    """Show a value without emitting the widget's signals (the controller already has it)."""
    widget.blockSignals(True)
    setter(value)
    widget.blockSignals(False)
