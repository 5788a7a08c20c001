"""Matching a reference: a known EQ and gain is recovered, the knobs do what they say, bad
files are refused in one line, and the style is exact (export parity, streaming)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch", reason="matching needs the train extra")
pytest.importorskip("pyloudnorm", reason="matching needs the train extra")

from scipy import signal as sps  # noqa: E402

from models import match as m  # noqa: E402
from models.export import export_style  # noqa: E402
from models.match_run import band_levels_db, train_match  # noqa: E402
from realtime.engine.runner import StyleRunner  # noqa: E402
from realtime.format.style import load_style  # noqa: E402
from realtime.offline.validate import run_blocks  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "realtime" / "live" / "demo.flac"


def biquad(kind: str, freq: float, gain_db: float, q: float = 0.707) -> tuple[np.ndarray, np.ndarray]:
    """RBJ cookbook peaking / high-shelf at 48 kHz."""
    a = 10 ** (gain_db / 40)
    w = 2 * np.pi * freq / m.RATE
    alpha = np.sin(w) / (2 * q)
    cos = np.cos(w)
    if kind == "peak":
        b = [1 + alpha * a, -2 * cos, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos, 1 - alpha / a]
    else:
        s = 2 * np.sqrt(a) * alpha
        b = [a * ((a + 1) + (a - 1) * cos + s), -2 * a * ((a - 1) + (a + 1) * cos), a * ((a + 1) + (a - 1) * cos - s)]
        den = [(a + 1) - (a - 1) * cos + s, 2 * ((a - 1) - (a + 1) * cos), (a + 1) - (a - 1) * cos - s]
    return np.array(b) / den[0], np.array(den) / den[0]


KNOWN_EQ = (("shelf", 4000, 6.0, 0.707), ("peak", 300, -4.0, 1.0))


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    """The demo clip, and a reference made from it with a known EQ and +3 dB."""
    folder = tmp_path_factory.mktemp("match")
    source, rate = sf.read(DEMO, dtype="float64")
    assert rate == m.RATE
    reference = source.copy()
    for kind, freq, gain, q in KNOWN_EQ:
        b, a = biquad(kind, freq, gain, q)
        reference = sps.lfilter(b, a, reference)
    reference *= 10 ** (3 / 20)
    reference *= 0.9 / max(0.9, np.abs(reference).max())  # never clipped
    sf.write(folder / "source.wav", source, rate, subtype="FLOAT")
    sf.write(folder / "reference.wav", reference, rate, subtype="FLOAT")
    report = train_match([str(folder / "reference.wav")], str(folder / "source.wav"), "known", folder)
    return folder, source, reference, report


def test_a_known_eq_and_gain_is_recovered(known):
    folder, source, reference, report = known
    runner = StyleRunner(load_style(folder / "known.onnx"), max_frames=len(source))
    out = run_blocks(runner, source[None, :].astype(np.float32), 4096)[0].astype(np.float64)
    bands = band_levels_db(out) - band_levels_db(reference)
    assert np.abs(bands - bands.mean()).max() <= 1.0, bands.round(2)
    assert abs(m.loudness_lufs(out) - m.loudness_lufs(reference)) <= 0.5
    before = band_levels_db(source) - band_levels_db(reference)
    assert np.abs(before - before.mean()).max() > 3.0  # the test has something to recover
    fit = report["fit"]
    assert fit["ratio"] == 1.0 and fit["drive_k"] == 0.0 and fit["peak_threshold_db"] is None  # no dynamics, drive or peak stage
    assert fit["wet"] == 0.0  # nor reverb
    assert report["torch_vs_onnx_max_abs"] <= 1e-4 and report["stream_vs_call_max_abs"] <= 1e-5
    assert (folder / "known.json").exists() and (folder / "known.png").stat().st_size > 10_000
    saved = json.loads((folder / "known.json").read_text())
    assert saved["after"]["band_error_db_max"] < saved["before"]["band_error_db_max"]


def test_amount_zero_is_bit_transparent_and_the_style_has_no_latency(known):
    folder, source, _, _ = known
    style = load_style(folder / "known.onnx")
    assert style.manifest.latency_samples == 0 and [p.name for p in style.manifest.params] == list(m.KNOBS)
    runner = StyleRunner(style, max_frames=48000)
    runner.set_params([0.0] + [1.0] * (len(m.KNOBS) - 1))
    x = source[48000:96000][None, :].astype(np.float32)
    assert np.abs(run_blocks(runner, x, 128) - x).max() <= 1e-6


def test_each_aspect_knob_at_zero_removes_only_its_aspect():
    fir = m.minimum_phase_fir(np.array([0.0, 1000.0, 24000.0]), np.array([-6.0, 0.0, 6.0]))
    settings = dict(threshold_db=-30.0, ratio=4.0, makeup_db=3.0, drive_k=3.0, gain_db=2.0, peak_threshold_db=-12.0,
                    rt60_s=0.8, wet=0.1)
    full = m.MatchStyle(fir, **settings).eval()
    without = {
        1: m.MatchStyle(None, **settings),
        2: m.MatchStyle(fir, **{**settings, "ratio": 1.0, "makeup_db": 0.0, "peak_threshold_db": None}),
        3: m.MatchStyle(fir, **{**settings, "drive_k": 0.0}),
        4: m.MatchStyle(fir, **{**settings, "wet": 0.0}),
    }
    assert sorted(without) == list(range(1, len(m.KNOBS)))  # every aspect knob
    x = torch.from_numpy(np.random.default_rng(0).uniform(-0.5, 0.5, (1, 1, 9600)).astype(np.float32))
    ones = torch.ones(1, len(m.KNOBS))
    with torch.no_grad():
        for knob, reference in without.items():
            params = ones.clone()
            params[0, knob] = 0.0
            assert torch.abs(full(x, params) - reference.eval()(x, ones)).max() <= 1e-5, m.KNOBS[knob]
            assert torch.abs(full(x, params) - full(x, ones)).max() > 1e-3  # the aspect did something


def test_a_reference_with_tamer_peaks_gets_half_its_crest_factor_gap_closed(known):
    """A reference whose highest peaks were bent down (crest factor several dB lower, the spectrum
    and level alike): the fit adds the peak stage, which closes PEAK_SHARE of the gap and leaves
    the rest of the signal alone."""
    _, source, _, _ = known
    source = source[: 20 * m.RATE]
    threshold = 10 ** (-6 / 20) * np.abs(source).max()
    reference = np.clip(source, -threshold, threshold)  # the peaks: a few milliseconds in all
    reference = 0.5 * (reference + sps.lfilter([0.5, 0.5], [1.0], reference))  # no flat tops for the refusal
    gap = m.crest_factor_db(source) - m.crest_factor_db(reference)
    assert gap > 3.0
    fit = m.fit_match([reference], source)
    assert fit.peak_threshold_db is not None and fit.ratio < 1.5 and fit.drive_k == 0.0
    shaped = fit.apply(source)
    closed = (m.crest_factor_db(source) - m.crest_factor_db(shaped)) / gap
    assert abs(closed - m.PEAK_SHARE) <= 0.1, closed
    without = dataclasses.replace(fit, peak_threshold_db=None).apply(source)
    touched = np.abs(shaped - without) > 1e-9
    assert 0 < touched.mean() < 0.02, touched.mean()  # the highest peaks only (the reference bent 0.5% of samples)
    style = m.style_from_fit(fit)
    with torch.no_grad():
        streamed = style(torch.from_numpy(source.astype(np.float32))[None, None], torch.ones(1, len(m.KNOBS)))[0, 0].double().numpy()
    assert np.abs(streamed - shaped).max() < 1e-3


def run_cli(*argv: str) -> tuple[int, str, str]:
    result = subprocess.run([sys.executable, "-m", "realtime.cli", *argv], capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout, result.stderr


def test_bad_references_and_outputs_are_refused_in_one_line(known, tmp_path):
    folder = known[0]
    rng = np.random.default_rng(1)
    sf.write(tmp_path / "silent.wav", np.zeros(6 * 48000), 48000)
    sf.write(tmp_path / "short.wav", 0.1 * rng.standard_normal(3 * 48000), 48000)
    clipped = np.clip(2 * rng.standard_normal(6 * 48000), -1, 1)
    sf.write(tmp_path / "clipped.wav", clipped, 48000)
    (tmp_path / "garbage.wav").write_bytes(b"RIFF....not audio")
    cases = {
        "silent.wav": "is silent", "short.wav": "3.0 s long; at least 5 s", "clipped.wav": "is clipped",
        "garbage.wav": "cannot read the reference", "missing.wav": "no such reference file",
    }
    for name, fragment in cases.items():
        code, out, err = run_cli("train", "match", "--reference", str(tmp_path / name), "--name", "x", "--out", str(tmp_path))
        assert code == 2, (name, out, err)
        assert fragment in err and str(tmp_path / name) in err and len(err.strip().splitlines()) == 1, err
    code, _, err = run_cli("train", "match", "--reference", str(folder / "reference.wav"), "--name", "known",
                           "--out", str(folder))
    assert code == 2 and "known.onnx: already exists" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "taken.wav").write_bytes(b"mine")
    code, _, err = run_cli("match", str(folder / "source.wav"), str(folder / "reference.wav"), str(tmp_path / "taken.wav"))
    assert code == 2 and "taken.wav: already exists" in err
    assert (tmp_path / "taken.wav").read_bytes() == b"mine"


def test_match_renders_the_source_toward_the_reference(known, tmp_path):
    folder, source, reference, _ = known
    out = tmp_path / "matched.wav"
    code, stdout, err = run_cli("match", str(folder / "source.wav"), str(folder / "reference.wav"), str(out),
                                "--amount", "1")
    assert code == 0, err
    matched, rate = sf.read(out, dtype="float64")
    assert rate == 48000 and len(matched) == len(source)
    bands = band_levels_db(matched) - band_levels_db(reference)
    assert np.abs(bands - bands.mean()).max() <= 1.0
    code, _, err = run_cli("match", str(folder / "source.wav"), str(folder / "reference.wav"), str(tmp_path / "none.wav"),
                           "--amount", "0")
    assert code == 0, err
    untouched, _ = sf.read(tmp_path / "none.wav", dtype="float64")
    assert np.abs(untouched - source).max() < 1e-6


def test_same_performance_is_told_from_other_content(known):
    """A processed copy of the source (EQ, gain) is the same performance; the other half of the
    clip is not, and neither is the first half against the second through the same EQ."""
    _, source, reference, _ = known
    half = len(source) // 2
    assert m.same_content(source, reference)
    assert m.same_content(source[:half], reference[:half] * 0.5)
    assert not m.same_content(source[:half], reference[half:])
    assert not m.same_content(source[:half], source[half:])


def test_an_eq_from_other_content_is_shrunk_where_the_content_varies(known):
    """Fitting the first half of the demo to the EQ'd second half: the raw spectral difference
    holds both the known EQ and the two halves' different content; the fitted curve keeps the
    known EQ's shape (treble up against 300 Hz) and is nearer the known EQ than the raw
    difference is (measured, 100 Hz-10 kHz, levels aside: 3.5 dB against 4.9)."""
    _, source, reference, _ = known
    half = len(source) // 2
    freqs, fitted = m.eq_curve_db(source[:half], [reference[half:]])
    shrink = m.SHRINK
    try:
        m.SHRINK = 0.0
        _, raw = m.eq_curve_db(source[:half], [reference[half:]])
    finally:
        m.SHRINK = shrink
    response = np.ones(len(freqs), complex)
    for kind, freq, gain, q in KNOWN_EQ:
        response *= sps.freqz(*biquad(kind, freq, gain, q), worN=freqs, fs=m.RATE)[1]
    band = (freqs >= 100) & (freqs <= 10000)

    def error_db(curve):
        miss = (curve - 20 * np.log10(np.abs(response)))[band]
        return np.sqrt(np.mean((miss - miss.mean()) ** 2))

    assert error_db(fitted) < 0.8 * error_db(raw), (error_db(fitted), error_db(raw))
    treble = fitted[(freqs >= 6000) & (freqs <= 10000)].mean()
    low_mid = fitted[(freqs >= 250) & (freqs <= 350)].mean()
    assert treble - low_mid > 4.0, (treble, low_mid)


def test_a_saturated_reference_gets_drive_and_a_clean_one_does_not(known):
    """A reference that is the source through a tanh (its loudest samples squashed, its spectrum
    filled between partials) gets the drive stage, which brings the source's flatness and
    top-to-RMS ratio toward the reference's; the known-EQ reference (no saturation) gets none."""
    _, source, _, report = known
    source = source[: 20 * m.RATE]
    scale = 4.0 / np.percentile(np.abs(source), 99.9)
    reference = 0.5 * np.tanh(scale * source) / np.tanh(4.0)
    fit = m.fit_match([reference], source)
    assert fit.drive_k > 0.0
    out = fit.apply(source)
    for cue in (m.flatness_db, m.top_to_rms_db):
        assert abs(cue(out) - cue(reference)) < 0.5 * abs(cue(source) - cue(reference)), cue.__name__
    assert report["fit"]["drive_k"] == 0.0


