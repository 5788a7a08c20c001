"""The rack as a row of slot cards: each with its style's name, category and latency, its own
mix, bypass, knobs and a small meter. Click a card to select it (the browser then fills it),
drag a card to reorder, "+" adds a slot."""

from __future__ import annotations

from PyQt6.QtCore import QMimeData, QPoint, Qt, pyqtSignal
from PyQt6.QtGui import QDrag
from PyQt6.QtWidgets import (
    QApplication,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.widgets.controls import quietly, slider
from gui.widgets.meters import LevelMeter

SLOT_MIME = "application/x-stylerack-slot"
KNOB_STEPS = 200
CARD_WIDTH = 230
CARD_HEIGHT = 200


def knob_steps(spec) -> int:
    """Slider positions for a knob: its own steps (a transpose in semitones), else KNOB_STEPS."""
    return max(1, round((spec.max - spec.min) / spec.step)) if spec.step else KNOB_STEPS


class SlotCard(QFrame):
    clicked = pyqtSignal(int)
    mix_changed = pyqtSignal(int, float)
    bypass_toggled = pyqtSignal(int, bool)
    param_changed = pyqtSignal(int, str, float)
    remove_requested = pyqtSignal(int)

    def __init__(self, view) -> None:
        super().__init__()
        self.number = view.number
        self.setObjectName(f"slot{view.number}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(CARD_WIDTH)
        self.setMinimumHeight(CARD_HEIGHT)
        self._press: QPoint | None = None
        style = view.style
        self.title = QLabel(f"{view.number}  {view.name}")
        self.title.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.remove = QToolButton(text="x", toolTip="Remove this slot")
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self.number))
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.remove)
        if style is not None:
            detail = f"{style.manifest.category}  |  {view.latency_ms:.1f} ms"
        else:
            detail = "not installed: passes through"
        self.detail = QLabel(detail)
        self.mix = slider(0, 100, round(view.mix_percent))
        self.mix.setToolTip("This slot's mix: its style against its own input, aligned")
        self.mix_label = QLabel(f"mix {round(view.mix_percent)}%")
        self.bypass = QPushButton("Bypass")
        self.bypass.setCheckable(True)
        self.bypass.setChecked(view.bypass)
        self.meter = LevelMeter("out")
        self.meter.setMinimumHeight(14)
        self.knobs: dict[str, tuple] = {}  # name -> (slider, label, spec)
        knobs = QFormLayout()
        for spec in style.manifest.params if style is not None else ():
            knob = slider(0, knob_steps(spec), 0)
            label = QLabel()
            row = QHBoxLayout()
            row.addWidget(knob, 1)
            row.addWidget(label)
            knobs.addRow(spec.name, row)
            self.knobs[spec.name] = (knob, label, spec)
            self.show_param(spec.name, view.params.get(spec.name, spec.default))
            knob.valueChanged.connect(lambda step, s=spec: self._knob_moved(s, step))
        mix_row = QHBoxLayout()
        mix_row.addWidget(self.mix, 1)
        mix_row.addWidget(self.mix_label)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.detail)
        layout.addLayout(mix_row)
        layout.addWidget(self.bypass)
        layout.addLayout(knobs)
        layout.addStretch(1)
        layout.addWidget(self.meter)
        self.mix.valueChanged.connect(self._mix_moved)
        self.bypass.toggled.connect(lambda on: self.bypass_toggled.emit(self.number, on))
        self.set_selected(False)

    def set_selected(self, selected: bool) -> None:
        self.setStyleSheet(f"#slot{self.number} {{ border: 2px solid {'#4aa3df' if selected else '#555'}; "
                           "border-radius: 6px; }")

    def _mix_moved(self, value: int) -> None:
        self.mix_label.setText(f"mix {value}%")
        self.mix_changed.emit(self.number, float(value))

    def _knob_moved(self, spec, step: int) -> None:
        value = spec.min + (spec.max - spec.min) * step / knob_steps(spec)
        self.knobs[spec.name][1].setText(f"{value:.2f} {spec.unit}".strip())
        self.param_changed.emit(self.number, spec.name, value)

    def show_param(self, name: str, value: float) -> None:
        if name not in self.knobs:
            return
        knob, label, spec = self.knobs[name]
        quietly(knob, knob.setValue, round((value - spec.min) / (spec.max - spec.min) * knob_steps(spec)))
        label.setText(f"{value:.2f} {spec.unit}".strip())

    def update_view(self, view) -> None:
        quietly(self.mix, self.mix.setValue, round(view.mix_percent))
        self.mix_label.setText(f"mix {round(view.mix_percent)}%")
        quietly(self.bypass, self.bypass.setChecked, view.bypass)
        for name, value in view.params.items():
            self.show_param(name, value)

    # ---- select and drag ---------------------------------------------------------------

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._press = event.position().toPoint()
        self.clicked.emit(self.number)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._press is None or not (event.buttons() & Qt.MouseButton.LeftButton):
            return
        if (event.position().toPoint() - self._press).manhattanLength() < QApplication.startDragDistance():
            return
        self._press = None
        drag = QDrag(self)
        data = QMimeData()
        data.setData(SLOT_MIME, str(self.number).encode())
        drag.setMimeData(data)
        drag.setPixmap(self.grab().scaledToWidth(CARD_WIDTH // 2))
        drag.exec(Qt.DropAction.MoveAction)


class RackView(QWidget):
    slot_selected = pyqtSignal(int)
    slot_mix_changed = pyqtSignal(int, float)
    slot_bypass_toggled = pyqtSignal(int, bool)
    slot_param_changed = pyqtSignal(int, str, float)
    slot_removed = pyqtSignal(int)
    slot_moved = pyqtSignal(int, int)  # (slot number, new position)
    add_requested = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[SlotCard] = []
        self.row = QWidget()
        self.row.setAcceptDrops(True)
        self.row.dragEnterEvent = self._drag_enter
        self.row.dragMoveEvent = self._drag_enter
        self.row.dropEvent = self.drop
        self.row_layout = QHBoxLayout(self.row)
        self.row_layout.setAlignment(Qt.AlignmentFlag.AlignLeft)
        self.add = QPushButton("+\nAdd slot")
        self.add.setToolTip("Add a slot with the style chosen in the browser")
        self.add.setFixedWidth(90)
        self.add.clicked.connect(self.add_requested.emit)
        self.empty = QLabel("The rack is empty: choose a style in the browser.")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.row)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.setMinimumHeight(CARD_HEIGHT + 30)
        self._selected = 0

    def set_slots(self, views, selected: int) -> None:
        for card in self.cards:
            self.row_layout.removeWidget(card)
            card.deleteLater()
        self.cards = []
        self.row_layout.removeWidget(self.add)
        self.row_layout.removeWidget(self.empty)
        for view in views:
            card = SlotCard(view)
            card.clicked.connect(self.slot_selected.emit)
            card.mix_changed.connect(self.slot_mix_changed.emit)
            card.bypass_toggled.connect(self.slot_bypass_toggled.emit)
            card.param_changed.connect(self.slot_param_changed.emit)
            card.remove_requested.connect(self.slot_removed.emit)
            self.row_layout.addWidget(card)
            self.cards.append(card)
        self.empty.setVisible(not views)
        if not views:
            self.row_layout.addWidget(self.empty)
        self.row_layout.addWidget(self.add)
        self.select(selected)

    def select(self, number: int) -> None:
        self._selected = number
        for card in self.cards:
            card.set_selected(card.number == number)

    def card(self, number: int) -> SlotCard | None:
        return self.cards[number - 1] if 1 <= number <= len(self.cards) else None

    def show_slot(self, view) -> None:
        card = self.card(view.number)
        if card is not None:
            card.update_view(view)

    def show_param(self, number: int, name: str, value: float) -> None:
        card = self.card(number)
        if card is not None:
            card.show_param(name, value)

    def show_peaks(self, peaks: list[float], dt: float) -> None:
        for card, peak in zip(self.cards, peaks):
            card.meter.set_levels(peak, peak * 0.707, dt)

    # ---- dropping a dragged card -------------------------------------------------------

    def _drag_enter(self, event) -> None:
        if event.mimeData().hasFormat(SLOT_MIME):
            event.acceptProposedAction()

    def position_at(self, x: float) -> int:
        """The slot position (1-based) a card dropped at ``x`` (in the row's coordinates) takes."""
        position = 1
        for card in self.cards:
            if x > card.geometry().center().x():
                position += 1
        return position

    def drop(self, event) -> None:
        if not event.mimeData().hasFormat(SLOT_MIME):
            return
        number = int(bytes(event.mimeData().data(SLOT_MIME)).decode())
        position = self.position_at(event.position().x())
        if position > number:
            position -= 1  # the card itself leaves its old place first
        event.acceptProposedAction()
        if position != number:
            self.slot_moved.emit(number, max(1, min(position, len(self.cards))))
