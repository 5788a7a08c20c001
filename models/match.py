"""Match a reference: fit an EQ, a compressor, drive, a peak stage and a gain that move a source
toward one or more reference recordings, and make them a zero-latency style.

The fit is closed-form, in seconds (no gradient descent):

- **EQ**: the long-term spectra (Welch, frames above a level gate) of the references (averaged
  in dB) and of the source, smoothed to 1 octave (1/6 for a reference of the same
  performance); their difference, less its mean over
  200 Hz-5 kHz (loudness is matched apart), shrunk where it is likely content rather than
  processing (``eq_curve_db``: a reference plays other music or words than the source, and
  matching that difference fully made the result further from the target than no EQ at all),
  limited to +-``EQ_LIMIT_DB``, is realised as a minimum-phase FIR (cepstral method) of
  ``FIR_TAPS``: no latency, no pre-ringing. A reference that is the same performance as the
  source (``same_content``) is matched fully. Without a source, the source is assumed to be
  pink (-3 dB per octave) at the reference's level.
- **Dynamics**: after the EQ, the spread of short-term levels (90th minus 10th percentile of
  50 ms RMS, in dB) of source and reference; a reference with less spread gets a compressor
  of ratio source spread / reference spread (1 to ``MAX_RATIO``) with its threshold at the
  source's median short-term level. Feed-forward: a 10 ms RMS detector and 5 ms gain
  smoothing, both moving averages (causal, no look-ahead).
- **Drive**: where the reference's spectrum is flatter between partials (median spectral
  flatness, 500 Hz-8 kHz) than the equalised, compressed source's by more than
  ``DRIVE_MIN_DB``, the tanh drive that closes the gap (a 1-D search up to ``DRIVE_MAX``). The
  cue is weak across different content (it fired on a third of the items with no distortion),
  so the gate is high and the drive capped: a false drive costs more than a missed one. So the
  reference must also have its loudest samples squashed: its 99.9th-percentile level over its
  RMS at least ``DRIVE_SQUASH_DB`` below the source's (``top_to_rms_db``; a percentile, not the
  peak, which one sample sets). On 40 bench/match.py items of seed 11 the flatness cue fired
  on 2 items with no distortion and on 5 with it; the 2 dB gate kept 4 of the 5 (the 3 where
  the drive helped MR-STFT, by 1.3-2.1, and one where it harmed) and dropped both false ones.
  Then checked on 40 items of seed 7: the flatness cue fired on 5 items with no distortion
  (harming MR-STFT by up to 0.79) and 5 with it; the gate dropped 4 of the 5 false ones and
  3 of the 5 driven ones (one the drive had harmed by 0.31, two it had helped by 0.05 and 0.06).
- **Peaks**: where the result's crest factor (peak over RMS) is more than ``PEAK_MARGIN_DB``
  above the reference's, a soft clipper on the highest peaks closes ``PEAK_SHARE`` of the gap:
  below its threshold the signal is untouched, above it the excess is bent by a tanh of knee
  ``PEAK_KNEE`` (x the threshold), so no peak passes twice the threshold. Instantaneous: no
  latency, no pumping. Only half the gap, because a crest factor is one peak's worth of
  evidence and two halves of one recording differ by about 1 dB in it (DeepAFx-ST's crest
  metric on bench/match.py items).
- **Space**: where the reference's level falls more slowly than the result's, both at its
  steepest falls (the 3rd percentile of the slope of the 10 ms level over 50 ms) and at its
  ordinary ones (the 10th), each by at least ``SPACE_MIN_DB_PER_S``, a small reverb
  (``models.space``: no latency, ``SPACE_RT60_S``) is added at the least wet level that closes
  ``SPACE_SHARE`` of the steepest falls' gap, at most the last of ``SPACE_WETS``. Like the
  drive's, the cue is bound to content (a source through a gate falls faster than a reference
  without one), so the wet level is capped low: a reverb fitted to match the falls fully (wet
  levels up to 0.5, decay time from the falls) raised MR-STFT on 40 bench/match.py items of
  seed 11 from 1.089 to 1.146 (drive+reverb) and 0.334 to 0.361 (EQ+dynamics). With the cap,
  half the gap and a 30 dB/s gate (20 fired on 3 of 20 dry references): 1.089 -> 1.068 and
  0.334 -> 0.336; checked on 40 items of seed 7: 1.099 -> 1.078 and 0.431 -> 0.436. Most of
  the gain is where the source has silent gaps that the target's tail fills.
- **Gain**: the result's RMS level equal to the reference's. The level a recording should
  have after the reference's processing is what is being guessed, from another recording that
  plays other material; the RMS level guessed it better than the integrated loudness (ITU-R
  BS.1770) on bench/match.py's items, whose target and reference are one chain on two halves
  of a clip: their RMS levels differed by 1.43 and 2.02 dB on average (EQ+dynamics items of
  seeds 11 and 7, 50 each) where their loudness differed by 1.71 and 2.19 LU, and 0.86 and
  1.12 against 0.94 and 1.34 with drive and reverb (short-term loudness percentiles did no
  better). Matching the RMS lowers both the RMS and the loudness error, by those margins. For a
  reference of the same performance the two agree anyway.

The style's knobs: ``amount`` (the whole match, 0 = bit-transparent), and ``eq``, ``dynamics``
(the compressor and the peaks), ``drive`` and ``space`` (each 0..1, to take one aspect only; an
aspect the fit left out does nothing).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch
import torch.nn.functional as F
from scipy import signal as sps
from torch import nn

from models import space
from realtime.errors import AudioFileError

RATE = 48000
FIR_TAPS = 2048
EQ_LIMIT_DB = 12.0
RELIABLE_DB = 50.0  # the EQ follows the spectra only where the source is within this of its peak
SMOOTH_OCTAVES = 1 / 6  # a reference of the same performance: its difference is all processing
CONTENT_SMOOTH_OCTAVES = 1.0  # references of other material: finer detail is mostly content (see eq_curve_db)
CONTENT_PARTS = 3
SHRINK = 10.0  # the content variance's weight (chosen on bench/match.py items of another seed: 1, 3, 10, 30, 100)
SAME_CONTENT_CORRELATION = 0.85  # measured on 40 bench items of seed 7: same performance 0.87-1.00, other halves -0.27-0.84
MIN_REFERENCE_SECONDS = 5.0
SILENCE_DBFS = -60.0
CLIP_LEVEL = 0.999
CLIP_FRACTION = 0.001  # of samples at full scale in runs of 3 or more
DETECTOR_SAMPLES = 480  # 10 ms RMS detector
SMOOTH_SAMPLES = 240  # 5 ms gain smoothing
SHORT_TERM_SECONDS = 0.05
MAX_RATIO = 8.0
DRIVE_MIN_DB = 3.0
DRIVE_MAX = 1.5  # the largest drive searched: tanh's argument at the 99.9th-percentile peak (a few dB of peak squashed)
DRIVE_SQUASH_DB = 2.0  # how much lower the reference's top_to_rms_db must be for a drive (see the docstring)
#: the peak stage (chosen on 40 bench/match.py items of seed 11: margins 0.5, 1, 1.5, 2 dB,
#: knees 0.1, 0.3, 0.6, 1, 2, shares 0.5, 0.75, 1; see fit_match)
PEAK_MARGIN_DB = 1.0
PEAK_SHARE = 0.5
PEAK_KNEE = 1.0
NO_PEAK_STAGE = 1e6  # a threshold no sample reaches
SPACE_MIN_DB_PER_S = 30.0  # how much more slowly the reference's level must fall for a reverb
SPACE_RT60_S = 0.8  # the reverb's decay time
SPACE_SHARE = 0.5  # the share of the steepest falls' gap the wet level closes
SPACE_WETS = np.geomspace(0.01, 0.08, 10)  # the wet levels searched (the last is the most the fit adds)
KNOBS = ("amount", "eq", "dynamics", "drive", "space")
ARCH = "match"

Progress = Callable[[str, float], None]


# ---- reading and refusing -------------------------------------------------------------------

def read_mono(path: str | Path, what: str, min_seconds: float = 0.0) -> np.ndarray:
    """A file as mono float64 at 48 kHz; refused in one line naming the file when unreadable,
    silent, shorter than ``min_seconds`` or clipped."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such {what} file")
    try:
        audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioFileError(f"{path}: cannot read the {what} ({exc})") from None
    if len(audio) / rate < min_seconds:
        raise AudioFileError(f"{path}: the {what} is {len(audio) / rate:.1f} s long; at least {min_seconds:.0f} s are needed")
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak <= 10 ** (SILENCE_DBFS / 20):
        raise AudioFileError(f"{path}: the {what} is silent (peak {20 * math.log10(max(peak, 1e-12)):.0f} dBFS)")
    clipped = _clipped_fraction(audio)
    if clipped > CLIP_FRACTION:
        raise AudioFileError(f"{path}: the {what} is clipped ({100 * clipped:.2f}% of samples at full scale); "
                             "use an unclipped recording")
    mono = audio.mean(axis=1)
    if rate != RATE:
        mono = soxr.resample(mono, rate, RATE, quality="HQ")
    return mono


