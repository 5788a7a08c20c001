"""The built-in demo clip, played in a loop as the input, so styles can be auditioned without
a microphone. The clip ships in the package (realtime/demo/demo.flac, made by
scripts/make_demo_clip.py from rendered instruments and synthesized speech)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from realtime.errors import AudioFileError

DEMO_CLIP = Path(__file__).resolve().parent / "demo" / "demo.flac"


class DemoLoop:
    """Loops a clip; ``read_into(block)`` fills ``block: [frames, channels]`` (no allocation)."""

    def __init__(self, sample_rate: int, channels: int, path: Path = DEMO_CLIP) -> None:
        try:
            clip, rate = sf.read(str(path), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioFileError(f"{path}: cannot read the demo clip ({exc})") from None
        mono = clip.mean(axis=1)
        if rate != sample_rate:
            mono = soxr.resample(mono, rate, sample_rate).astype(np.float32)
        self._clip = np.repeat(mono[:, None], channels, axis=1).astype(np.float32)
        self._position = 0

    def read_into(self, block: np.ndarray) -> None:
        frames, length = block.shape[0], len(self._clip)
        done = 0
        while done < frames:
            count = min(frames - done, length - self._position)
            block[done : done + count] = self._clip[self._position : self._position + count]
            self._position = (self._position + count) % length
            done += count
