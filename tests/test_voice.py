"""The voice styles (models/voice.py, shipped in realtime/styles): streaming equals one call,
declared latency, silence, unvoiced sounds passing through, and the pitch knob measured by an
independent pitch tracker (WORLD's harvest) on a synthetic glide and on a rendered voice."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from scipy.signal import lfilter
import soundfile as sf
from scipy.signal import resample_poly

from realtime.engine.runner import StyleRunner, round_up
from realtime.format.catalog import shipped_styles_dir
from realtime.format.style import load_style
from realtime.offline.validate import onset_delay, run_aligned, run_blocks, validate

RATE = 48000
VOICES = sorted(p for p in shipped_styles_dir().glob("*.onnx") if load_style(p).manifest.category == "voice")
BY_NAME = {p.stem: p for p in VOICES}


def render(name: str, audio: np.ndarray, block: int = 128, **knobs: float) -> tuple[np.ndarray, int]:
    """The style on ``audio`` in blocks; the output with the declared latency removed, and that latency."""
    style = load_style(BY_NAME[name])
    runner = StyleRunner(style, max_frames=round_up(block, style.manifest.block_multiple))
    params = [knobs.get(p.name, p.default) for p in style.manifest.params]
    runner.set_params(params)
    return run_aligned(runner, audio, block), style.manifest.latency_samples


def glottal_glide(seconds: float = 2.0, low_hz: float = 110.0, high_hz: float = 220.0) -> np.ndarray:
    """A voice-like source: a pulse train gliding from low_hz to high_hz through three formant
    resonances (700, 1200, 2500 Hz)."""
    return glottal_voice(np.geomspace(low_hz, high_hz, int(seconds * RATE)))


def glottal_voice(f0_hz: np.ndarray) -> np.ndarray:
    """A pulse train at ``f0_hz`` (one value per sample) through the three formant resonances."""
    n = len(f0_hz)
    phase = np.cumsum(f0_hz / RATE)
    pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(float)
    voice = np.zeros(n)
    for centre_hz, bandwidth_hz, gain in ((700, 80, 1.0), (1200, 100, 0.5), (2500, 150, 0.2)):
        r, theta = np.exp(-np.pi * bandwidth_hz / RATE), 2 * np.pi * centre_hz / RATE
        voice += gain * lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], pulses)
    return (0.3 * voice / np.abs(voice).max()).astype(np.float32)


def f0_hz(audio: np.ndarray) -> np.ndarray:
    pyworld = pytest.importorskip("pyworld")
    at_16k = resample_poly(audio.astype(np.float64), 1, RATE // 16000)
    return pyworld.harvest(at_16k, 16000, f0_floor=60.0, f0_ceil=1000.0, frame_period=5.0)[0]


def median_cents_error(dry: np.ndarray, wet: np.ndarray, semitones: float) -> tuple[float, float]:
    """Median |cents| of the wet f0 against the dry f0 times 2^(semitones/12), over frames voiced
    in both, and the fraction of those frames off by more than 600 cents (octave errors)."""
    a, b = f0_hz(dry), f0_hz(wet)
    n = min(len(a), len(b))
    both = (a[:n] > 0) & (b[:n] > 0)
    assert both.sum() > 50, "too few voiced frames to measure"
    cents = 1200 * np.log2(b[:n][both] / (a[:n][both] * 2 ** (semitones / 12)))
    return float(np.median(np.abs(cents))), float(np.mean(np.abs(cents) > 600))


def test_six_voice_styles_ship_with_pitch_and_formant_knobs_in_steps():
    assert len(VOICES) >= 6, [p.name for p in VOICES]
    for path in VOICES:
        params = {p.name: p for p in load_style(path).manifest.params}
        assert params["pitch"].min == -12 and params["pitch"].max == 12 and params["pitch"].step == 1
        assert params["formant"].min == -4 and params["formant"].max == 4 and params["formant"].step


@pytest.mark.parametrize("path", VOICES, ids=lambda p: p.stem)
def test_voice_style_validates_latency_under_25_ms_with_a_128_block(path):
    report = validate(path)
    assert report.ok, [c.detail for c in report.checks if not c.ok]
    latency = load_style(path).manifest.latency_samples
    assert (latency + 128) / RATE <= 0.025


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_no_voice_starts_later_than_declared_on_a_low_or_a_high_voice(name):
    """A voice from 90 to 300 Hz starts no later than the style declares (the engine's runner,
    128-frame blocks). A low voice's onset used to be read from the silence before it while the
    voicing gate opened (1278 samples late on `feminine` at 110 Hz against 1056 declared);
    `feminine`'s first voiced grains were faded in from that silence (1166 at 300 Hz), and
    `whisper`'s level depended on where its marks fell in the cycle (1485 at 90 Hz)."""
    style = load_style(BY_NAME[name])
    runner = StyleRunner(style, max_frames=128)
    runner.set_params([p.default for p in style.manifest.params])
    for hz in (90.0, 110.0, 165.0, 220.0, 300.0):
        heard = onset_delay(lambda tone: run_blocks(runner, tone[None, :], 128)[0], RATE, hz)
        assert heard <= style.manifest.latency_samples + 48, (hz, heard, style.manifest.latency_samples)