def test_a_wetter_reference_gets_a_reverb_and_its_tail_streams_exactly(known, tmp_path):
    """A reference that is the source with a reverb's tail (1.2 s, the tail 6 dB under the dry
    signal) falls more slowly after every sound: the fit adds the space stage, which slows the
    source's steepest falls toward the reference's; the known-EQ reference (dry) gets none. The
    style's tail, streamed in odd blocks, is the numpy chain's, and its ONNX export passes the
    export's parity checks."""
    from models import space

    _, source, _, report = known
    source = source[: 20 * m.RATE]
    tail = space.reverb(source, 1.2)
    reference = source + 0.5 * tail * m.rms(source) / m.rms(tail)
    fit = m.fit_match([reference], source)
    assert fit.wet > 0.0 and fit.drive_k == 0.0
    out = fit.apply(source)
    before = m.level_fall_db_per_s(reference, 3) - m.level_fall_db_per_s(source, 3)
    after = m.level_fall_db_per_s(reference, 3) - m.level_fall_db_per_s(out, 3)
    assert before >= m.SPACE_MIN_DB_PER_S and after < 0.75 * before, (before, after)
    assert report["fit"]["wet"] == 0.0
    style = m.style_from_fit(fit)
    x = torch.from_numpy(source[: 3 * m.RATE].astype(np.float32))[None, None]
    params = torch.ones(1, len(m.KNOBS))
    with torch.no_grad():
        states = style.initial_state()
        blocks = []
        for start in range(0, x.shape[2], 4410):
            y, *states = style.step(x[:, :, start:start + 4410], params, *states)
            blocks.append(y)
    streamed = torch.cat(blocks, dim=2)[0, 0].double().numpy()
    assert np.abs(streamed - fit.apply(source[: 3 * m.RATE])).max() < 1e-4
    exported = export_style(style, m.manifest_for("wet", fit, ["reference.wav"], "source.wav"), tmp_path / "wet.onnx")
    assert exported.torch_vs_onnx_max_abs <= 1e-4 and exported.stream_vs_call_max_abs <= 1e-5, exported
    dry = m.style_from_fit(dataclasses.replace(fit, wet=0.0))
    assert len(dry.initial_state()) == len(style.initial_state()) - 2  # no reverb in a graph that has none


