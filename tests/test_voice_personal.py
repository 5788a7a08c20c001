"""Personal voices (``stylerack train voice``, models/voice_personal.py): the fitted style moves a
voice's pitch statistics to the target's (checked by an independent tracker, WORLD's Harvest),
learns an unknown input's statistics as it plays, exports with the parity checks, and refuses
bad folders in one line."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import lfilter, resample_poly

from realtime.engine.runner import StyleRunner
from realtime.format.style import load_style
from realtime.offline.validate import onset_delay, run_aligned, run_blocks

RATE = 48000
FORMANTS_HZ = ((700, 130), (1220, 70), (2600, 160))


def synthetic_voice(mean_hz: float, spread_st: float, seconds: float, seed: int,
                    formant_scale: float = 1.0) -> np.ndarray:
    """A vowel-like voice: a pulse train whose pitch wanders around ``mean_hz`` (a slow random
    contour with a standard deviation of about ``spread_st`` semitones), through three formant
    resonances, in phrases of 1.5-2.5 s with short pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    contour = sum(np.sin(2 * np.pi * rng.uniform(0.2, 1.5) * t + rng.uniform(0, 2 * np.pi)) for _ in range(4))
    contour *= spread_st / contour.std()
    f0 = mean_hz * 2 ** (contour / 12)
    phase = np.cumsum(f0) / RATE
    pulses = np.diff(np.floor(phase), prepend=0.0)
    voice = pulses
    for centre, width in FORMANTS_HZ:
        r = math.exp(-math.pi * width / RATE)
        theta = 2 * math.pi * centre * formant_scale / RATE
        voice = lfilter([1 - r], [1, -2 * r * math.cos(theta), r * r], voice)
    gate = np.zeros(n)
    at = 0
    while at < n:
        length = int(rng.uniform(1.5, 2.5) * RATE)
        gate[at: at + length] = np.hanning(length)[: min(length, n - at)] ** 0.2
        at += length + int(0.25 * RATE)
    voice = voice * gate
    return (0.3 * voice / np.abs(voice).max()).astype(np.float32)


def harvest_log_f0(audio: np.ndarray) -> np.ndarray:
    import pyworld

    x = resample_poly(audio.astype(np.float64), 1, 3)
    f0, _ = pyworld.harvest(np.ascontiguousarray(x), 16000, f0_floor=60.0, f0_ceil=600.0, frame_period=5.0)
    return np.log(f0[f0 > 0])


def write(folder, name, audio):
    folder.mkdir(exist_ok=True)
    sf.write(folder / name, audio, RATE)