@pytest.mark.parametrize("hz", [90.0, 110.0, 165.0, 220.0, 300.0])
def test_whisper_keeps_a_steady_voice_level_wherever_its_cycle_begins(hz):
    """A whisper grain is half a period long, so how much of the period's energy it holds
    depends on where in the cycle the marks fall, which is wherever the voice began; and its
    random signs alternated (a weak hash). A steady tone came out 9.4 dB quieter at 110 Hz
    begun at one time, 1.7 dB at another. Now within 1 dB of the input, begun at either."""
    for begin_s in (0.25, 0.3):
        begin = int(begin_s * RATE)
        t = np.arange(2 * RATE) / RATE
        tone = np.zeros(begin + len(t), np.float32)
        tone[begin:] = 0.3 * sum(np.sin(2 * np.pi * hz * k * t) / k for k in range(1, 6))
        out, _ = render("whisper", tone)
        steady = slice(begin + RATE // 10, begin + RATE)
        ratio_db = 10 * np.log10(np.mean(out[steady] ** 2) / np.mean(tone[steady] ** 2))
        assert abs(ratio_db) <= 1.0, (begin_s, ratio_db)


@pytest.mark.parametrize("semitones", [-12.0, -6.0, 6.0, 12.0])
def test_the_pitch_knob_keeps_the_voice_level(semitones):
    """Raising a voice loses the input's energy below its new f0, and grains at a spacing other
    than the period add partly in power, so the output fell with the pitch knob (flite's slt
    through feminine's graph at +12: 6.4 LU quieter; this glide 4.4 dB at +12, 1.25 dB at -6 and
    -12). The level keeper brings voiced sound back to its input's level: within 1 dB on a voice
    gliding over a female range, from 0.5 s in (its averages settle)."""
    dry = glottal_glide(3.0, 180.0, 260.0)
    wet, _ = render("feminine", dry, pitch=semitones, formant=0.0)
    settled = slice(RATE // 2, len(dry) - RATE // 4)
    ratio_db = 10 * np.log10(np.mean(wet[settled] ** 2) / np.mean(dry[settled] ** 2))
    assert abs(ratio_db) <= 1.0, ratio_db


@pytest.mark.parametrize("name", ["feminine", "robot", "whisper"])
def test_streaming_equals_one_call(name):
    audio = np.concatenate([glottal_glide(1.0), np.random.default_rng(1).normal(0, 0.05, RATE // 2).astype(np.float32)])
    one_call, _ = render(name, audio, block=len(audio) + 2048)
    for block in (128, 256, 512, 4096):  # 1, 64 / 441 rounded up to the block multiple, 4096
        streamed, _ = render(name, audio, block=block)
        assert np.abs(streamed - one_call).max() <= 1e-5, block


@pytest.mark.parametrize("name", ["deeper", "feminine", "robot", "whisper"])
def test_silence_in_gives_silence_out_and_a_voice_dies_away(name):
    silence = np.zeros(RATE, np.float32)
    out, _ = render(name, silence)
    assert np.abs(out).max() == 0.0
    voice_then_silence = np.concatenate([glottal_glide(0.5), silence])
    out, latency = render(name, voice_then_silence)
    tail = out[RATE // 2 + 2048 :]  # past the grains still sounding
    assert np.abs(tail).max() == 0.0


def test_noise_passes_unshifted_and_a_shifted_voice_is_not_turned_into_noise():
    """Unvoiced sound (noise: the YIN tracker finds no pitch) is not shifted, so at formant 0
    the output is the input, exactly, delayed by a whole number of samples within
    96 samples (2 ms) of the declared onset latency, whatever the pitch knob."""
    noise = np.random.default_rng(3).normal(0, 0.1, RATE).astype(np.float32)
    out, declared = render("feminine", noise, formant=0.0)
    out = np.concatenate([np.zeros(declared, np.float32), out])  # back to the style's own timing
    lag = int(np.argmax(np.correlate(out[: RATE // 2], noise[: RATE // 4], "valid")))
    assert abs(lag - declared) <= 96
    skip = max(declared - lag, 0)  # what the render cut before its start, where the onset latency is the longer
    assert np.abs(out[lag + skip : lag + RATE - 2048] - noise[skip : RATE - 2048]).max() < 1e-5
    # with a formant shift, still noise: no spectral line appears (peak-to-median of the spectrum)
    out, _ = render("feminine", noise)
    frames = out[: len(out) // 4096 * 4096].reshape(-1, 4096) * np.hanning(4096)
    spectrum = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)[20:1700]  # ~230 Hz..20 kHz
    assert 10 * np.log10(spectrum.max() / np.median(spectrum)) < 10.0


@pytest.mark.parametrize("semitones", [5.0, -7.0])
def test_pitch_knob_on_a_glide_is_within_10_cents(semitones):
    dry = glottal_glide()
    wet, _ = render("deeper", dry, pitch=semitones, formant=0.0)
    median, octave_errors = median_cents_error(dry, wet, semitones)
    assert median <= 10.0, median
    assert octave_errors <= 0.01, octave_errors


def glottal_vibrato(seconds: float = 2.0, centre_hz: float = 150.0, depth_st: float = 1.5, rate_hz: float = 5.0):
    """The glide's voice on a vibrato: f0 = centre_hz x 2^(depth_st/12 sin(2 pi rate_hz t)), up to
    4700 cents a second at the defaults (a wide singer's vibrato, or fast speech intonation)."""
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = centre_hz * 2 ** (depth_st / 12 * np.sin(2 * np.pi * rate_hz * t))
    return glottal_voice(f0)


@pytest.mark.parametrize("semitones", [5.0, -7.0])
def test_pitch_knob_follows_a_fast_vibrato_within_10_cents(semitones):
    """Where the pitch moves fast, the output's spacing must come from the period where each
    grain is cut: a period a few ms older or newer shows as an error here (1.2 and 6.2 cents;
    with the spacing taken from the period 2 frames after the grain's, as the last version did,
    17.9 and 23.9)."""
    dry = glottal_vibrato()
    wet, _ = render("deeper", dry, pitch=semitones, formant=0.0)
    median, octave_errors = median_cents_error(dry, wet, semitones)
    assert median <= 10.0, median
    assert octave_errors <= 0.01, octave_errors


def alternating_voice(f0_hz: float = 95.0, weaker: float = 0.75, seconds: float = 1.0) -> np.ndarray:
    """A low voice with a weak fundamental: glottal pulses at twice ``f0_hz``, every other one
    ``weaker``, through the formant resonances. Its period is 1 / f0_hz, but each half period
    looks almost like the other (as in a low or creaky voice)."""
    n = int(seconds * RATE)
    count = np.floor(np.arange(n) * 2 * f0_hz / RATE)
    pulses = (np.diff(count, prepend=0.0) > 0) * np.where(count % 2 == 0, 1.0, weaker)
    voice = np.zeros(n)
    for centre_hz, bandwidth_hz, gain in ((700, 80, 1.0), (1200, 100, 0.5), (2500, 150, 0.2)):
        r, theta = np.exp(-np.pi * bandwidth_hz / RATE), 2 * np.pi * centre_hz / RATE
        voice += gain * lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], pulses)
    return (0.3 * voice / np.abs(voice).max()).astype(np.float32)


def test_a_voice_with_a_weak_fundamental_is_shifted_from_its_own_pitch_not_an_octave_up():
    """Plain YIN takes the half period of such a voice (its first dip is under the threshold);
    the voice styles' tracker checks one octave down, so the output is at the voice's pitch
    x 2^(-5/12) as the independent tracker hears it, not an octave above (as it was before the
    check: 1200 cents off on every frame). Scored from 100 ms to 50 ms before the end: the tone
    starts at full level, and the first 45 ms of the output come before the tracker has a whole
    window; Harvest's last frames read the cut-off end."""
    dry = alternating_voice()
    wet, _ = render("deeper", dry, pitch=-5.0, formant=0.0)
    heard, shifted = f0_hz(dry), f0_hz(wet)
    steady = slice(20, min(len(heard), len(shifted)) - 10)  # 5 ms frames
    heard, shifted = heard[steady], shifted[steady]
    assert np.all(np.abs(1200 * np.log2(heard / 95.0)) < 20)  # Harvest hears 95 Hz
    assert np.all(shifted > 0)
    cents = 1200 * np.log2(shifted / (heard * 2 ** (-5 / 12)))
    assert np.median(np.abs(cents)) <= 10.0, np.median(np.abs(cents))
    assert np.mean(np.abs(cents) > 600) <= 0.01, np.mean(np.abs(cents) > 600)


def test_the_tracker_octave_check_takes_the_full_period_only_where_the_dip_there_is_deeper():
    torch = pytest.importorskip("torch")
    from models.pitch import PitchLoudness

    def median_f0(audio, ratio):
        f0, _, _ = PitchLoudness(subharmonic_ratio=ratio)(torch.from_numpy(audio)[None])
        return float(np.median(f0[0, 50:].numpy()))

    alternating = alternating_voice()
    assert abs(median_f0(alternating, None) - 190.0) < 2  # plain YIN: the half period
    assert abs(median_f0(alternating, 0.5) - 95.0) < 1
    steady = glottal_glide(1.0, 190.0, 190.0)  # truly periodic at 190 Hz: nothing to take
    assert abs(median_f0(steady, 0.5) - 190.0) < 2


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed (scripts/setup.sh --dev installs it)")
@pytest.mark.parametrize("semitones", [5.0, -7.0])
def test_pitch_knob_on_a_rendered_voice_is_within_10_cents(tmp_path, semitones):
    wav = tmp_path / "slt.wav"
    text = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."
    subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(wav)], check=True)
    audio, rate = sf.read(wav, dtype="float64")
    dry = resample_poly(audio, RATE // np.gcd(RATE, rate), rate // np.gcd(RATE, rate)).astype(np.float32)
    wet, _ = render("deeper", dry, pitch=semitones, formant=0.0)
    median, _ = median_cents_error(dry, wet, semitones)
    assert median <= 10.0, median


@pytest.mark.parametrize("name", ["feminine", "masculine", "robot"])
def test_no_clicks_at_block_or_grain_edges(name):
    """A steady vowel through the style in 128-frame blocks: no sample-to-sample step of the
    output is larger than 1.5 times the largest of the input (a click at a block or grain edge
    would be), and the high-frequency energy right at the block edges is no larger than
    elsewhere (a discontinuity at every block would be)."""
    vowel = glottal_glide(1.0, 150.0, 150.0)
    n = len(vowel)
    out, latency = render(name, vowel)
    start, stop = RATE // 4, n - RATE // 8
    steady = out[start:stop]
    assert np.abs(np.diff(steady)).max() <= 1.5 * np.abs(np.diff(vowel)).max()
    curvature = np.diff(steady, 2) ** 2  # curvature[i] is centred on steady[i + 1]
    device_time = np.arange(len(curvature)) + 1 + start + latency  # the sample's time at the style's output
    at_edges = (device_time % 128 == 0) | (device_time % 128 == 127)
    assert curvature[at_edges].mean() <= 2.0 * curvature.mean()


def harmonic_balance_per_period(audio: np.ndarray, f0_hz: float, start: int, stop: int) -> np.ndarray:
    """|second harmonic| / |fundamental| in each whole period of ``f0_hz`` between ``start`` and
    ``stop`` (samples)."""
    period = RATE / f0_hz
    values = []
    for k in range(int((stop - start) / period) - 1):
        segment = audio[int(round(start + k * period)): int(round(start + k * period)) + int(round(period))]
        n = np.arange(len(segment))
        first = np.abs(np.sum(segment * np.exp(-2j * np.pi * f0_hz * n / RATE)))
        second = np.abs(np.sum(segment * np.exp(-4j * np.pi * f0_hz * n / RATE)))
        values.append(second / first)
    return np.array(values)


def test_a_raised_voice_changes_from_one_period_to_the_next_as_smoothly_as_the_input():
    """A 200 Hz tone whose second harmonic grows steadily, raised 5 semitones: each output period
    is cut between two input periods and cross-faded by where it falls between them, so the
    harmonic balance grows by about the same step every period. Taking the nearest input period
    instead (the last version) repeats one period in four and then jumps: the steps' standard
    deviation was 0.64 of their mean (0.18 now)."""
    t = np.arange(int(2.5 * RATE)) / RATE
    growing = np.clip((t - 0.25) / 2.0, 0.0, 1.0)
    tone = (0.3 * (np.sin(2 * np.pi * 200.0 * t) + growing * np.sin(2 * np.pi * 400.0 * t + 0.3))).astype(np.float32)
    out, _ = render("feminine", tone, pitch=5.0, formant=0.0)
    steps = np.diff(harmonic_balance_per_period(out, 200.0 * 2 ** (5 / 12), int(0.6 * RATE), int(2.1 * RATE)))
    assert steps.mean() > 0  # it grows, as the input's does
    assert steps.std() < 0.35 * steps.mean(), (steps.std(), steps.mean())


def test_the_shipped_voice_styles_are_what_the_recipe_exports(tmp_path):
    """`stylerack train recipe voice` re-creates the shipped files: a fresh export of one
    renders exactly what the shipped one does (same manifest, same output)."""
    pytest.importorskip("torch")
    from models.voice_recipes import make_voice_style

    report = make_voice_style("masculine", out_dir=tmp_path)
    fresh, shipped = load_style(tmp_path / "masculine.onnx"), load_style(BY_NAME["masculine"])
    assert fresh.manifest.latency_samples == shipped.manifest.latency_samples == report["latency_samples"]
    assert [p.default for p in fresh.manifest.params] == [p.default for p in shipped.manifest.params]
    audio = np.pad(glottal_glide(1.0), (0, 2048))[None, :]
    outputs = [run_blocks(StyleRunner(style, max_frames=128), audio, 128) for style in (fresh, shipped)]
    assert np.abs(outputs[0] - outputs[1]).max() <= 1e-6


def test_the_voice_benchmark_tells_unshifted_frames_from_octave_errors():
    """bench/voice.py's pitch summary: a frame left at the input's own pitch is 'unshifted' (at
    pitch -7 that is 700 cents off, at +5 500 cents), an output an octave off is an octave
    error, and neither kind is counted twice."""
    from bench import voice as bench

    # pitch -7: 6 frames right (+-5 cents), 2 unshifted (+700 cents), 1 an octave low, 1 an octave high
    cents = np.array([5, -5, 3, -3, 0, 1, 700, 690, -1200, 1210], float)
    summary = bench.pitch_summary(cents, -7.0)
    assert summary["unshifted_fraction"] == pytest.approx(0.2)
    assert summary["octave_error_fraction"] == pytest.approx(0.2)
    assert summary["gross_error_fraction"] == pytest.approx(0.4)
    # pitch +5: an unshifted frame is -500 cents off (not gross) and still counted as unshifted
    summary = bench.pitch_summary(np.array([-500, -510, 2, 1200], float), 5.0)
    assert summary["unshifted_fraction"] == pytest.approx(0.5)
    assert summary["octave_error_fraction"] == pytest.approx(0.25)
    # no shift asked: nothing can be 'unshifted'; per-frame shifts (pooled settings) work too
    assert bench.pitch_summary(np.array([0.0, 1200.0]), 0.0)["unshifted_fraction"] == 0.0
    pooled = bench.pitch_summary(np.array([700.0, -500.0, 1200.0]), np.array([-7.0, 5.0, 0.0]))
    assert pooled["unshifted_fraction"] == pytest.approx(2 / 3) and pooled["octave_error_fraction"] == pytest.approx(1 / 3)
    # a frame whose intended f0 Harvest cannot measure (an 80 Hz voice lowered 7 semitones is at
    # 53 Hz, under its 60 Hz floor) is not scored, and is counted as out of range
    f_in, f_out = np.array([80.0, 120.0, 0.0, 200.0]), np.array([106.0, 80.0, 50.0, 0.0])
    assert bench.out_of_range(f_in, -7.0).tolist() == [True, False, False, False]
    assert bench.f0_cents_error(f_in, f_out, -7.0) == pytest.approx([1200 * np.log2(80.0 / (120.0 * 2 ** (-7 / 12)))])


def test_the_voice_benchmark_scores_unambiguous_frames_by_the_input_alone():
    """bench/voice.py's ``unambiguous``: a dry frame's f0 counts only where Harvest and the
    second tracker both find it voiced and agree within 50 cents; on a real glottal-pulse glide
    (no ambiguity) the two trackers agree on nearly every voiced frame."""
    pytest.importorskip("pyworld")
    from bench import voice as bench
    from models.speech_sources import resample

    harvest = np.array([100.0, 100.0, 0.0, 200.0, 150.0, 120.0])
    check = np.array([100.5, 0.0, 100.0, 100.0, 150.0 * 2 ** (60 / 1200), 120.0 * 2 ** (-40 / 1200), 99.0])
    assert bench.unambiguous(harvest, check).tolist() == [100.0, 0.0, 0.0, 0.0, 0.0, 120.0]
    glide = resample(glottal_glide(1.0).astype(np.float64), RATE, bench.ANALYSIS_RATE)
    harvest, check = bench.f0_hz(glide), bench.f0_check_hz(glide)
    assert len(check) == len(harvest)
    voiced = harvest > 0
    kept = bench.unambiguous(harvest, check) > 0
    assert voiced.sum() > 150 and kept[voiced].mean() > 0.9


def test_the_voice_benchmark_measures_only_the_metrics_asked_for():
    """``bench/voice.py --metrics pitch``: every setting measures pitch only (the pitch steps and
    the defaults), and the summary and the table say "not measured" for WER and DNSMOS."""
    from bench import voice as bench

    style = load_style(shipped_styles_dir() / "feminine.onnx")
    everything = bench.settings_for(style, quick=True)
    assert {m for s in everything for m in s.metrics} == {"pitch", "wer", "dnsmos"}
    settings = bench.settings_for(style, quick=True, metrics=("pitch",))
    assert all(s.metrics == {"pitch"} for s in settings)
    assert sorted(s.pitch_st for s in settings if not s.is_defaults) == [-7.0, -5.0, 5.0, 7.0]
    assert sum(s.is_defaults for s in settings) == 1
    measured = [{"label": s.label, "is_defaults": s.is_defaults, "expected_pitch_st": s.pitch_st,
                 "params": {"pitch": s.pitch_st}, "pitch": bench.pitch_summary(np.array([3.0, -4.0]), s.pitch_st)}
                for s in settings]
    frames = (np.array([3.0, -4.0]), np.zeros(2))
    summary = bench.summarise_style(measured, [(frames, frames)] * len(measured), {"metrics": ["pitch"]}, True)
    assert summary["wer_worst"] is None and summary["dnsmos_dry"] is None and summary["dnsmos_drop"] is None
    assert summary["pitch_overall"]["median_abs_cents"] == pytest.approx(3.5)
    row = bench.table([{"style": "x", "offline": True, "latency": None, "cost": None, "summary": summary}], {})
    assert row.splitlines()[-1].endswith("| 3.5 / 0.0% / 0.0% | 3.5 / 0.0% / 0.0% | not measured | not measured |")


def test_the_voice_benchmark_lines_each_output_up_by_its_measured_delay():
    """bench/voice.py's ``measured_delay``: speech-like bursts, the output the same bursts a known
    number of samples later (and quieter, with a faint hiss) or earlier, is found within a
    quarter of a millisecond; a silent output is not moved; ``delayed`` undoes it exactly."""
    from bench import voice as bench

    rng = np.random.default_rng(4)
    envelope = np.repeat(rng.uniform(0.0, 1.0, 60) ** 3, 1200)  # 25 ms syllable-like steps
    speech = rng.standard_normal(len(envelope)) * envelope
    for lag in (0, 37, 150, -200, 700):
        output = 0.3 * bench.delayed(speech, lag) + 1e-3 * rng.standard_normal(len(speech))
        found = bench.measured_delay(speech, output, 48000)
        assert abs(found - lag) <= 12, (lag, found)
    assert bench.measured_delay(speech, np.zeros_like(speech), 48000) == 0
    assert np.array_equal(bench.delayed(bench.delayed(speech, 150), -150)[:-150], speech[:-150])


def test_the_benchmarks_dnsmos_is_the_mean_of_runs_over_a_millisecond_of_delay(monkeypatch):
    """bench/naturalness.py (both speech benchmarks' DNSMOS): four runs on the clip at -25 dBFS
    RMS, delayed by 0, 5, 11 and 16 samples at 16 kHz, and each score their mean; the clip's own
    level does not count."""
    pytest.importorskip("speechmos")
    from speechmos import dnsmos as model

    from bench import naturalness

    seen = []

    def fake_run(audio, sr):
        seen.append((audio.copy(), sr))
        index = len(seen)
        return {"ovrl_mos": float(index), "sig_mos": 2.0 * index, "bak_mos": 10.0 + index, "p808_mos": 0.0}

    monkeypatch.setattr(model, "run", fake_run)
    clip = np.random.default_rng(3).standard_normal(16000) * 0.3
    scores = naturalness.dnsmos(clip)
    assert scores == pytest.approx({"ovrl": 2.5, "sig": 5.0, "bak": 12.5})
    assert [sr for _, sr in seen] == [16000] * 4
    level = naturalness.scaled_to_rms(clip)
    assert 20 * np.log10(np.sqrt(np.mean(level ** 2))) == pytest.approx(-25.0, abs=0.01)
    for (audio, _), delay in zip(seen, (0, 5, 11, 16)):
        assert len(audio) == len(clip) and not audio[:delay].any()
        np.testing.assert_allclose(audio[delay:], level[: len(clip) - delay], atol=1e-6)
    seen.clear()
    assert naturalness.dnsmos(clip * 0.01) == pytest.approx(scores)
