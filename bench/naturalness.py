"""DNSMOS P.835 (PyPI ``speechmos``: its wheel holds the models), as every benchmark here scores it.

DNSMOS cuts a clip into 9 s windows at fixed places, so its score moves with where the clip starts:
the same dry clips delayed by 0-96 samples at 48 kHz scored a mean OVRL of 2.58-2.65, and one
clip's score spread by a standard deviation of 0.07 (median over clips, 0.28 at most). A score
here is therefore the mean of ``len(DELAYS_16K)`` runs, the clip delayed by 0-1 ms, so that two
systems whose outputs differ by a small delay are not told apart by that delay.

Each run sees the clip at ``RMS_DBFS`` RMS, clipped to [-1, 1] (DNSMOS refuses anything outside):
DNSMOS's scores depend on level, and a system's output level is not what is being scored.
"""

from __future__ import annotations

import numpy as np

RATE = 16000
RMS_DBFS = -25.0
DELAYS_16K = (0, 5, 11, 16)  # samples at 16 kHz: 0-1 ms, not multiples of one another


def scaled_to_rms(audio: np.ndarray, rms_dbfs: float = RMS_DBFS) -> np.ndarray:
    """``audio`` at ``rms_dbfs`` RMS, clipped to [-1, 1]."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return np.clip(audio * (10 ** (rms_dbfs / 20) / max(rms, 1e-9)), -1.0, 1.0)


def delayed(audio: np.ndarray, samples: int) -> np.ndarray:
    """``audio`` later by ``samples`` (earlier when negative), as long as it was: silence
    comes in at one end, the other end is cut."""
    if samples == 0:
        return audio
    silence = np.zeros(abs(samples), audio.dtype)
    if samples > 0:
        return np.concatenate([silence, audio[: len(audio) - samples]])
    return np.concatenate([audio[-samples:], silence])


def dnsmos(audio_16k: np.ndarray) -> dict[str, float]:
    """OVRL, SIG and BAK of a 16 kHz clip: each the mean over ``DELAYS_16K``."""
    from speechmos import dnsmos as model

    scaled = scaled_to_rms(audio_16k).astype(np.float32)
    runs = [model.run(delayed(scaled, delay), sr=RATE) for delay in DELAYS_16K]
    return {key: float(np.mean([run[f"{key}_mos"] for run in runs])) for key in ("ovrl", "sig", "bak")}