def _clipped_fraction(audio: np.ndarray) -> float:
    full = np.abs(audio) >= CLIP_LEVEL
    runs = full[2:] & full[1:-1] & full[:-2]  # three in a row: a flat top, not a single peak
    return float(runs.sum()) / max(1, runs.size)


# ---- analysis ---------------------------------------------------------------------------------

def active(x: np.ndarray, gate_db: float = -60.0) -> np.ndarray:
    """The 50 ms frames within ``gate_db`` of the loudest, joined (pauses left out)."""
    hop = int(SHORT_TERM_SECONDS * RATE)
    frames = len(x) // hop
    if frames == 0:
        return x
    blocks = x[: frames * hop].reshape(frames, hop)
    level = 10 * np.log10(np.mean(blocks**2, axis=1) + 1e-20)
    keep = level > level.max() + gate_db
    return blocks[keep].ravel()


def welch_db(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, power spectrum in dB): Welch, 8192-point Hann frames, half overlapping."""
    freqs, power = sps.welch(x, RATE, nperseg=8192, noverlap=4096, window="hann")
    return freqs, 10 * np.log10(power + 1e-20)


def spectrum_db(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The long-term spectrum of ``x``'s active audio (pauses left out)."""
    return welch_db(active(x))


def smooth_fractional_octave(freqs: np.ndarray, db: np.ndarray, octaves: float | None = None) -> np.ndarray:
    """Each bin averaged (in power) over +-octaves/2 around it (default ``SMOOTH_OCTAVES``)."""
    octaves = SMOOTH_OCTAVES if octaves is None else octaves
    power = 10 ** (db / 10)
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    low = np.searchsorted(freqs, freqs * 2 ** (-octaves / 2))
    high = np.searchsorted(freqs, freqs * 2 ** (octaves / 2), side="right")
    high = np.maximum(high, low + 1)
    return 10 * np.log10((cumulative[high] - cumulative[low]) / (high - low) + 1e-20)


