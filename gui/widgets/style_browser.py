"""Every installed style with name, category, description, latency and cost; text and
category filters; the current style always visible."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from gui.controller import matching_styles

ALL = "All categories"


class StyleBrowser(QWidget):
    chosen = pyqtSignal(str)  # a style name
    add_requested = pyqtSignal()
    match_requested = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.current = QLabel("No style")
        self.current.setObjectName("currentStyle")
        self.current.setStyleSheet("font-size: 18px; font-weight: bold;")
        self.search = QLineEdit(placeholderText="Filter styles...")
        self.category = QComboBox()
        self.list = QListWidget()
        self.add = QPushButton("Add styles...")
        self.match = QPushButton("Match a reference...")
        self.match.setToolTip("Make a style that moves your sound toward a recording you like")
        top = QHBoxLayout()
        top.addWidget(self.search, 2)
        top.addWidget(self.category, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.current)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add)
        buttons.addWidget(self.match)
        layout.addLayout(buttons)
        self._styles = []
        self.search.textChanged.connect(self._refill)
        self.category.currentTextChanged.connect(self._refill)
        self.list.itemActivated.connect(lambda item: self.chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.list.itemClicked.connect(lambda item: self.chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.add.clicked.connect(self.add_requested.emit)
        self.match.clicked.connect(self.match_requested.emit)

    def set_styles(self, styles, categories) -> None:
        self._styles = styles
        self.category.blockSignals(True)
        self.category.clear()
        self.category.addItems([ALL, *categories])
        self.category.blockSignals(False)
        self._refill()

    def visible_names(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def _refill(self) -> None:
        category = self.category.currentText()
        self.list.clear()
        for style in matching_styles(self._styles, self.search.text(), None if category in ("", ALL) else category):
            m = style.manifest
            cost = m.provenance.get("real_time_factor")
            detail = f"{m.category} | latency {m.latency_samples} smp" + (f" | {100 * cost:.1f}% CPU" if cost else "")
            item = QListWidgetItem(f"{style.name}\n   {detail}")
            item.setToolTip(m.description)
            item.setData(Qt.ItemDataRole.UserRole, style.name)
            self.list.addItem(item)

    def show_current(self, name: str | None) -> None:
        self.current.setText(name or "No style")
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == name:
                self.list.blockSignals(True)
                self.list.setCurrentRow(i)
                self.list.blockSignals(False)
