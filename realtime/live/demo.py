"""The built-in demo clip, played in a loop as the input, so styles can be auditioned without
a microphone. The clip ships in the package (realtime/live/demo.flac, made by
scripts/make_demo_clip.py from rendered instruments and synthesized speech)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from realtime.errors import AudioFileError

DEMO_CLIP = Path(__file__).resolve().parent / "demo.flac"


def load_demo_clip(sample_rate: int, path: Path = DEMO_CLIP) -> np.ndarray:
    """The clip as mono float32 at ``sample_rate``: ``[frames]`` (the engine loops it)."""
    try:
        clip, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioFileError(f"{path}: cannot read the demo clip ({exc})") from None
    mono = clip.mean(axis=1)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate)
    return np.ascontiguousarray(mono, np.float32)