def content_variance_db2(x: np.ndarray, octaves: float | None = None) -> np.ndarray:
    """Per bin, how much (dB^2) the long-term spectrum of a recording like ``x``, smoothed over
    ``octaves``, moves with what is played: the variance over CONTENT_PARTS equal parts of its
    active audio, over the number of parts (the variance of the whole's mean)."""
    audio = active(x)
    size = len(audio) // CONTENT_PARTS
    if size < 8192:
        return np.zeros(8192 // 2 + 1)
    parts = [smooth_fractional_octave(*welch_db(audio[k * size:(k + 1) * size]), octaves) for k in range(CONTENT_PARTS)]
    return np.var(parts, axis=0, ddof=1) / CONTENT_PARTS


ENVELOPE_FRAME, ENVELOPE_HOP = 2048, 1024
ENVELOPE_BANDS = np.geomspace(100, 12000, 25)  # edges of 24 log-spaced bands


def _band_envelopes_db(x: np.ndarray, batch_frames: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """([frames, 24] level in dB in log-spaced bands 100 Hz-12 kHz per ENVELOPE_HOP, whether each
    frame is active: within 40 dB of the loudest). Computed a batch of frames at a time, so a long
    recording needs little memory."""
    freqs = np.fft.rfftfreq(ENVELOPE_FRAME, 1 / RATE)
    pooling = np.stack([(freqs >= lo) & (freqs < hi) for lo, hi in zip(ENVELOPE_BANDS[:-1], ENVELOPE_BANDS[1:])],
                       axis=1).astype(np.float32)
    window = np.hanning(ENVELOPE_FRAME).astype(np.float32)
    count = max(0, (len(x) - ENVELOPE_FRAME) // ENVELOPE_HOP + 1)
    bands = np.zeros((count, pooling.shape[1]), np.float32)
    audio = x.astype(np.float32)
    for first in range(0, count, batch_frames):
        index = np.arange(first, min(count, first + batch_frames))[:, None] * ENVELOPE_HOP + np.arange(ENVELOPE_FRAME)
        bands[first:first + len(index)] = np.abs(np.fft.rfft(audio[index] * window, axis=1)) ** 2 @ pooling
    level = 10 * np.log10(bands.astype(np.float64) + 1e-12)
    total = 10 * np.log10(bands.sum(axis=1).astype(np.float64) + 1e-12)
    active_frames = total > (total.max() if count else 0.0) - 40.0
    return np.maximum(level, level.max(initial=-120.0) - 60), active_frames


def same_content(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` are the same performance (one a processed copy of the other)."""
    return content_correlation(a, b) >= SAME_CONTENT_CORRELATION


def content_correlation(a: np.ndarray, b: np.ndarray, max_lag_seconds: float = 1.0) -> float:
    """The best correlation, at a lag within ``max_lag_seconds``, of the two recordings' band
    envelopes (``_band_envelopes_db``) over the frames active in both, each band's mean removed
    so that an EQ leaves them unchanged. (Only active frames: shared silence or fades would
    otherwise make any two recordings alike.)"""
    (ea, active_a), (eb, active_b) = _band_envelopes_db(a), _band_envelopes_db(b)
    reach = int(max_lag_seconds * RATE / ENVELOPE_HOP)
    best = -1.0
    for lag in range(-reach, reach + 1):
        x, y = (ea[lag:], eb) if lag >= 0 else (ea, eb[-lag:])
        ax, ay = (active_a[lag:], active_b) if lag >= 0 else (active_a, active_b[-lag:])
        n = min(len(x), len(y))
        both = ax[:n] & ay[:n]
        if both.sum() < 20:
            continue
        x, y = x[:n][both], y[:n][both]
        x, y = x - x.mean(axis=0), y - y.mean(axis=0)
        best = max(best, float(np.sum(x * y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-12)))
    return best


def eq_curve_db(source: np.ndarray | None, references: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, gain in dB) that moves the source's long-term spectrum onto the references'.

    A source and a reference play different music or words, so their spectra differ by more
    than the processing: each bin's gain g is shrunk to g * g^2 / (g^2 + SHRINK * v), v the two
    spectra's content variance (``content_variance_db2``): a difference that their own parts
    disagree on is mostly content, and is matched only in part. For the same reason the spectra
    are smoothed over CONTENT_SMOOTH_OCTAVES unless every reference is the source's own
    performance (SMOOTH_OCTAVES). Chosen on bench/match.py items of another seed (40 items of
    seed 11; smoothing 1/6, 1/2, 1, 1.5, 2 octaves): 1 octave instead of 1/6 lowered MR-STFT
    0.372 -> 0.357, the centroid error (of the whole clip's spectrum, as the bench then took
    it) 322 -> 295 Hz and the crest-factor error 1.77 -> 1.30 dB on the EQ+dynamics items, and 1.207 -> 1.184, 311 -> 274 Hz and 2.39 -> 2.17 dB on the
    drive+reverb ones. Re-swept against the per-frame centroid error (40 items each of seeds 11
    and 7): SHRINK 3 or 1, and 1/2 or 1.5 octaves at SHRINK 3, each lowered MR-STFT or the
    centroid error on one seed and raised it on the other. The fit's error is this curve's: with
    the true EQ difference in its place (seed 7) the centroid error falls 132 -> 21 Hz."""
    spectra = [spectrum_db(r) for r in references]
    freqs = spectra[0][0]
    # a reference that is the source's own performance, processed, differs from it by the
    # processing only: neither its content variance nor the source's counts for it
    same = [source is not None and same_content(source, r) for r in references]
    octaves = SMOOTH_OCTAVES if all(same) else CONTENT_SMOOTH_OCTAVES
    target = smooth_fractional_octave(freqs, np.mean([s for _, s in spectra], axis=0), octaves)
    variance = sum(np.zeros_like(freqs) if s else content_variance_db2(r, octaves) for s, r in zip(same, references))
    variance = variance / len(references) ** 2  # the variance of the references' mean
    if source is not None:
        base = smooth_fractional_octave(freqs, spectrum_db(source)[1], octaves)
        variance = variance + content_variance_db2(source, octaves) * (len(same) - sum(same)) / len(same)
    else:  # a neutral source: pink, -3 dB per octave
        base = -10 * np.log10(np.maximum(freqs, 20.0) / 1000.0)
    gain = target - base
    band = (freqs >= 200) & (freqs <= 5000)
    gain -= gain[band].mean()
    gain = gain * gain**2 / (gain**2 + SHRINK * variance + 1e-12)
    gain -= gain[band].mean()
    gain = np.clip(gain, -EQ_LIMIT_DB, EQ_LIMIT_DB)
    # only where the source has something to shape and the reference something to show: elsewhere
    # (a codec's empty top octave, rumble, ultrasound) the ratio is noise; hold the nearest measured gain
    measured = (base > base.max() - RELIABLE_DB) & (target > target.max() - 70) & (freqs >= 25) & (freqs <= 20000)
    if measured.any():
        gain = np.interp(freqs, freqs[measured], gain[measured])
    return freqs, gain


def minimum_phase_fir(freqs: np.ndarray, gain_db: np.ndarray, taps: int = FIR_TAPS, fft_size: int = 16384) -> np.ndarray:
    """A minimum-phase FIR whose magnitude follows ``gain_db`` (real-cepstrum method),
    truncated to ``taps`` with a short fade."""
    grid = np.fft.rfftfreq(fft_size, 1 / RATE)
    log_magnitude = np.interp(grid, freqs, gain_db) * (math.log(10) / 20)
    cepstrum = np.fft.irfft(log_magnitude, fft_size)
    fold = np.zeros(fft_size)
    fold[0] = cepstrum[0]
    fold[1 : fft_size // 2] = 2 * cepstrum[1 : fft_size // 2]
    fold[fft_size // 2] = cepstrum[fft_size // 2]
    impulse = np.fft.irfft(np.exp(np.fft.rfft(fold)), fft_size)[:taps]
    fade = taps // 8
    impulse[-fade:] *= 0.5 * (1 + np.cos(np.linspace(0, math.pi, fade)))
    return impulse


def short_term_db(x: np.ndarray) -> np.ndarray:
    hop = int(SHORT_TERM_SECONDS * RATE)
    frames = len(x) // hop
    blocks = x[: frames * hop].reshape(frames, hop)
    level = 10 * np.log10(np.mean(blocks**2, axis=1) + 1e-20)
    return level[level > level.max() - 45]


def flatness_db(x: np.ndarray) -> float:
    """Median spectral flatness (500 Hz-8 kHz, 2048-point frames, active frames) in dB: distortion
    fills the gaps between partials and raises it."""
    _, _, frames = sps.stft(active(x), RATE, nperseg=2048, noverlap=1024)
    freqs = np.fft.rfftfreq(2048, 1 / RATE)
    power = np.abs(frames[(freqs >= 500) & (freqs <= 8000)]) ** 2 + 1e-20
    flat = np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0)
    energy = power.sum(axis=0)
    return float(np.median(10 * np.log10(flat[energy > energy.max() * 1e-4])))


def level_fall_db_per_s(x: np.ndarray, percentile: float) -> float:
    """A percentile of how fast the level falls: the slope (dB/s) of the 10 ms level over 50 ms,
    at frames within 35 dB of the loudest; low percentiles are the steepest falls, which a
    reverb's tail slows down."""
    hop, window, span = 240, 480, 10
    frames = len(x) // hop - 2
    if frames <= span:
        return 0.0
    level = np.empty(frames)
    for first in range(0, frames, 8192):  # a batch of frames at a time: little memory for a long recording
        index = np.arange(first, min(frames, first + 8192))[:, None] * hop + np.arange(window)
        level[first:first + len(index)] = 10 * np.log10(np.mean(x[index] ** 2, axis=1) + 1e-12)
    slope = (level[span:] - level[:-span]) / (span * hop / RATE)
    loud = level[:-span] > level.max() - 35
    return float(np.percentile(slope[loud], percentile)) if loud.any() else 0.0


def loudness_lufs(x: np.ndarray) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(RATE).integrated_loudness(x))


# ---- the chain, in numpy (what the style computes, for fitting and reports) --------------------

def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    padded = np.concatenate([np.zeros(width - 1), x])
    c = np.concatenate([[0.0], np.cumsum(padded)])
    return (c[width:] - c[:-width]) / width


def compress(x: np.ndarray, threshold_db: float, ratio: float) -> np.ndarray:
    """Gain reduction in dB (>= 0) of the style's compressor for ``x``."""
    level = 10 * np.log10(moving_average(x**2, DETECTOR_SAMPLES) + 1e-10)
    reduction = np.maximum(level - threshold_db, 0.0) * (1 - 1 / ratio)
    return moving_average(reduction, SMOOTH_SAMPLES)


def drive(x: np.ndarray, k: float) -> np.ndarray:
    k = max(k, 1e-3)
    return np.tanh(k * x) / k


def soft_clip_peaks(x: np.ndarray, threshold: float) -> np.ndarray:
    """The peak stage: samples above ``threshold`` (linear) bent toward at most twice it."""
    knee = PEAK_KNEE * threshold
    excess = np.maximum(np.abs(x) - threshold, 0.0)
    return x - np.sign(x) * (excess - knee * np.tanh(excess / knee))


def rms(x: np.ndarray) -> float:
    return max(float(np.sqrt(np.mean(x**2))), 1e-12)


def level_db(x: np.ndarray) -> float:
    """RMS level in dB re full scale."""
    return 20 * math.log10(rms(x))


def top_to_rms_db(x: np.ndarray) -> float:
    """The 99.9th percentile of |x| over its RMS, in dB: a crest factor that no single peak sets."""
    return float(20 * np.log10(np.percentile(np.abs(x), 99.9) / rms(x) + 1e-12))


def crest_factor_db(x: np.ndarray) -> float:
    """Peak over RMS, in dB."""
    return float(20 * np.log10(np.abs(x).max() / rms(x) + 1e-12))


def peak_threshold(threshold_db: float | None) -> float:
    """The peak stage's threshold, linear, from dBFS (None: no peak stage)."""
    return NO_PEAK_STAGE if threshold_db is None else 10 ** (threshold_db / 20)


def peak_threshold_for(x: np.ndarray, crest_db: float) -> float:
    """The peak stage's threshold that brings ``x``'s crest factor to ``crest_db`` (bisection)."""
    low, high = rms(x), float(np.abs(x).max())
    for _ in range(30):
        middle = 0.5 * (low + high)
        if crest_factor_db(soft_clip_peaks(x, middle)) > crest_db:
            high = middle
        else:
            low = middle
    return high


@dataclass
class MatchFit:
    fir: np.ndarray
    curve_freqs: np.ndarray
    curve_db: np.ndarray
    threshold_db: float = 0.0
    ratio: float = 1.0
    makeup_db: float = 0.0
    drive_k: float = 0.0
    peak_threshold_db: float | None = None  # dBFS before the gain; None: no peak stage
    rt60_s: float = SPACE_RT60_S  # the reverb's decay time (it is heard only where wet > 0)
    wet: float = 0.0  # the reverb's level against the dry signal; 0: no reverb
    gain_db: float = 0.0
    notes: list[str] = field(default_factory=list)

    def apply(self, x: np.ndarray, amount: float = 1.0, eq: float = 1.0, dynamics: float = 1.0,
              drive_amount: float = 1.0, space_amount: float = 1.0) -> np.ndarray:
        """The style's processing in numpy (float64)."""
        e = amount * eq
        y = x + e * (sps.lfilter(self.fir, [1.0], x) - x)
        d = amount * dynamics
        y = y * 10 ** (d * (self.makeup_db - compress(y, self.threshold_db, self.ratio)) / 20)
        r = amount * drive_amount
        y = y + r * (drive(y, self.drive_k) - y)
        y = y + d * (soft_clip_peaks(y, peak_threshold(self.peak_threshold_db)) - y)
        if self.wet > 0:
            y = y + amount * space_amount * self.wet * space.reverb(y, self.rt60_s)
        return y * 10 ** (amount * self.gain_db / 20)

    def summary(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("fir", "curve_freqs", "curve_db")}


def fit_match(references: Sequence[np.ndarray], source: np.ndarray | None = None,
              progress: Progress | None = None) -> MatchFit:
    """Fit the chain (see the module's docstring). ``source`` None: a neutral (pink) source."""
    tick = progress or (lambda what, done: None)
    tick("spectra", 0.1)
    freqs, curve = eq_curve_db(source, references)
    fit = MatchFit(minimum_phase_fir(freqs, curve), freqs, curve)
    reference = np.concatenate(references)
    if source is None:  # no source to compare dynamics, drive or loudness with: EQ, and the reference's level
        fit.notes.append("no source: EQ against a pink spectrum; dynamics, drive and space left neutral")
        tick("done", 1.0)
        return fit
    tick("dynamics", 0.4)
    equalised = sps.lfilter(fit.fir, [1.0], source)
    spread_source = np.subtract(*np.percentile(short_term_db(equalised), [90, 10]))
    spread_reference = np.subtract(*np.percentile(short_term_db(reference), [90, 10]))
    if spread_reference > 0.5 and spread_source > spread_reference * 1.1:
        fit.ratio = float(min(MAX_RATIO, spread_source / spread_reference))
        fit.threshold_db = float(np.median(short_term_db(equalised)))
    compressed = equalised * 10 ** (-compress(equalised, fit.threshold_db, fit.ratio) / 20)
    fit.makeup_db = float(10 * np.log10(np.mean(equalised**2) / (np.mean(compressed**2) + 1e-20)))
    compressed *= 10 ** (fit.makeup_db / 20)
    tick("drive", 0.6)
    goal = flatness_db(reference)
    gap = goal - flatness_db(compressed)
    squashed = top_to_rms_db(compressed) - top_to_rms_db(reference)
    if gap > DRIVE_MIN_DB and squashed >= DRIVE_SQUASH_DB:
        scale = 1.0 / (np.percentile(np.abs(compressed), 99.9) + 1e-12)
        best = (abs(gap), 0.0)
        for k in np.geomspace(0.3, DRIVE_MAX, 25) * scale:
            best = min(best, (abs(flatness_db(drive(compressed, k)) - goal), float(k)))
        fit.drive_k = best[1]
    tick("peaks", 0.7)
    shaped = fit.apply(source)
    gap = crest_factor_db(shaped) - crest_factor_db(reference)
    if gap > PEAK_MARGIN_DB:
        threshold = peak_threshold_for(shaped, crest_factor_db(shaped) - PEAK_SHARE * gap)
        fit.peak_threshold_db = float(20 * np.log10(threshold))
    tick("space", 0.75)
    processed = soft_clip_peaks(shaped, peak_threshold(fit.peak_threshold_db))  # = fit.apply(source), gain 0 dB
    steepest = level_fall_db_per_s(reference, 3)
    slower = (steepest - level_fall_db_per_s(processed, 3), level_fall_db_per_s(reference, 10) - level_fall_db_per_s(processed, 10))
    if min(slower) >= SPACE_MIN_DB_PER_S:
        fit.rt60_s = SPACE_RT60_S
        tail = space.reverb(processed, fit.rt60_s)
        goal = steepest - (1 - SPACE_SHARE) * slower[0]
        fit.wet = float(SPACE_WETS[-1])
        for w in SPACE_WETS:  # the least wet level that closes SPACE_SHARE of the gap
            if level_fall_db_per_s(processed + w * tail, 3) >= goal:
                fit.wet = float(w)
                break
        processed = processed + fit.wet * tail
    tick("level", 0.8)
    fit.gain_db = level_db(reference) - level_db(processed)
    tick("done", 1.0)
    return fit


# ---- the style (torch, exported to ONNX by models.export) --------------------------------------

class MatchStyle(nn.Module):
    """Streaming: states are the FIR's, the detector's and the smoother's input history, and, where
    the fit added a reverb (wet > 0), the reverb's (``space.SparseReverb``); without one the graph
    has no reverb at all (its cost, 0.6 s of state and a gather per block, is not paid for a knob
    that would do nothing)."""

    arch = ARCH
    num_params = len(KNOBS)

    def __init__(self, fir: np.ndarray | None = None, threshold_db: float = 0.0, ratio: float = 1.0,
                 makeup_db: float = 0.0, drive_k: float = 0.0, gain_db: float = 0.0,
                 peak_threshold_db: float | None = None, rt60_s: float = SPACE_RT60_S, wet: float = 0.0) -> None:
        super().__init__()
        if fir is None:  # a unit impulse: no EQ
            fir = np.eye(1, FIR_TAPS).ravel()
        self.config = {}
        # conv1d correlates: the kernel is the FIR reversed
        self.register_buffer("kernel", torch.tensor(fir[::-1].copy(), dtype=torch.float32).view(1, 1, -1))
        self.register_buffer("settings", torch.tensor([threshold_db, ratio, makeup_db, max(drive_k, 1e-3), gain_db,
                                                       peak_threshold(peak_threshold_db), wet],
                                                      dtype=torch.float32))
        self.reverb = space.SparseReverb(rt60_s) if wet > 0 else None

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        return [torch.zeros(batch, 1, FIR_TAPS - 1), torch.zeros(batch, 1, DETECTOR_SAMPLES - 1),
                torch.zeros(batch, 1, SMOOTH_SAMPLES - 1),
                *(space.SparseReverb.initial_state(batch) if self.reverb is not None else [])]

    def forward(self, audio: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.step(audio, params, *self.initial_state(audio.shape[0]))[0]

    def step(self, audio: torch.Tensor, params: torch.Tensor, fir_state, detector_state, smooth_state,
             *reverb_state):
        threshold, ratio, makeup, k, gain, peak, wet = (self.settings[i] for i in range(7))
        amount, eq, dynamics, drive_amount, space_amount = (params[:, i].view(-1, 1, 1) for i in range(5))
        frames = audio.shape[2]
        joined = torch.cat([fir_state, audio], dim=2)
        filtered = F.conv1d(joined, self.kernel)
        y = audio + amount * eq * (filtered - audio)
        squares = torch.cat([detector_state, y * y], dim=2)
        mean_square = F.avg_pool1d(squares, DETECTOR_SAMPLES, stride=1)
        level = 10 * torch.log10(mean_square + 1e-10)
        reduction = torch.relu(level - threshold) * (1 - 1 / ratio)
        reductions = torch.cat([smooth_state, reduction], dim=2)
        smoothed = F.avg_pool1d(reductions, SMOOTH_SAMPLES, stride=1)
        y = y * torch.pow(10.0, amount * dynamics * (makeup - smoothed) / 20)
        y = y + amount * drive_amount * (torch.tanh(k * y) / k - y)
        excess = torch.relu(torch.abs(y) - peak)
        knee = PEAK_KNEE * peak
        y = y - amount * dynamics * torch.sign(y) * (excess - knee * torch.tanh(excess / knee))
        if self.reverb is not None:
            tail, *reverb_state = self.reverb(y, *reverb_state)
            y = y + amount * space_amount * wet * tail
        y = y * torch.pow(10.0, amount * gain / 20)
        return (y, joined[:, :, frames:], squares[:, :, frames:], reductions[:, :, frames:], *reverb_state)


def style_from_fit(fit: MatchFit) -> MatchStyle:
    return MatchStyle(fit.fir, fit.threshold_db, fit.ratio, fit.makeup_db, fit.drive_k, fit.gain_db,
                      fit.peak_threshold_db, fit.rt60_s, fit.wet).eval()


def manifest_for(name: str, fit: MatchFit, references: Sequence[str], source: str | None) -> dict:
    return {
        "schema": 1,
        "name": name,
        "description": f"Matched to {', '.join(Path(r).name for r in references)}: EQ, dynamics, drive, space and level.",
        "category": "match",
        "sample_rate": RATE,
        "channels": 1,
        "block_multiple": 1,
        "latency_samples": 0,
        "params": [
            {"name": "amount", "min": 0.0, "max": 1.0, "default": 1.0, "unit": ""},
            {"name": "eq", "min": 0.0, "max": 1.0, "default": 1.0, "unit": ""},
            {"name": "dynamics", "min": 0.0, "max": 1.0, "default": 1.0, "unit": ""},
            {"name": "drive", "min": 0.0, "max": 1.0, "default": 1.0, "unit": ""},
            {"name": "space", "min": 0.0, "max": 1.0, "default": 1.0, "unit": ""},
        ],
        "provenance": {
            "source": "stylerack train match",
            "references": [Path(r).name for r in references],
            "match_source": Path(source).name if source else None,
            "fit": fit.summary(),
        },
    }
