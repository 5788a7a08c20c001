"""Recording the output to a WAV file from a thread that is not the audio thread.

The engine's callback copies each output block into a preallocated FIFO (``engine.tap``);
this recorder's thread drains it to disk. If the disk stalls long enough for the FIFO to
fill, the callback drops (and counts) frames instead of waiting.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from realtime.errors import AudioFileError
from realtime.engine.ring import AudioFifo
from realtime.engine.worker import HELPER_PRIORITY, try_realtime_priority

FIFO_SECONDS = 4.0
DRAIN_INTERVAL_S = 0.05


class Recorder:
    def __init__(self, engine, path: str | Path, overwrite: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise AudioFileError(f"{self.path}: already exists; choose another name")
        if not self.path.parent.is_dir():
            raise AudioFileError(f"{self.path.parent}: folder does not exist")
        config = engine.config
        self._engine = engine
        self._fifo = AudioFifo(config.out_channels, int(FIFO_SECONDS * config.sample_rate))
        self._chunk = np.zeros((config.out_channels, int(FIFO_SECONDS * config.sample_rate)), np.float32)
        try:
            self._file = sf.SoundFile(str(self.path), "w", config.sample_rate, config.out_channels, "FLOAT")
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioFileError(f"{self.path}: cannot write ({exc})") from None
        self.frames_written = 0
        self.sample_rate = config.sample_rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stylerack-recorder", daemon=True)
        engine.tap = self._fifo
        self._thread.start()

    @property
    def seconds(self) -> float:
        return self.frames_written / self.sample_rate

    def _drain(self) -> None:
        available = self._fifo.available()
        if available:
            block = self._chunk[:, :available]
            self._fifo.read_into(block)
            self._file.write(block.T)
            self.frames_written += available

    def _run(self) -> None:
        try_realtime_priority(HELPER_PRIORITY)  # it takes the GIL the style worker needs
        while not self._stop.is_set():
            time.sleep(DRAIN_INTERVAL_S)
            self._drain()

    def stop(self) -> Path:
        """Detach from the engine, write what is left, close the file."""
        self._engine.tap = None
        self._stop.set()
        self._thread.join(timeout=5)
        self._drain()
        self._file.close()
        return self.path
