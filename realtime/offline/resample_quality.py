"""Measures a resampler the way the issue asks, with sines: passband flatness, aliasing,
imaging and a 1 kHz round trip's THD+N. Each sine is long and steady; the start (the
filters filling) is dropped and the tone is fitted by least squares, so what is left over
is everything the resampler added.

Used by ``stylerack bench`` (the resampling rows), by the tests (with margins) and by
``scripts/plot_resampler.py`` (docs/resampler.png)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from realtime.engine.resample import NativeResampler, SoxrResampler, prototype_taps

SECONDS = 0.25
SETTLE_SECONDS = 0.05
LEVEL = 0.5
BLOCK = 128  # fed in device-sized blocks, as live


def make(kind: str, in_rate: int, out_rate: int, device_rate: int | None = None):
    """A fresh one-channel resampler: 'low-latency', 'soxr-hq' or 'soxr-lq'. The low-latency
    prototype is sized for the device/style pair (``device_rate``: the device's side)."""
    if kind == "low-latency":
        device = device_rate or in_rate
        style = out_rate if device == in_rate else in_rate
        return NativeResampler(in_rate, out_rate, 1, 8192, prototype_taps(device, style))
    return SoxrResampler(in_rate, out_rate, 1, quality={"soxr-hq": "HQ", "soxr-lq": "LQ"}[kind])


def run(resampler, signal: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Stream a mono signal through, in blocks; returns all output."""
    pieces = []
    for start in range(0, len(signal), block):
        pieces.append(np.array(resampler.process(signal[None, start : start + block])[0]))
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)


def tone(frequency: float, rate: int, seconds: float = SECONDS) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (LEVEL * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def fit(signal: np.ndarray, frequency: float, rate: int) -> tuple[float, np.ndarray]:
    """(amplitude of the tone at ``frequency``, the residual after removing it), after the
    settling time."""
    start = int(SETTLE_SECONDS * rate)
    part = signal[start:].astype(np.float64)
    t = (np.arange(len(part)) + start) / rate
    basis = np.stack([np.sin(2 * np.pi * frequency * t), np.cos(2 * np.pi * frequency * t), np.ones_like(t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, part, rcond=None)
    return float(math.hypot(coef[0], coef[1])), part - basis @ coef


def db(ratio: float) -> float:
    return 20 * math.log10(max(ratio, 1e-12))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def gain_db(kind: str, in_rate: int, out_rate: int, frequency: float, device_rate: int | None = None) -> float:
    out = run(make(kind, in_rate, out_rate, device_rate), tone(frequency, in_rate))
    return db(fit(out, frequency, out_rate)[0] / LEVEL)


def alias_db(kind: str, in_rate: int, out_rate: int, frequency: float, device_rate: int | None = None) -> float:
    """Everything in the output of a tone the output rate cannot hold (above its Nyquist),
    relative to the tone: what folds back is aliasing."""
    out = run(make(kind, in_rate, out_rate, device_rate), tone(frequency, in_rate))
    return db(rms(out[int(SETTLE_SECONDS * out_rate):]) / (LEVEL / math.sqrt(2)))


def spurious_db(kind: str, in_rate: int, out_rate: int, frequency: float, device_rate: int | None = None) -> float:
    """Everything in the output of an in-band tone but the tone (imaging, aliasing, noise),
    relative to the tone."""
    out = run(make(kind, in_rate, out_rate, device_rate), tone(frequency, in_rate))
    amplitude, residual = fit(out, frequency, out_rate)
    return db(rms(residual) / (amplitude / math.sqrt(2)))


def round_trip_thdn_db(kind: str, device_rate: int, style_rate: int, frequency: float = 1000.0) -> float:
    """THD+N of a tone through device -> style -> device, in dB relative to the tone."""
    down, up = make(kind, device_rate, style_rate, device_rate), make(kind, style_rate, device_rate, device_rate)
    out = run(up, run(down, tone(frequency, device_rate, 2 * SECONDS)))
    amplitude, residual = fit(out, frequency, device_rate)
    return db(rms(residual) / (amplitude / math.sqrt(2)))


@dataclass
class Quality:
    resampler: str
    passband_ripple_db: float  # worst |gain| up to 18 kHz, both directions
    aliasing_db: float  # worst alias of a tone above 22.05 kHz, 48 -> 44.1 kHz
    spurious_db: float  # worst image/alias/noise of an in-band tone up to 20 kHz, 44.1 -> 48 kHz
    round_trip_thdn_db: float  # 1 kHz through 48 -> 44.1 -> 48 kHz

    def as_dict(self) -> dict:
        return asdict(self)


PASSBAND_HZ = (100.0, 1000.0, 5000.0, 10000.0, 15000.0, 17000.0, 18000.0)
ALIAS_HZ = (22200.0, 22600.0, 23000.0, 23500.0, 23900.0)
IMAGE_HZ = (1000.0, 5000.0, 10000.0, 15000.0, 18000.0, 20000.0)


def measure(kind: str, device_rate: int = 48000, style_rate: int = 44100) -> Quality:
    ripple = max(
        abs(gain_db(kind, a, b, f, device_rate)) for f in PASSBAND_HZ for a, b in ((device_rate, style_rate), (style_rate, device_rate))
    )
    aliasing = max(alias_db(kind, 48000, 44100, f, device_rate) for f in ALIAS_HZ)
    spurious = max(spurious_db(kind, 44100, 48000, f, device_rate) for f in IMAGE_HZ)
    return Quality(kind, ripple, aliasing, spurious, round_trip_thdn_db(kind, device_rate, style_rate))