def test_a_personal_voice_moves_the_pitch_mean_and_range_to_the_targets(tmp_path):
    """Fitted on a 200 Hz voice with a narrow range (target) and a 110 Hz voice with a wide one
    (source): a new phrase of the source comes out at the target's mean within 50 cents and its
    spread within 1 semitone of the target's (WORLD's Harvest on both); the export's checks pass
    (PyTorch vs ONNX Runtime, streaming vs one call) and the report holds the fit."""
    pytest.importorskip("torch")
    from models.voice import LATENCY
    from models.voice_personal import train_voice

    write(tmp_path / "target", "t.wav", synthetic_voice(200.0, 1.5, 14.0, seed=1, formant_scale=1.15))
    write(tmp_path / "source", "s.wav", synthetic_voice(110.0, 3.0, 14.0, seed=2))
    report = train_voice(tmp_path / "target", "mine", tmp_path, tmp_path / "source")
    assert (tmp_path / "mine.json").exists() and report["mapping"]["eq_taps"] > 0
    assert report["torch_vs_onnx_max_abs"] < 1e-4 and report["stream_vs_call_max_abs"] < 1e-5
    # the onset latency (declared, and verified by the export's validate at its probe tone):
    # PSOLA's 992 samples give or take half a period, the onset's cross-fade, plus the EQ's
    # group delay (a minimum-phase FIR's is small, not 0); the latest onset over the probe tones
    # (90 to 300 Hz) and the source's own mean pitch
    onsets = report["onset_latency_by_tone"]
    probes = {f"{hz:g} Hz" for hz in (90, 110, 165, 220, 300)}
    assert probes <= set(onsets) and len(onsets) == len(probes) + 1, onsets
    assert report["latency_samples"] == max(onsets.values())
    assert 800 <= min(onsets.values()) and max(onsets.values()) <= LATENCY + 512, onsets

    style = load_style(tmp_path / "mine.onnx")
    assert style.manifest.category == "voice"
    runner = StyleRunner(style, max_frames=128)
    runner.set_params([p.default for p in style.manifest.params])
    # no tone's onset comes later than declared (the engine's runner, 128-frame blocks)
    for hz in (110.0, 220.0):
        heard = onset_delay(lambda tone: run_blocks(runner, tone[None, :], 128)[0], RATE, hz)
        assert heard <= style.manifest.latency_samples + 48, (hz, heard, style.manifest.latency_samples)
    phrase = synthetic_voice(110.0, 3.0, 8.0, seed=3)
    out = run_aligned(runner, phrase, 128)
    target = harvest_log_f0(synthetic_voice(200.0, 1.5, 8.0, seed=4, formant_scale=1.15))
    styled = harvest_log_f0(out)
    semitones = 12 / math.log(2)
    assert abs(np.mean(styled) - np.mean(target)) * semitones < 0.5, (np.exp(np.mean(styled)), np.exp(np.mean(target)))
    spreads = np.std(styled) * semitones, np.std(target) * semitones
    assert abs(spreads[0] - spreads[1]) < 1.0, spreads
    source = harvest_log_f0(phrase)
    assert np.std(source) * semitones > np.std(target) * semitones + 1.0  # the range did have to shrink


