""""Match a reference...": pick one or more reference recordings (and, optionally, a recording
of what will be processed), fit a matched style on a helper thread with its progress shown,
see the fitted EQ and the spectra before and after, and hear it at once: the style is saved in
the user's styles folder and put into the selected slot."""

from __future__ import annotations

import threading
from pathlib import Path

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

AUDIO_FILES = "Audio (*.wav *.flac *.ogg *.aiff *.aif)"


class _Signals(QObject):
    progress = pyqtSignal(str, float)
    finished = pyqtSignal(object, str)  # report (or None), error message


class MatchDialog(QDialog):
    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("Match a reference")
        self.references = QLineEdit(placeholderText="one or more recordings to sound like (5 s or more each)")
        self.source = QLineEdit(placeholderText="optional: a recording of what you will process")
        self.name = QLineEdit(placeholderText="a name for the style")
        pick_references = QPushButton("Choose...")
        pick_source = QPushButton("Choose...")
        self.fit = QPushButton("Fit and play")
        self.fit.setDefault(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.plot = QLabel()
        self.plot.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot.setMinimumSize(640, 230)
        form = QFormLayout()
        for title, edit, button in (("Reference(s)", self.references, pick_references), ("Source", self.source, pick_source)):
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(button)
            form.addRow(title, row)
        form.addRow("Name", self.name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.fit)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 1)
        pick_references.clicked.connect(self._choose_references)
        pick_source.clicked.connect(self._choose_source)
        self.fit.clicked.connect(self.start)
        self._signals = _Signals()
        self._signals.progress.connect(self._show_progress)
        self._signals.finished.connect(self._finished)
        self.thread: threading.Thread | None = None

    def _choose_references(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "References", str(Path.home()), AUDIO_FILES)
        if paths:
            self.references.setText(" ; ".join(paths))
            if not self.name.text():
                self.name.setText(f"like-{Path(paths[0]).stem}")

    def _choose_source(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Source", str(Path.home()), AUDIO_FILES)
        if path:
            self.source.setText(path)

    def start(self) -> None:
        references = [p.strip() for p in self.references.text().split(";") if p.strip()]
        name = self.name.text().strip()
        if not references or not name:
            self.status.setText("choose at least one reference and a name")
            return
        overwrite = False
        present = self.controller.match_files_present(name)
        if present:
            files, them = ", ".join(path.name for path in present), "it" if len(present) == 1 else "them"
            answer = QMessageBox.question(self, "Match a reference",
                                          f"Your styles folder already has {files}. Replace {them}?")
            if answer != QMessageBox.StandardButton.Yes:
                return
            overwrite = True
        self.fit.setEnabled(False)
        self.status.setText("fitting...")
        args = (references, self.source.text().strip() or None, name, overwrite)
        self.thread = threading.Thread(target=self._run, args=args, daemon=True)
        self.thread.start()

    def _run(self, references, source, name, overwrite) -> None:
        try:
            report = self.controller.match_reference(references, source, name, overwrite,
                                                     lambda stage, done: self._signals.progress.emit(stage, done))
        except Exception as exc:  # StyleRackError, or torch missing: shown, the audio keeps going
            self._signals.finished.emit(None, str(exc))
            return
        self._signals.finished.emit(report, "")

    def _show_progress(self, stage: str, done: float) -> None:
        self.progress.setValue(int(100 * done))
        self.status.setText(stage)

    def _finished(self, report, error: str) -> None:
        self.fit.setEnabled(True)
        if report is None:
            self.status.setText(error)
            return
        self.progress.setValue(100)
        after = report.get("after")
        self.status.setText(
            f"saved {report['style']} and put it into the selected slot"
            + (f"; bands within {after['band_error_db_max']:.1f} dB of the reference, level "
               f"{after['level_error_db']:+.1f} dB, loudness {after['loudness_error_lu']:+.1f} LU" if after else "")
        )
        pixmap = QPixmap(str(Path(report["style"]).with_suffix(".png")))
        if not pixmap.isNull():
            self.plot.setPixmap(pixmap.scaledToWidth(max(640, self.plot.width()), Qt.TransformationMode.SmoothTransformation))
