"""Recording (file name and elapsed time) and saved racks (save the rack under a name, recall one)."""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QInputDialog, QLabel, QPushButton, QWidget


class SessionBar(QWidget):
    record_requested = pyqtSignal()
    stop_record_requested = pyqtSignal()
    save_rack_requested = pyqtSignal(str)
    rack_chosen = pyqtSignal(str)

    def __init__(self) -> None:
        super().__init__()
        self.record = QPushButton("Record")
        self.record.setCheckable(True)
        self.record_label = QLabel("not recording")
        self.racks = QComboBox()
        self.racks.setPlaceholderText("Saved racks")
        self.racks.setToolTip("Recall a saved rack: its slots, knobs, mixes and master settings")
        self.save = QPushButton("Save rack...")
        layout = QHBoxLayout(self)
        layout.addWidget(self.record)
        layout.addWidget(self.record_label, 2)
        layout.addWidget(self.racks, 1)
        layout.addWidget(self.save)
        self.record.toggled.connect(lambda on: (self.record_requested if on else self.stop_record_requested).emit())
        self.save.clicked.connect(self._ask_name)
        self.racks.textActivated.connect(self.rack_chosen.emit)

    def _ask_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Save rack", "Rack name:")
        if ok and name.strip():
            self.save_rack_requested.emit(name.strip())

    def set_racks(self, names: list[str]) -> None:
        self.racks.blockSignals(True)
        self.racks.clear()
        self.racks.addItems(names)
        self.racks.setCurrentIndex(-1)
        self.racks.blockSignals(False)

    def show_recording(self, path: str | None, seconds: float | None = None) -> None:
        self.record.blockSignals(True)
        self.record.setChecked(path is not None or seconds is not None)
        self.record.blockSignals(False)
        if path is not None:
            self.record_label.setText(f"recording {path}")
            self._path = path
        elif seconds is not None:
            self.record_label.setText(f"recording {getattr(self, '_path', '')}  {seconds:.1f} s")
        else:
            self.record_label.setText("not recording")
