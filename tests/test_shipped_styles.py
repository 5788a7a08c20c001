"""The effect styles that ship in realtime/styles: format, quality as trained, size, knobs, and
that they sound different from each other and from the input. (The timbre, voice and restoration
styles have their own measures: tests/test_timbre.py, tests/test_voice.py, tests/test_denoise.py.)"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from realtime.format.catalog import NON_EFFECT_CATEGORIES, shipped_styles_dir
from realtime.engine.runner import StyleRunner
from realtime.format.style import load_style
from realtime.offline.validate import check_streaming, measure_latency

SHIPPED = sorted(
    p for p in shipped_styles_dir().glob("*.onnx") if load_style(p).manifest.category not in NON_EFFECT_CATEGORIES
)
RATE = 48000


def probe_signal() -> np.ndarray:
    """Two seconds of tones and noise at speaking/playing levels (made here, no files)."""
    rng = np.random.default_rng(42)
    t = np.arange(2 * RATE) / RATE
    tones = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate((110, 220, 440, 880, 1760, 3520)))
    signal = 0.15 * tones + 0.05 * rng.normal(0, 1, len(t))
    return (0.5 * signal / np.abs(signal).max()).astype(np.float32)


def spectrum_db(audio: np.ndarray) -> np.ndarray:
    """Average magnitude spectrum (dB) over 2048-sample frames, 100 Hz to 10 kHz."""
    frames = audio[: len(audio) // 2048 * 2048].reshape(-1, 2048) * np.hanning(2048)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(2048, 1 / RATE)
    band = (freqs >= 100) & (freqs <= 10000)
    return 10 * np.log10(power[band] + 1e-12)


def render(style_path, audio: np.ndarray) -> np.ndarray:
    runner = StyleRunner(load_style(style_path), max_frames=len(audio))
    runner.input_view(len(audio))[...] = audio
    return runner.run(len(audio))[0].copy()


def test_at_least_five_styles_ship_and_two_have_knobs():
    assert len(SHIPPED) >= 5, [p.name for p in SHIPPED]
    assert sum(1 for p in SHIPPED if load_style(p).manifest.params) >= 2


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_style_is_valid_small_and_great(path):
    style = load_style(path)
    assert path.stat().st_size < 2_000_000
    provenance = style.manifest.provenance
    assert provenance["esr"] <= 0.01, f"{path.name}: ESR {provenance['esr']} on held-out material"
    assert "pedalboard" in provenance["source"] and provenance["recipe"].endswith(style.name)
    runner = StyleRunner(style, max_frames=65536)
    assert check_streaming(runner, RATE).ok
    measured, check = measure_latency(runner, style.manifest.latency_samples)
    assert check.ok, check.detail


def test_styles_sound_different_from_each_other_and_from_the_input():
    audio = probe_signal()
    spectra = {"input": spectrum_db(audio)}
    for path in SHIPPED:
        spectra[path.stem] = spectrum_db(render(path, audio))
    for (a, sa), (b, sb) in itertools.combinations(spectra.items(), 2):
        distance_db = float(np.mean(np.abs(sa - sb)))
        assert distance_db > 1.5, f"{a} and {b} are only {distance_db:.2f} dB apart on average"