def test_the_match_benchmark_counts_wins_over_matchering_overall_and_per_metric():
    """bench/match.py's summary: an item counts as won when StyleRack's error is lower on at
    least 4 of the 5 metrics; the per-metric shares count each metric alone; an item whose
    Matchering run failed is left out of both."""
    from bench import match as bench

    ones = {metric: 1.0 for metric in bench.METRICS}

    def item(lower: tuple[str, ...]) -> dict:
        ours = {metric: 0.5 if metric in lower else 2.0 for metric in bench.METRICS}
        return {"group": "eq+dynamics", "fit_seconds": 0.1, "stylerack": ours, "matchering": dict(ones),
                **{system: dict(ones) for system in ("untreated", "reference level", "reference itself")}}

    rows = [item(("mrstft", "centroid_hz", "rms_db", "crest_db")),  # won: 4 of 5
            item(("mrstft", "centroid_hz", "rms_db")),  # lost: 3 of 5
            item(("mrstft",)), item(("mrstft", "loudness_lu"))]
    failed = item(bench.METRICS)
    del failed["matchering"]
    failed["matchering_error"] = "refused"
    entry = bench.summarise([*rows, failed])["eq+dynamics"]
    assert entry["stylerack_beats_matchering_on_4_of_5"] == pytest.approx(0.25)
    per_metric = entry["stylerack_beats_matchering_per_metric"]
    assert per_metric == pytest.approx({"mrstft": 1.0, "centroid_hz": 0.5, "rms_db": 0.5, "crest_db": 0.25, "loudness_lu": 0.25})
    assert entry["matchering_failures"] == 1 and entry["items"] == 5
    assert "loudness 25%" in bench.table(bench.summarise(rows))


