"""Level meters (peak and RMS in dBFS, with a clip light) and the numbers readout."""

from __future__ import annotations

import math

from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import QGridLayout, QLabel, QWidget

FLOOR_DB = -60.0
CLIP_HOLD_S = 2.0


def to_db(level: float) -> float:
    return 20 * math.log10(level) if level > 1e-6 else -120.0


class LevelMeter(QWidget):
    """A horizontal bar: RMS filled, peak as a line, red light when the peak reached 0 dBFS."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label
        self.peak_db = self.rms_db = -120.0
        self.clip_hold = 0.0
        self.setMinimumHeight(24)
        self.setMaximumHeight(30)
        self.setToolTip(f"{label} level: bar = RMS, line = peak (dBFS); red = clipping")

    def set_levels(self, peak: float, rms: float, dt: float) -> None:
        self.peak_db = max(to_db(peak), self.peak_db - 40 * dt)  # peak falls back at 40 dB/s
        self.rms_db = to_db(rms)
        self.clip_hold = CLIP_HOLD_S if peak >= 0.999 else max(0.0, self.clip_hold - dt)
        self.update()

    def _x(self, db: float, width: float) -> float:
        return width * min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        width, height = self.width() - 70, self.height()
        painter.fillRect(QRectF(60, 2, width, height - 4), QColor(30, 30, 34))
        painter.fillRect(QRectF(60, 2, self._x(self.rms_db, width), height - 4), QColor(70, 170, 110))
        painter.setPen(QColor(240, 220, 90))
        x = 60 + self._x(self.peak_db, width)
        painter.drawLine(int(x), 2, int(x), height - 2)
        painter.fillRect(QRectF(64 + width, 4, 6, height - 8), QColor(220, 40, 40) if self.clip_hold else QColor(60, 20, 20))
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(QRectF(0, 0, 58, height), Qt.AlignmentFlag.AlignVCenter, f"{self.label}")
        painter.end()


class Readouts(QWidget):
    """Latency and how it is made up, style time and load, the worker's wake-up, callbacks, xruns,
    late blocks, callbacks over budget, provider."""

    FIELDS = (
        ("latency", "Latency"), ("latency_parts", "Made of"), ("style_time", "Style time"), ("load", "CPU load"),
        ("wake", "Worker wake-up"), ("callbacks", "Callbacks"), ("xruns", "Xruns"), ("late", "Late blocks"),
        ("over_budget", "Over budget"), ("provider", "Runs on"),
    )

    def __init__(self) -> None:
        super().__init__()
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.values: dict[str, QLabel] = {}
        for row, (key, title) in enumerate(self.FIELDS):
            grid.addWidget(QLabel(title + ":"), row, 0)
            value = QLabel("-")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(value, row, 1)
            self.values[key] = value

    def show_report(self, report: dict | None) -> None:
        if report is None:
            for label in self.values.values():
                label.setText("-")
            return
        rate = report["sample_rate"]
        device = report["device_latency_samples"]
        algorithmic = report["algorithmic_latency_samples"]
        block_s = report["engine_block_frames"] / rate
        self.values["latency"].setText(f"{report['total_latency_ms']:.1f} ms ({report['total_latency_samples']} samples)")
        self.values["latency_parts"].setText(
            f"device {1000 * device / rate:.1f} ms + style and buffering {1000 * algorithmic / rate:.1f} ms"
        )
        self.values["style_time"].setText(
            f"{report['style_time_median_us']:.0f} us median, {report['style_time_p99_us']:.0f} us p99 per block"
        )
        self.values["load"].setText(f"{100 * report['style_time_median_us'] * 1e-6 / block_s:.1f}% of one core")
        self.values["wake"].setText(f"{report.get('worker_wake_p99_us', 0.0):.0f} us p99")
        self.values["callbacks"].setText(str(report.get("callbacks", 0)))
        self.values["xruns"].setText(str(report["xruns"]))
        self.values["late"].setText(str(report["late_blocks"]))
        self.values["over_budget"].setText(str(report.get("over_budget_callbacks", 0)))
        self.values["provider"].setText(str(report["provider"]))
