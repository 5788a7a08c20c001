"""Taking a recording's own steady background (hiss, hum, room tone) out of clean speech, offline.

The speech the denoiser learns from was recorded by people in ordinary rooms: many KLettres
languages (Malayalam, Hungarian, Hebrew, Arabic, Spanish...) carry a background 20-35 dB under
the voice, which a target keeps. The idea was that this teaches the denoiser to keep noise like
it; trained on targets without it, the style was no better (``models/denoise_train.py``'s
TARGETS_WITHOUT_FLOOR, off, and its docstring give the numbers).

``floor_removed`` estimates the background's spectrum from the recording's quietest frames and
takes it out with an over-subtracting Wiener gain (OVER_SUBTRACTION) that never falls below
FLOOR_GAIN_DB, the power smoothed over 3 frames and 5 bins before and the gain after, so what is
left of the background is faint speckle rather than musical tones. Offline (it looks ahead):
training targets only. A recording whose pauses are digital silence, whose background is far
under the voice, or that has no steady quiet frames to measure (speech-dense lines, such as
most of Fish Fillets') comes back as it is. Measured on 36 KLettres recordings with a
background: frames within 10 dB of the loudest keep their level (-0.02 dB), frames 10-20 dB
under it lose 0.4 dB (weak consonants and tails near the background).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.signal import istft, stft

FRAME = 1024  # at 48 kHz: 21 ms
HOP = 256
QUIET_SHARE = 0.10  # the quietest frames estimate the background
MIN_QUIET_FRAMES = 8
OVER_SUBTRACTION = 2.0
FLOOR_GAIN_DB = -30.0
SMOOTH_FRAMES, SMOOTH_BINS = 3, 5  # the power is smoothed over this before the gain is taken
GAIN_SMOOTH_BINS = 3  # and the gain over this many bins (and SMOOTH_FRAMES frames)
NEGLIGIBLE_DB = -55.0  # a background this far under the loudest frames is left alone
LOUDEST_DB = -12.0  # "quietest frames" this close to the loudest are no pauses: left alone
SILENT_DB, SILENT_SHARE = -100.0, 0.05  # frames this far under the loudest are digital silence
STEADY_DB = 8.0  # the quietest frames of a steady background lie within this of one another
STEADY_FROM = 0.02  # (from this quantile of the frames to QUIET_SHARE: the very quietest may be fades)


def _power(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, _, spectrum = stft(audio, nperseg=FRAME, noverlap=FRAME - HOP, window="hann", boundary="even", padded=True)
    return spectrum, np.abs(spectrum) ** 2


def background_spectrum(audio: np.ndarray) -> np.ndarray | None:
    """Mean power per STFT bin over the quietest QUIET_SHARE of frames; None when the recording
    has no steady background to estimate: it is shorter than a frame, its pauses are (nearly)
    digital silence (more than SILENT_SHARE of its frames), its quietest frames (less the very
    quietest, STEADY_FROM) differ by more than STEADY_DB (speech's edges, not a background), or
    they are negligible (NEGLIGIBLE_DB under the loudest tenth) or no pauses at all (within
    LOUDEST_DB of it)."""
    if len(audio) < FRAME:
        return None
    _, power = _power(audio)
    energy = power.sum(axis=0)
    ordered = np.sort(energy)
    count = int(len(energy) * QUIET_SHARE)
    if count < MIN_QUIET_FRAMES or ordered[-1] <= 0:
        return None
    quiet, loud = ordered[:count], ordered[-max(len(energy) // 10, 1):]
    low_quantile = ordered[int(len(energy) * STEADY_FROM)]
    if np.mean(energy < ordered[-1] * 10 ** (SILENT_DB / 10)) > SILENT_SHARE:
        return None
    if quiet[-1] > low_quantile * 10 ** (STEADY_DB / 10):
        return None
    if not loud.mean() * 10 ** (NEGLIGIBLE_DB / 10) <= quiet.mean() <= loud.mean() * 10 ** (LOUDEST_DB / 10):
        return None
    return power[:, np.argsort(energy)[:count]].mean(axis=1)


def floor_removed(audio: np.ndarray) -> np.ndarray:
    """``audio`` (mono float, a whole recording) without its steady background, same length;
    ``audio`` itself when it has none (``background_spectrum``)."""
    background = background_spectrum(audio)
    if background is None:
        return audio
    spectrum, power = _power(audio)
    smoothed = uniform_filter(power, size=(SMOOTH_BINS, SMOOTH_FRAMES), mode="nearest")
    gain = np.clip(1.0 - OVER_SUBTRACTION * background[:, None] / np.maximum(smoothed, 1e-30),
                   10 ** (FLOOR_GAIN_DB / 20), 1.0)
    gain = uniform_filter(gain, size=(GAIN_SMOOTH_BINS, SMOOTH_FRAMES), mode="nearest")
    _, out = istft(spectrum * gain, nperseg=FRAME, noverlap=FRAME - HOP, window="hann", boundary=True)
    return out[: len(audio)].astype(audio.dtype)
