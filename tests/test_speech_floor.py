"""Training targets without their recordings' own background (models/speech_floor.py): the
steady background goes, the voice stays, clean recordings are left alone, and the trainer pairs
each unit as recorded (the input) with the same unit without its background (the target)."""

from __future__ import annotations

import numpy as np
import pytest

from models.denoise_material import trim_span, unit_of
from models.speech_floor import background_spectrum, floor_removed

RATE = 48000


def voice_like(seconds: float, spans_s: list[tuple[float, float]], seed: int = 3) -> np.ndarray:
    """Harmonic bursts (a 140-180 Hz glide, 30 harmonics falling 6 dB an octave) in ``spans_s``,
    silence elsewhere."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    rng = np.random.default_rng(seed)
    for start, stop in spans_s:
        inside = (t >= start) & (t < stop)
        local = t[inside] - start
        f0 = 140 + 40 * local / (stop - start)
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        burst = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 31))
        out[inside] = burst * np.sin(np.pi * local / (stop - start)) ** 0.5
    return 0.1 * out / np.sqrt(np.mean(out[out != 0] ** 2))


def energy_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(audio**2) + 1e-30))


def test_a_steady_background_goes_and_the_voice_stays():
    spans = [(0.8, 1.4), (1.9, 2.3)]
    voice = voice_like(3.0, spans)
    hiss = np.random.default_rng(5).standard_normal(len(voice)) * 0.1 * 10 ** (-30 / 20)  # 30 dB under the voice
    recording = voice + hiss
    out = floor_removed(recording)
    assert out.shape == recording.shape
    pause = slice(int(0.1 * RATE), int(0.7 * RATE))
    assert energy_db(out[pause]) < energy_db(recording[pause]) - 20  # the background in pauses: 20 dB down or more
    for start, stop in spans:
        inside = slice(int((start + 0.05) * RATE), int((stop - 0.05) * RATE))
        assert abs(energy_db(out[inside]) - energy_db(voice[inside])) < 0.5  # the voice's level kept
        # closer to the voice alone than the recording was
        assert energy_db(out[inside] - voice[inside]) < energy_db(recording[inside] - voice[inside]) - 3


def test_recordings_without_a_background_come_back_as_they_are():
    voice = voice_like(2.0, [(0.5, 1.2)])
    assert background_spectrum(voice) is None  # digital silence between the words
    assert floor_removed(voice) is voice
    faint = voice + np.random.default_rng(1).standard_normal(len(voice)) * 0.1 * 10 ** (-75 / 20)
    assert background_spectrum(faint) is None  # negligible: far under the voice
    assert floor_removed(faint) is faint


def test_a_unit_pairs_the_recording_with_its_target_over_the_same_span():
    """The hiss is 45 dB under the voice: outside the trimming gate (40 dB), so the unit is
    shorter than the recording, and the target is the whole recording's cleaned span."""
    voice = voice_like(2.0, [(0.6, 1.3)])
    recording = voice + np.random.default_rng(2).standard_normal(len(voice)) * 0.1 * 10 ** (-45 / 20)
    span = trim_span(recording)
    assert span.stop - span.start < len(recording) - RATE // 2
    as_recorded, target = unit_of(recording, without_floor=True)
    np.testing.assert_array_equal(as_recorded, recording[span])
    np.testing.assert_array_equal(unit_of(recording), recording[span])
    np.testing.assert_array_equal(target, floor_removed(recording)[span])
    margin = int(0.02 * RATE)  # of the 30 ms kept before the first loud frame: hiss alone
    assert energy_db(target[:margin]) < energy_db(as_recorded[:margin]) - 15


def test_the_trainer_feeds_the_unit_as_recorded_and_aims_at_its_target():
    """Two units of different lengths with different targets: each stretch of the target is the
    target of the unit played at that place in the input."""
    pytest.importorskip("torch")
    from models.denoise_train import Material, example

    first, second = voice_like(0.5, [(0.05, 0.45)]), voice_like(0.8, [(0.05, 0.75)], seed=9)
    units = [first.astype(np.float32), second.astype(np.float32)]
    material = Material({"one": units}, [np.zeros(RATE, np.float32)], {"one": [2 * units[0], -units[1]]})
    noisy, target = example(material, np.random.default_rng(0), 6 * RATE, snr_db=10.0, room=False)
    played = np.abs(noisy) > 0
    ratio = target[played] / noisy[played]  # no noise was added: the input is the units
    assert set(np.round(ratio, 4)) == {2.0, -1.0}  # both units were drawn, each with its own target
    same = Material({"one": units}, [np.zeros(RATE, np.float32)])
    noisy, target = example(same, np.random.default_rng(0), 6 * RATE, snr_db=10.0, room=False)
    np.testing.assert_array_equal(target, noisy)  # without targets, the unit is its own target


def test_a_recording_with_no_pauses_is_left_alone():
    """A steady vowel all through (its quietest frames are the voice): nothing is taken out."""
    voice = voice_like(2.0, [(0.0, 2.0)])
    steady = voice + np.random.default_rng(4).standard_normal(len(voice)) * 1e-3
    assert background_spectrum(steady) is None