def test_without_a_source_the_style_learns_the_input_as_it_plays():
    """No source: the mapping starts from the target's own statistics (which say nothing of the
    input, so they count for only 50 voiced frames) and learns the input's as it plays: in the
    first half second a 110 Hz voice has moved more than half of the way to a 200 Hz target
    (10.4 semitones), from 2 s on it meets it within 50 cents."""
    torch = pytest.importorskip("torch")
    from models.voice import PersonalMapping, VoiceModel

    target_mean, spread = math.log(200.0), 1.5 * math.log(2) / 12
    model = VoiceModel("shift", PersonalMapping(target_mean, spread, target_mean, spread)).eval()
    phrase = synthetic_voice(110.0, 1.5, 14.0, seed=5)
    with torch.no_grad():
        out = model(torch.from_numpy(phrase)[None, None], torch.zeros(1, 2))[0, 0].numpy()
    semitones = 12 / math.log(2)
    early = harvest_log_f0(out[: RATE // 2])
    assert (np.mean(early) - math.log(110.0)) > 0.5 * (target_mean - math.log(110.0)), np.exp(np.mean(early))
    for start, end in ((2, 4), (4, 8), (8, 14)):
        settled = harvest_log_f0(out[start * RATE: end * RATE])
        assert abs(np.mean(settled) - target_mean) * semitones < 0.5, (start, np.exp(np.mean(settled)))


def test_a_whistle_between_phrases_does_not_move_the_learned_pitch_mean():
    """Frames tracked above any voice's f0 (here a 1 kHz whistle, 0.3 s after every 1.7 s of a
    110 Hz voice: 15% of the voiced frames) do not count toward the input's statistics: counted,
    they pulled the learned mean up by about 3 semitones, so the voice came out that much under
    the target. From 4 s on, the voice's parts meet the 200 Hz target within 50 cents."""
    torch = pytest.importorskip("torch")
    from models.voice import PersonalMapping, VoiceModel

    target_mean, spread = math.log(200.0), 1.5 * math.log(2) / 12
    model = VoiceModel("shift", PersonalMapping(target_mean, spread, target_mean, spread)).eval()
    voice = synthetic_voice(110.0, 1.5, 14.0, seed=5)
    t = np.arange(int(0.3 * RATE)) / RATE
    whistle = (0.2 * np.hanning(len(t)) ** 0.2 * sum(np.sin(2 * np.pi * 1000.0 * k * t) / k ** 2 for k in (1, 2, 3)))
    voice_part, pieces, voiced_spans, at = int(1.7 * RATE), [], [], 0
    for start in range(0, len(voice) - voice_part + 1, voice_part):
        pieces += [voice[start: start + voice_part], whistle.astype(np.float32)]
        voiced_spans.append((at, at + voice_part))
        at += voice_part + len(whistle)
    phrase = np.concatenate(pieces)
    with torch.no_grad():
        out = model(torch.from_numpy(phrase)[None, None], torch.zeros(1, 2))[0, 0].numpy()
    margin = int(0.05 * RATE)  # the style's latency and grain spread
    settled = np.concatenate([harvest_log_f0(out[a + margin: b]) for a, b in voiced_spans if a >= 4 * RATE])
    assert abs(np.mean(settled) - target_mean) * 12 / math.log(2) < 0.5, np.exp(np.mean(settled))


def test_train_voice_refuses_bad_folders_in_one_line(tmp_path):
    """Empty folder, silence, too little voiced speech, an existing output: one line naming the
    folder or file, exit code 2, no traceback, nothing written."""
    pytest.importorskip("torch")
    (tmp_path / "empty").mkdir()
    write(tmp_path / "silent", "quiet.wav", np.zeros(RATE * 10, np.float32))
    write(tmp_path / "short", "short.wav", synthetic_voice(150.0, 1.0, 5.0, seed=6))
    write(tmp_path / "fine", "fine.wav", synthetic_voice(150.0, 1.0, 14.0, seed=7))
    (tmp_path / "taken.onnx").write_bytes(b"mine")

    def refused(*args):
        result = subprocess.run([sys.executable, "-m", "realtime.cli", "train", "voice", *args, "--out", str(tmp_path)],
                                capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        # (progress lines may come first: the refusal is the last line)
        return result.stderr.strip().splitlines()[-1]

    assert "empty" in refused("--target", str(tmp_path / "empty"), "--name", "a") and "no recordings" in refused(
        "--target", str(tmp_path / "empty"), "--name", "a")
    assert "quiet.wav" in refused("--target", str(tmp_path / "silent"), "--name", "b")
    line = refused("--target", str(tmp_path / "short"), "--name", "c")
    assert "short" in line and "voiced speech" in line
    line = refused("--target", str(tmp_path / "fine"), "--source", str(tmp_path / "short"), "--name", "d")
    assert "short" in line and "voiced speech" in line
    assert "taken.onnx" in refused("--target", str(tmp_path / "fine"), "--name", "taken")
    assert (tmp_path / "taken.onnx").read_bytes() == b"mine"
    assert not any(tmp_path.glob("[abcd].*"))


def test_the_envelope_eq_matches_where_both_have_sound_and_never_boosts_what_the_source_lacks():
    """eq_curve_db on noise: a target 6 dB brighter above 2 kHz than the source is matched there
    (within 1.5 dB, the level aside), and a source with nothing above 4 kHz (a narrow-band
    recording) gets no boost up there, however bright the target."""
    pytest.importorskip("torch")
    from scipy.signal import butter, sosfilt, sosfiltfilt

    from models.voice_personal import eq_curve_db

    rng = np.random.default_rng(8)
    noise = rng.standard_normal(RATE * 6)
    low = sosfiltfilt(butter(4, 2000, "low", fs=RATE, output="sos"), noise)  # zero phase: low + high = noise
    high = noise - low
    source, target = low + high, low + 2.0 * high  # +6 dB above 2 kHz
    freqs, gain = eq_curve_db([source], [target])
    at = lambda hz: float(gain[np.argmin(np.abs(freqs - hz))])  # noqa: E731
    assert abs((at(6000) - at(500)) - 6.0) < 1.5, (at(500), at(6000))
    narrow = sosfilt(butter(12, 4000, "low", fs=RATE, output="sos"), noise)
    freqs, gain = eq_curve_db([narrow], [noise])
    assert max(at(f) for f in (8000, 12000, 16000, 20000)) <= 0.0