def test_the_match_benchmark_centroid_is_deepafx_st_s_mean_over_frames():
    """bench/match.py's centroid is DeepAFx-ST's: each 2048-point STFT frame's centroid
    (torchaudio's SpectralCentroid: centred, reflected, periodic Hann, magnitude), averaged with
    every frame counted alike. Checked against the same thing written with torch.stft, and on a
    clip that is half a 1 kHz tone, half silence: its centroid is half the tone's (a whole-clip
    spectrum would still say 1 kHz)."""
    torch = pytest.importorskip("torch")
    from bench import match as bench

    rng = np.random.default_rng(4)
    x = np.concatenate([0.3 * rng.standard_normal(30000), 0.001 * rng.standard_normal(20000)])
    x = np.convolve(x, [1.0, 0.9], mode="same")  # a low tilt, so the centroid is not Nyquist / 2
    frames = torch.stft(torch.from_numpy(x + 1e-16), 2048, hop_length=512, window=torch.hann_window(2048, dtype=torch.float64),
                        center=True, pad_mode="reflect", return_complex=True).abs()
    freqs = torch.linspace(0, bench.RATE // 2, 1025, dtype=torch.float64)[:, None]
    expected = float(((frames * freqs).sum(0) / frames.sum(0)).mean())
    assert bench.centroid_hz(x) == pytest.approx(expected, rel=1e-9)

    t = np.arange(2 * bench.RATE) / bench.RATE
    tone = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    half = tone.copy()
    half[bench.RATE:] = 0.0
    assert bench.centroid_hz(tone) == pytest.approx(1000.0, rel=0.02)
    assert bench.centroid_hz(half) == pytest.approx(0.5 * bench.centroid_hz(tone), rel=0.05)


def test_the_window_knows_which_files_matching_writes():
    """The window (which never imports models) asks before replacing the files of
    ``train match``; its list must be the trainer's."""
    from gui.controller import MATCH_FILES as WINDOW_LIST
    from models.match_run import MATCH_FILES

    assert WINDOW_LIST == MATCH_FILES
